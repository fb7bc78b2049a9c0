/** The CLI's matching commands: index build|search, match, eval talentclef-a. */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Encoder } from '../encoders/encoder.js';
import { MatchIndex, type MatchEntry, type MatchResult } from '../match/match-index.js';
import { loadIndexWithEncoder } from '../serve/load.js';
import { evaluateTaskA, PUBLISHED } from '../eval/talentclef.js';
import { LiteEncoder } from '../lite/encoder.js';
import { TfIdfEncoder } from '../encoders/tfidf.js';
import { loadTalentCLEFPair, loadTalentCLEFTaskA, writeRun, type TalentCLEFTaskA } from '../eval/trec.js';
import { parseArgs, UsageError } from './args.js';
import { modelEncoder } from './model.js';
import { checkOutput, refuseSameFile } from './files.js';
import { JobBERTError } from '../errors.js';
import { readEntries, type EntryColumns } from './entries.js';
import { matchDefault } from '../match/default-index.js';

type Out = (line: string) => void;

/**
 * The encoder the options name: `--model DIR` (a LiteEncoder dir, holding
 * lite.json, or a sentence-transformers JobBERT dir), else `--encoder lite`
 * (the built-in model, the default) or `--encoder tfidf` (fitted on `texts`).
 */
async function corpusEncoder(options: Record<string, unknown>, texts: string[]): Promise<Encoder> {
  const model = options.model as string | undefined;
  if (model) return modelEncoder(model);
  const kind = (options.encoder as string | undefined) ?? 'lite';
  if (kind === 'lite') return LiteEncoder.load();
  if (kind === 'tfidf') return TfIdfEncoder.fit(texts, { dim: (options.dim as number | undefined) ?? 4096 });
  throw new UsageError(`--encoder must be 'lite' or 'tfidf' (or give --model DIR); received '${kind}'`);
}

/**
 * The index file `path`, with the model `--model DIR` names as its encoder,
 * else the encoder saved in it, as `jobbert serve` loads it (a JobBERT one
 * from the model folder the index records). Async.
 */
async function openIndex(path: string, model: string | undefined): Promise<{ index: MatchIndex; dispose(): Promise<void> }> {
  let index: MatchIndex;
  let encoder: Encoder;
  if (model) {
    const given = await corpusEncoder({ model }, []);
    index = await MatchIndex.load(path, given).catch(async (e: unknown) => {
      await given.dispose();
      throw e;
    });
    encoder = given;
  } else {
    // Refused before its vectors are read.
    ({ index, encoder } = await loadIndexWithEncoder(path, { requireEncoder: true }).catch((e: unknown) => {
      if ((e as JobBERTError).code !== 'ERR_NO_ENCODER') throw e;
      throw new JobBERTError('ERR_NO_ENCODER', `${(e as Error).message}; give the model it was built with: --model DIR`, { cause: e });
    }));
  }
  const used = encoder;
  return {
    index,
    async dispose() {
      await index.dispose();
      await used.dispose();
    },
  };
}

/** The entry file's columns that --id-column and --text-column name. */
function entryColumns(options: Record<string, unknown>): EntryColumns {
  return { id: options.idColumn as string | undefined, text: options.textColumn as string | undefined };
}

function encoderName(options: Record<string, unknown>): string {
  return options.model ? basename(resolve(options.model as string)) : ((options.encoder as string | undefined) ?? 'lite');
}

function printResults(out: Out, queries: string[], results: MatchResult[][]): void {
  queries.forEach((q, i) => {
    out(`${q}`);
    results[i].forEach((r, j) => out(`  ${String(j + 1).padStart(3)}  ${r.score.toFixed(4)}  ${r.text}  [${r.id}]`));
    if (results[i].length === 0) out('  (no entries)');
  });
}

