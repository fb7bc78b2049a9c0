/**
 * Scale-out on a real nats-server (loopback, temporary store):
 *
 * 1. Batch throughput through NATS vs the local command, compute-bound:
 *    JobBERT at XLM-R base's shape (random weights), one onnxruntime thread per
 *    worker process; local = one process encoding the same titles with one
 *    thread. Peers: local single-thread (1 worker), 1 worker (2 workers).
 * 2. The same with the built-in LiteEncoder (broker-bound), with where the
 *    time goes (submitter: read, publish, wait, write; workers: model, store).
 * 3. serve --router over 3 shards vs one unsharded serve: POST /v1/match, one
 *    title, k = 10, 64 clients (autocannon).
 * 4. The same router with a second replica of shard 0, healthy, then frozen
 *    (SIGSTOP: it keeps its subscriptions and answers nothing), under the same load.
 *
 * Every process shares this machine's cores (2 here, shared with other work):
 * workers, broker, submitter and load generator compete, which the figures include.
 * Sizes: JOBBERT_BENCH_CLUSTER_TITLES (JobBERT, default 768; 0 skips it),
 * JOBBERT_BENCH_CLUSTER_LITE (default 100,000), JOBBERT_BENCH_CLUSTER_SECONDS (serve, default 8).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobBERT, LiteEncoder, MatchIndex, runBatch, type Encoder } from '../src/index.js';
import { rng } from '../src/util/random.js';
import { makeTinyModel } from '../test/fixtures/tiny-model.js';
import { startNats } from '../test/fixtures/nats.js';
import { printTable, ratio, type Row } from './common.js';
import { load } from './serve.js';

const BIN = join(import.meta.dirname, '..', 'src', 'bin.ts');
const WORDS = [
  'Senior',
  'Software',
  'Engineer',
  'Data',
  'Scientist',
  'Nurse',
  'Sales',
  'Manager',
  'Entwickler',
  'ingeniero',
  'Koch',
  'driver',
];

function titles(n: number, seed: number): string[] {
  const next = rng(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: 1 + Math.floor(next() * 5) }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' '),
  );
}

/** Every child started, killed if the bench fails. */
const children = new Set<ChildProcess>();

