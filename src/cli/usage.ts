/**
 * The CLI's usage texts, kept apart from the commands so that `jobbert --help`
 * and a command's usage load none of them (each command module is imported
 * only when it runs).
 */

export const NORMALIZE_USAGE = `  normalize [TITLE...] [--input FILE] [--output FILE] [--format jsonl|csv] [--bom] [--column NAME]
        [--input-format jsonl|csv|tsv|lines] [--input-encoding utf-8|windows-1252|…] [--k 5] [--lang L]
        [--output-lang en|de|es] [--examples FILE]
        [--threshold X] [--model DIR] [--calibration FILE] [--taxonomy DIR] [--chunk 2048] [--strict] [--fast] [--json]
                       vacancy titles → ESCO occupations (ISCO code, calibrated confidence, k alternatives);
                       --input streams JSON Lines {"id"?, "title"}, CSV/TSV with a header (--column names
                       the title column) or one title a line (.txt); - reads stdin; gzip is read as it is.
                       Results go to --output (default stdout): JSON Lines, or CSV with --format csv or a
                       name ending .csv (--bom: with a byte-order mark, for Excel); .gz compresses. Bad rows
                       are reported with their line and skipped unless --strict. --fast searches only the
                       label lists nearest each title: ~45% less CPU, the same accuracy, but some titles
                       get other alternatives (README, "Fast search")
  calibrate --titles FILE --out FILE [--svg FILE] [--model DIR] [--taxonomy DIR] [--precision 0.8] [--seed 42] [--json]
                       fit the confidence calibration of a model other than the built-in one (retrained,
                       JobBERT-V3) from titles labelled with ESCO URIs, as --examples takes them; then pass
                       --calibration FILE to normalize, serve and worker; --svg: its reliability diagram
  adapt --examples FILE --out DIR [--model DIR] [--taxonomy DIR] [--epochs 2] [--lr 0.002] [--rounds 3] [--seed 42]
        [--hold-out SHARE] [--json]
                       train the built-in model (or the LiteEncoder --model names) for a few seconds on titles
                       labelled with ESCO URIs, as --examples takes them, rehearsing ESCO's labels; then pass
                       --model DIR (and --examples) to normalize, serve and worker. --hold-out 0.2 keeps that
                       share out of training and fits the model's calibration on it (DIR/calibration.json)`;

export const MODEL_USAGE = `  download REPO [--cache-dir DIR] [--endpoint URL] [--revision R] [--onnx] [--refresh] [--json]
                       fetch a sentence-transformers model (e.g. TechWolf/JobBERT-v3) from the Hugging Face hub
                       into the cache (resumable, size- and hash-checked) and print its directory
  convert DIR [--precision fp32|int8] [--json]
                       convert DIR's model.safetensors to onnx/model.onnx (int8: onnx/model_quantized.onnx)
  encode TEXT... [--model DIR|REPO] [--branch anchor|positive|base] [--precision fp32|int8] [--json]
                       print each text's L2-normalised vector as a JSON array (--json: one object), with the
                       built-in model unless --model names one; --precision is for a JobBERT model`;

export const TRAIN_USAGE = `  train [--model DIR] [--encoder jobbert|lite] --data FILE --out DIR [--epochs N] [--batch-size N] [--lr X]
        [--weight-decay X] [--warmup-steps N] [--scale X] [--symmetric] [--seed N] [--device cpu|cuda|auto]
        [--checkpoint-every N] [--keep-checkpoints 2] [--resume] [--validation DIR] [--validate-every N]
        [--min-skills N] [--max-grad-norm X] [--cache-dir DIR] [--keep-duplicates] [--json]
                       train the Asym heads of --model (a sentence-transformers model such as JobBERT-v3) on JSON Lines
                       pairs {"anchor", "positive", "lang"?, "negative"?, "group"?} with InfoNCE (pairs of one group never
                       share a batch); writes a sentence-transformers model, checkpoints and loss.svg to --out.
                       --encoder lite trains a LiteEncoder end to end instead (embedding table and heads): a new one,
                       or the LiteEncoder that --model names; --validation, --validate-every, --min-skills,
                       --max-grad-norm and --cache-dir are for JobBERT only. Exact duplicate pairs are dropped
                       unless --keep-duplicates`;

export const SERVE_USAGE = `  serve [--index FILE] [--skills FILE] [--model DIR] [--calibration FILE] [--taxonomy DIR] [--examples FILE]
        [--host 127.0.0.1] [--port 8080] [--token T] [--json]
        [--max-batch 64] [--max-wait-ms 2] [--max-queue 8192] [--no-batching] [--max-body-bytes 1048576]
        [--max-queries 256] [--max-inputs 2048] [--max-text-length 512] [--max-k 1000] [--max-results 65536]
        [--request-timeout-ms 30000] [--write-timeout-ms 30000] [--shutdown-timeout-ms 10000] [--idle-release-ms 2000]
        [--gzip] [--fast]
                       an HTTP JSON service: POST /v1/normalize, /v1/match, /v1/encode, /v1/skills, /v1/embeddings (OpenAI's API);
                       GET /healthz, /metrics, /openapi.json. --index is an index made by
                       'jobbert index build' (default: the built-in catalogue, encoded with --model or the
                       built-in model). --skills enables /v1/skills
                       (JSON Lines {"id", "name", "aliases"?}). /v1/normalize maps titles to the built-in
                       ESCO with the built-in model; --model, --calibration, --taxonomy and --examples
                       change them (as in 'jobbert normalize', --fast too). --port 0 picks a free port.
                       --token (or JOBBERT_TOKEN) requires 'Authorization: Bearer T' on /v1/* and
                       /metrics. --write-timeout-ms cuts a client that takes no part of its
                       response for that long. --gzip compresses bodies of 1 KiB or more for clients that
                       send 'Accept-Encoding: gzip'. --idle-release-ms: after that long with no request, memory a
                       burst left behind goes back to the system (0: never). Stops gracefully on SIGTERM or SIGINT,
                       and, started by npm (npx, npm start), once npm has exited.
  serve --nats URL --index-name NAME [--router | --shard I] [options above]
                       serve an index published with 'jobbert index publish', swapping in each new
                       version without failing requests; --shard I answers shard I's searches over NATS
                       (no HTTP, so it takes no other option but --json); --router answers the HTTP API
                       from every shard's exact top-k.`;