/** `jobbert index build --input FILE --out FILE` and `jobbert index search FILE QUERY...`. */
export async function indexCommand(argv: string[], out: Out): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'build') {
    const { options, positionals } = parseArgs(rest, {
      options: {
        input: 'string',
        out: 'string',
        encoder: 'string',
        model: 'string',
        dim: 'integer',
        lang: 'string',
        'id-column': 'string',
        'text-column': 'string',
        json: 'boolean',
      },
    });
    if (positionals.length) throw new UsageError(`index build takes no positional arguments; received '${positionals[0]}'`);
    if (!options.input || !options.out) throw new UsageError('index build needs --input FILE and --out FILE');
    checkOutput('out', options.out as string);
    refuseSameFile('out', options.out as string, { input: options.input });
    const entries = await readEntries(options.input as string, options.lang as string | undefined, entryColumns(options));
    const t0 = performance.now();
    const encoder = await corpusEncoder(
      options,
      entries.map((e) => e.text),
    );
    const index = await MatchIndex.build(encoder, entries);
    await index.save(options.out as string);
    const seconds = (performance.now() - t0) / 1000;
    if (options.json) out(JSON.stringify({ out: options.out, entries: index.size, dim: index.dim, languages: index.languages, seconds }));
    else
      out(
        `indexed ${index.size} entries (${index.dim}-d, languages: ${index.languages.map((l) => l || '-').join(', ')}) into ${options.out} in ${seconds.toFixed(2)} s`,
      );
    await index.dispose();
    return 0;
  }
  if (sub === 'search') {
    const { options, positionals } = parseArgs(rest, { options: { k: 'integer', lang: 'string', model: 'string', json: 'boolean' } });
    const [path, ...queries] = positionals;
    if (!path || queries.length === 0) throw new UsageError('index search needs an index file and at least one query');
    const { index, dispose } = await openIndex(path, options.model as string | undefined);
    try {
      checkLang(index, options.lang);
      const results = await index.search(queries, { k: (options.k as number | undefined) ?? 10, lang: options.lang as string | undefined });
      if (options.json) out(JSON.stringify({ results }));
      else printResults(out, queries, results);
    } finally {
      await dispose();
    }
    return 0;
  }
  throw new UsageError(`index needs 'build' or 'search'; received ${sub === undefined ? 'nothing' : `'${sub}'`}`);
}

/** `--lang` must name a language the index holds: an unknown one would match nothing, silently. */
function checkLang(index: MatchIndex, lang: unknown): void {
  const known = index.languages.filter((l) => l !== '');
  if (lang !== undefined && !known.includes(lang as string))
    throw new UsageError(
      `--lang must be ${known.length ? `one of the index's languages (${known.join(', ')})` : 'omitted: the index has no language tags'}; received '${lang as string}'`,
    );
}

/**
 * `jobbert match QUERY... [--index FILE | --corpus FILE | --esco DIR]`: with no
 * index or corpus, the built-in catalogue (or ESCO) with the default model.
 */
export async function matchCommand(argv: string[], out: Out): Promise<number> {
  const { options, positionals } = parseArgs(argv, {
    options: {
      index: 'string',
      corpus: 'string',
      esco: 'string',
      encoder: 'string',
      model: 'string',
      dim: 'integer',
      k: 'integer',
      lang: 'string',
      'id-column': 'string',
      'text-column': 'string',
      json: 'boolean',
    },
  });
  if (positionals.length === 0) throw new UsageError('match needs at least one query');
  // Options that would be ignored are refused: one source of entries, and the encoder options only where they choose one.
  const sources = (['index', 'corpus', 'esco'] as const).filter((o) => options[o] !== undefined);
  if (sources.length > 1)
    throw new UsageError(`match takes one of --index, --corpus and --esco; received ${sources.map((o) => `--${o}`).join(' and ')}`);
  if (!options.corpus && (options.idColumn !== undefined || options.textColumn !== undefined))
    throw new UsageError('--id-column and --text-column name the columns of a --corpus FILE');
  const stray = (['encoder', 'dim', 'model'] as const).find(
    (o) => options[o] !== undefined && !(options.corpus || (options.index && o === 'model')),
  );
  if (stray)
    throw new UsageError(
      `--${stray} has no effect here: --encoder, --dim and --model choose the encoder of a --corpus (--model also gives an --index its model); the built-in catalogue and --esco use the built-in model`,
    );
  if (!options.index && !options.corpus) {
    const results = await matchDefault(positionals, {
      k: (options.k as number | undefined) ?? 5,
      lang: options.lang as string | undefined,
      esco: options.esco as string | undefined,
    });
    if (options.json) out(JSON.stringify({ results }));
    else printResults(out, positionals, results);
    return 0;
  }
  let index: MatchIndex;
  let dispose = async () => index.dispose();
  if (options.index) {
    ({ index, dispose } = await openIndex(options.index as string, options.model as string | undefined));
  } else if (options.corpus) {
    const entries: MatchEntry[] = await readEntries(options.corpus as string, undefined, entryColumns(options));
    index = await MatchIndex.build(
      await corpusEncoder(
        options,
        entries.map((e) => e.text),
      ),
      entries,
    );
  } else {
    throw new UsageError('match needs --index FILE or --corpus FILE');
  }
  try {
    checkLang(index, options.lang);
    const results = await index.search(positionals, {
      k: (options.k as number | undefined) ?? 5,
      lang: options.lang as string | undefined,
    });
    if (options.json) out(JSON.stringify({ results }));
    else printResults(out, positionals, results);
  } finally {
    await dispose();
  }
  return 0;
}