/** A CLI child; resolves once its first line matching `ready` is printed. */
async function child(args: string[], ready: RegExp): Promise<{ proc: ChildProcess; line: string; lines: string[] }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const lines: string[] = [];
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const on = (d: Buffer) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (ready.test(l)) resolve(l);
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${lines.slice(-5).join('\n')}`)));
  });
  return { proc, line, lines };
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

/** Local single-process throughput, then 1 and 2 workers through NATS; titles/s. */
async function batchRows(
  label: string,
  nats: string,
  work: string,
  list: string[],
  chunk: number,
  local: () => Promise<Encoder>,
  workerArgs: string[],
): Promise<Row[]> {
  const input = join(work, `${label}.txt`);
  await writeFile(input, `${list.join('\n')}\n`);
  const warm = join(work, `${label}-warm.txt`);
  await writeFile(warm, `${list.slice(0, 16).join('\n')}\n`);
  const encoder = await local();
  await encoder.encode(list.slice(0, 64)); // warm-up
  // The local command's work: encode, print each row as a JSON array (as jobbert encode does), write the file.
  let t0 = performance.now();
  const out: string[] = [];
  for (let i = 0; i < list.length; i += chunk) {
    const m = await encoder.encode(list.slice(i, i + chunk));
    for (let r = 0; r < m.rows; r++) out.push(JSON.stringify(Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols))));
  }
  await writeFile(join(work, `${label}-local.jsonl`), `${out.join('\n')}\n`);
  const localRate = list.length / ((performance.now() - t0) / 1000);
  out.length = 0;
  const fingerprint = encoder.fingerprint;
  await encoder.dispose();
  const rows: Row[] = [
    { setup: `${label}: local, 1 process, 1 thread`, 'titles/s': localRate, ratio: '', 'where the time goes': 'encode, JSON lines, write' },
  ];
  let oneWorker = 0;
  for (const n of [1, 2]) {
    const workers = await Promise.all(
      Array.from({ length: n }, () => child(['worker', '--nats', nats, ...workerArgs, '--json'], /"fingerprint"/)),
    );
    // Warm each worker's model with a small job first.
    await runBatch({
      nats,
      task: 'encode',
      input: warm,
      output: join(work, 'warm.jsonl'),
      fingerprint,
      chunkSize: 4,
      job: `warm-${n}-${fingerprint.replace(/\W/g, '')}`.slice(0, 64),
    });
    t0 = performance.now();
    const r = await runBatch({
      nats,
      task: 'encode',
      input,
      output: join(work, `${label}-${n}.jsonl`),
      fingerprint,
      chunkSize: chunk,
      job: `${label.replace(/\W+/g, '')}-${n}`,
      pollMs: 50,
    });
    const rate = list.length / ((performance.now() - t0) / 1000);
    const stats = await Promise.all(
      workers.map(async (w) => {
        await stop(w.proc);
        return JSON.parse(w.lines.find((l) => l.includes('"stopped"')) ?? '{}') as { runSeconds?: number; storeSeconds?: number };
      }),
    );
    const run = stats.reduce((s, x) => s + (x.runSeconds ?? 0), 0);
    const store = stats.reduce((s, x) => s + (x.storeSeconds ?? 0), 0);
    const t = r.timings;
    rows.push({
      setup: `${label}: ${n} worker${n > 1 ? 's' : ''} via NATS, 1 thread each`,
      'titles/s': rate,
      ratio: n === 1 ? `${ratio(rate, localRate)} of local` : `${ratio(rate, oneWorker)} of 1 worker`,
      'where the time goes': `submitter: read ${t.scan.toFixed(2)} s, publish ${t.submit.toFixed(2)} s, wait ${t.wait.toFixed(2)} s, write ${t.write.toFixed(2)} s; workers: model ${run.toFixed(2)} s, store ${store.toFixed(2)} s`,
    });
    if (n === 1) oneWorker = rate;
  }
  return rows;
}

export async function benchCluster(): Promise<void> {
  if (spawnSync('nats-server', ['--version']).status !== 0) {
    console.log('cluster: skipped: nats-server is not installed (apt-get install -y nats-server)');
    return;
  }
  const work = await mkdtemp(join(tmpdir(), 'jobbert-bench-cluster-'));
  const nats = await startNats();
  try {
    // 1. Compute-bound: JobBERT at XLM-R base's shape.
    const modelDir = join(work, 'xlmr-base-random');
    await makeTinyModel(
      { seed: 7, shape: { hidden: 768, layers: 12, heads: 12, intermediate: 3072 }, headDim: 1024, maxSeqLength: 64 },
      modelDir,
    );
    const N = Number(process.env.JOBBERT_BENCH_CLUSTER_TITLES ?? 768);
    const heavy =
      N === 0
        ? []
        : await batchRows('JobBERT (XLM-R base shape)', nats.url, work, titles(N, 1), 32, () => JobBERT.load(modelDir, { threads: 1 }), [
            '--model',
            modelDir,
            '--threads',
            '1',
          ]);
    // 2. Broker-bound: the built-in LiteEncoder.
    const L = Number(process.env.JOBBERT_BENCH_CLUSTER_LITE ?? 100_000);
    const lite = await batchRows('LiteEncoder', nats.url, work, titles(L, 2), 1000, () => LiteEncoder.load(), ['--tasks', 'encode']);
    printTable(
      `batch encode: titles/s, ${N.toLocaleString('en')} titles (JobBERT, chunks of 32) and ${L.toLocaleString('en')} (LiteEncoder, chunks of 1,000); targets: 1 worker ≥ ×0.90 of local, 2 workers ≥ ×1.70 of 1 worker (a 2-core machine shared with other work)`,
      [...heavy, ...lite],
    );

    // 3. Router over 3 shards vs one unsharded serve.
    const seconds = Number(process.env.JOBBERT_BENCH_CLUSTER_SECONDS ?? 8);
    const encoder = await LiteEncoder.load();
    const entryTitles = titles(30_000, 3);
    const index = await MatchIndex.build(
      encoder,
      entryTitles.map((text, i) => ({ id: `e${i}`, text })),
    );
    const file = join(work, 'index.jbi');
    await index.save(file);
    await index.dispose();
    await encoder.dispose();
    const queries = titles(2000, 4);
    const rows: Row[] = [];
    const single = await child(['serve', '--index', file, '--port', '0', '--json'], /"url"/);
    const singleLoad = await load(JSON.parse(single.line).url, queries, seconds);
    await stop(single.proc);
    rows.push({
      server: 'serve (unsharded)',
      'requests/s': singleLoad.rps,
      'p50 ms': singleLoad.p50,
      'p99 ms': singleLoad.p99,
      errors: singleLoad.errors,
    });
    const pub = spawnSync(
      process.execPath,
      ['--import', 'tsx', BIN, 'index', 'publish', file, '--nats', nats.url, '--name', 'bench', '--shards', '3'],
      {
        encoding: 'utf8',
      },
    );
    if (pub.status !== 0) throw new Error(pub.stderr);
    const shards = await Promise.all(
      [0, 1, 2].map((s) => child(['serve', '--nats', nats.url, '--index-name', 'bench', '--shard', String(s), '--json'], /"shard"/)),
    );
    const router = await child(['serve', '--nats', nats.url, '--index-name', 'bench', '--router', '--port', '0', '--json'], /"url"/);
    const url = JSON.parse(router.line).url as string;
    const routed = await load(url, queries, seconds);

    // 4. A second replica of shard 0, then that replica frozen (SIGSTOP): it holds its subscriptions and answers nothing.
    const extra = await child(['serve', '--nats', nats.url, '--index-name', 'bench', '--shard', '0', '--json'], /"shard"/);
    await new Promise((r) => setTimeout(r, 3000)); // a round of the router's pings: it asks the new replica too
    const twoReplicas = await load(url, queries, seconds);
    extra.proc.kill('SIGSTOP');
    const frozen = await load(url, queries, seconds);
    extra.proc.kill('SIGCONT');
    await stop(extra.proc);
    await stop(router.proc);
    for (const s of shards) await stop(s.proc);
    rows.push({
      server: 'serve --router, 3 shards',
      'requests/s': routed.rps,
      'p50 ms': routed.p50,
      'p99 ms': routed.p99,
      errors: routed.errors,
    });
    rows.push({
      server: 'ratio (router ÷ unsharded)',
      'requests/s': ratio(routed.rps, singleLoad.rps),
      'p50 ms': ratio(routed.p50, singleLoad.p50),
      'p99 ms': ratio(routed.p99, singleLoad.p99),
      errors: '',
    });
    printTable(
      `serve: POST /v1/match, one title, k = 10, 64 clients (autocannon), ${seconds} s each; 30,000 entries, LiteEncoder; router, 3 shard processes and the broker on the same 2 shared cores`,
      rows,
    );
    const row = (server: string, l: typeof routed): Row => ({
      server,
      'requests/s': l.rps,
      'p50 ms': l.p50,
      'p99 ms': l.p99,
      errors: l.errors,
    });
    printTable(
      `serve --router, 3 shards, shard 0 with two replicas, then one of them frozen (SIGSTOP) for the whole run: the same load, ${seconds} s each`,
      [
        row('two healthy replicas of shard 0', twoReplicas),
        row('one of them frozen', frozen),
        {
          server: 'ratio (frozen ÷ healthy)',
          'requests/s': ratio(frozen.rps, twoReplicas.rps),
          'p50 ms': ratio(frozen.p50, twoReplicas.p50),
          'p99 ms': ratio(frozen.p99, twoReplicas.p99),
          errors: '',
        },
      ],
    );
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await nats.dispose();
    await rm(work, { recursive: true, force: true });
  }
}