export const CLUSTER_USAGE = `  worker --nats URL [--model DIR] [--calibration FILE] [--examples FILE] [--taxonomy DIR] [--fast]
         [--tasks encode,normalize] [--threads N] [--batch-size N] [--ack-wait-ms 30000]
         [--max-attempts 3] [--shutdown-timeout-ms 30000] [--concurrency 1] [--json]
                       run chunks of batch jobs from NATS JetStream until SIGTERM/SIGINT (then finish or
                       hand back the chunks in hand; --concurrency: how many at once, so that one's search
                       overlaps another's formatting and storing). --model: a JobBERT or LiteEncoder dir
                       (default: built-in);
                       --calibration/--examples/--taxonomy/--fast: the Normalizer, as in 'jobbert normalize'
  batch encode|normalize --nats URL --input FILE --output FILE [--model DIR] [--chunk 1000] [--job NAME]
         [--column NAME] [--json]; encode: [--branch anchor|positive|base];
         normalize: [--k 5] [--lang L] [--output-lang L] [--examples FILE] [--taxonomy DIR] [--calibration FILE]
                    [--threshold X] [--fast]
                       a distributed batch: chunks go to the workers (which need the same model, examples,
                       taxonomy, calibration and --fast; --threshold is the job's own), the output is written in input order as the single-process
                       command writes it (encode: a JSON array a row; normalize: JSON Lines; .gz compresses); rerun after a
                       crash to resume. FILE: one title per line, JSON Lines {"id"?, "title"}, or CSV/TSV
  batch list --nats URL [--json]
                       the batch jobs the broker holds (a job that finished cleanly leaves none): each
                       one's task, state (running, stopped: a rerun resumes it, finished), chunks done,
                       failed and queued, and the bytes its results take
  batch remove --nats URL --job NAME [--json]
                       delete a job from the broker: its queued chunks and its store (results, settings);
                       refused while its submitter runs (ERR_BUSY); safe while workers run (one holding
                       a chunk of it drops it). An unknown NAME is ERR_NOT_FOUND
  index publish FILE --nats URL --name NAME [--shards N] [--json]
                       store an index file in the NATS object store as NAME's newest version (replicas
                       started with serve --nats URL --index-name NAME switch to it); --shards N splits it
                       by id hash for serve --shard I / --router`;

export const USAGE = `Usage: jobbert <command> [options]

Commands:
${NORMALIZE_USAGE}
  demo [--k 3] [--json]
                       match a few titles in en/de/es/zh against the built-in catalogue
  match QUERY... [--index FILE | --corpus FILE | --esco DIR] [--k 5] [--lang L] [--json]
                       the best entries for each query (default: the built-in catalogue
                       and the default model); --corpus takes --id-column/--text-column and
                       --encoder lite|tfidf, --dim N, --model DIR; --index takes --model DIR
  index build --input FILE --out FILE [--lang L] [--id-column NAME] [--text-column NAME] [--json]
                       encode entries (TSV or CSV with a header: id, text[, lang]; or JSON Lines) and save an index
  index search FILE QUERY... [--k 10] [--lang L] [--model DIR] [--json]
                       search a saved index (--model: the JobBERT model it was built with)
  eval talentclef-a --data DIR [--lang en] [--run FILE] [--json]
                       TalentCLEF 2025 Task A metrics (MAP, MRR, nDCG, P@k), optionally writing a TREC run
  eval talentclef-a --queries DIR --corpus DIR --qrels FILE [--run FILE] [--json]
                       the same for a cross-lingual pair (queries from one folder, corpus from another)
${MODEL_USAGE}
${TRAIN_USAGE}
${SERVE_USAGE}
${CLUSTER_USAGE}
  info [--json]        the native backends, CPU instruction set and threads in use
  help [COMMAND]       this text, or one command's (also: jobbert COMMAND --help)

Encoders (index build, match --corpus, eval): --encoder lite (the built-in model, the
default) | tfidf (character n-gram TF-IDF fitted on the corpus), or --model DIR (a
JobBERT-V3 / sentence-transformers or LiteEncoder directory). Options: --version`;

/**
 * The usage of one command: its entries in USAGE (every `index …` form for
 * `index`), with the paragraph on encoders for the commands that take one;
 * null for a command it does not know.
 */
export function commandUsage(command: string): string | null {
  const lines = USAGE.split('\n');
  const entries: string[] = [];
  let inEntry = false;
  for (const line of lines) {
    const head = /^ {2}(\S+)/.exec(line);
    if (head) inEntry = head[1] === command;
    else if (!/^ {3,}/.test(line)) inEntry = false;
    if (inEntry) entries.push(line);
  }
  if (entries.length === 0) return null;
  const encoders = ['index', 'match', 'eval'].includes(command) ? `\n\n${USAGE.slice(USAGE.indexOf('Encoders ('))}` : '';
  return `Usage: jobbert ${command} [options]\n\n${entries.join('\n')}${encoders}`;
}