/**
 * The evaluation sets named by the options: `--data DIR` (one language folder,
 * or a folder of them, filtered by --lang), or a cross-lingual pair:
 * `--queries DIR --corpus DIR --qrels FILE` (queries from one folder, corpus
 * from another, judgments for that pair).
 */
async function evaluationSets(options: Record<string, unknown>): Promise<{ name: string; data: TalentCLEFTaskA }[]> {
  if (options.queries || options.corpus || options.qrels) {
    if (!options.queries || !options.corpus || !options.qrels)
      throw new UsageError('a cross-lingual evaluation needs --queries DIR, --corpus DIR and --qrels FILE together');
    if (options.data || options.lang)
      throw new UsageError(`--${options.data ? 'data' : 'lang'} is for one language's folders; --queries/--corpus/--qrels name a pair`);
    const data = await loadTalentCLEFPair(options.queries as string, options.corpus as string, options.qrels as string, 'eval');
    const name = `${basename(resolve(options.queries as string))}→${basename(resolve(options.corpus as string))}`;
    return [{ name, data }];
  }
  if (!options.data)
    throw new UsageError(
      'eval talentclef-a needs --data DIR (a folder holding en/, de/, ... or one language folder), or --queries/--corpus/--qrels',
    );
  const root = resolve(options.data as string);
  // DIR may be the validation folder (with language subfolders) or one language folder.
  if (existsSync(join(root, 'qrels.tsv'))) {
    // One language's folder: a --lang would be ignored (it evaluated en, asked for de).
    if (options.lang)
      throw new UsageError(`--lang picks language folders under --data; ${root} is one language's folder (it holds qrels.tsv)`);
    return [{ name: basename(root), data: await loadTalentCLEFTaskA(root) }];
  }
  const langs = (options.lang as string[] | undefined) ?? ['en', 'de', 'es', 'zh'].filter((l) => existsSync(join(root, l, 'qrels.tsv')));
  if (langs.length === 0) throw new UsageError(`no TalentCLEF Task A folders (with qrels.tsv) under ${root}`);
  const sets = [];
  for (const lang of langs) sets.push({ name: lang, data: await loadTalentCLEFTaskA(join(root, lang)) });
  return sets;
}

/** `jobbert eval talentclef-a --data DIR [--lang en] [--run FILE] [--json]`, or a cross-lingual pair. */
export async function evalCommand(argv: string[], out: Out): Promise<number> {
  const [task, ...rest] = argv;
  if (task !== 'talentclef-a')
    throw new UsageError(`eval supports 'talentclef-a'; received ${task === undefined ? 'nothing' : `'${task}'`}`);
  const { options, positionals } = parseArgs(rest, {
    options: {
      data: 'string',
      lang: 'string',
      queries: 'string',
      corpus: 'string',
      qrels: 'string',
      encoder: 'string',
      model: 'string',
      dim: 'integer',
      run: 'string',
      json: 'boolean',
    },
    repeatable: ['lang'],
  });
  if (positionals.length) throw new UsageError(`eval takes no positional arguments; received '${positionals[0]}'`);
  const sets = await evaluationSets(options);
  const runFile = (set: string) => (sets.length > 1 ? `${options.run}.${set}` : (options.run as string));
  if (options.run) for (const { name } of sets) checkOutput('run', runFile(name)); // before the evaluation, not after it
  const rows = [];
  for (const { name: lang, data } of sets) {
    const encoder = await corpusEncoder(
      options,
      data.corpus.map((c) => c.text),
    );
    const t0 = performance.now();
    const { metrics, run } = await evaluateTaskA(encoder, data).finally(() => encoder.dispose());
    const seconds = (performance.now() - t0) / 1000;
    if (options.run) await writeRun(runFile(lang), run, `jobbert-${encoderName(options)}`);
    rows.push({ lang, encoder: encoderName(options), ...metrics, seconds });
  }
  if (options.json) {
    out(JSON.stringify({ results: rows }));
    return 0;
  }
  out('set   encoder            MAP     MRR     nDCG    P@5     P@10    P@100   queries');
  const fmt = (v: number) => v.toFixed(4).padEnd(8);
  for (const r of rows) {
    out(
      `${r.lang.padEnd(6)}${r.encoder.padEnd(19)}${fmt(r.map)}${fmt(r.mrr)}${fmt(r.ndcg)}${fmt(r.p5)}${fmt(r.p10)}${fmt(r.p100)}${r.queries}`,
    );
    const paper = PUBLISHED[r.lang];
    if (paper)
      out(`${r.lang.padEnd(6)}${'JobBERT-V3 (paper)'.padEnd(19)}${fmt(paper.map)}${fmt(paper.mrr)}${fmt(paper.ndcg)}${fmt(paper.p5)}`);
  }
  return 0;
}
