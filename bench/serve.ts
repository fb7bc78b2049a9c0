/**
 * `jobbert serve` under load: single-title POST /v1/match requests from 64
 * concurrent keep-alive clients (autocannon) on loopback, against the same
 * index served with and without micro-batching (throughput, p50/p99 latency,
 * ratio), then an RSS soak of the batching server (JOBBERT_SOAK_S seconds,
 * default 120) reporting growth.
 *
 * The index: ESCO occupation labels (preferred and alternative, en/de/es)
 * from ../shared/data/esco, up to JOBBERT_BENCH_N (default 50,000) titles,
 * or synthetic titles when the data is absent; encoded with the default
 * LiteEncoder model (JOBBERT_BENCH_ENCODER=tfidf: a TF-IDF encoder of
 * JOBBERT_BENCH_DIM, default 1024, dimensions instead). Queries: real vacancy titles from
 * ../shared/data/jobbert-eval/titles.csv, or index titles.
 *
 * The server runs in a child process so the load generator has its own event
 * loop; both share this machine's cores, which the figures include.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LiteEncoder, MatchIndex, TfIdfEncoder, type MatchEntry } from '../src/index.js';
import { parseCsv } from '../src/lite/esco.js';
import { rng } from '../src/util/random.js';
import { createServer } from '../src/serve/index.js';
import { loadIndexWithEncoder } from '../src/serve/load.js';
import { printTable, ratio, type Row } from './common.js';

const require = createRequire(import.meta.url);
const DATA = resolve(process.env.JOBBERT_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data'));
const CONNECTIONS = 64;

/** Seeded shuffle (mulberry32) so every run serves and asks the same titles. */
function shuffle<T>(items: T[], seed: number): T[] {
  const rand = rng(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Index entries: ESCO labels per language when present, else synthetic titles. */
function benchEntries(n: number): { entries: MatchEntry[]; source: string } {
  const entries: MatchEntry[] = [];
  const langs = ['en', 'de', 'es'].filter((l) => existsSync(join(DATA, 'esco', l, `occupations_${l}.csv`)));
  for (const lang of langs) {
    const [header, ...rows] = parseCsv(readFileSync(join(DATA, 'esco', lang, `occupations_${lang}.csv`), 'utf8'));
    const pref = header.indexOf('preferredLabel');
    const alt = header.indexOf('altLabels');
    const seen = new Set<string>();
    for (const r of rows) {
      for (const label of [r[pref], ...(r[alt] ?? '').split('\n')]) {
        const text = label?.trim();
        if (text && !seen.has(text)) seen.add(text), entries.push({ id: `${lang}:${entries.length}`, text, lang });
      }
    }
  }
  if (entries.length > 0) return { entries: shuffle(entries, 11).slice(0, n), source: `ESCO labels (${langs.join(', ')})` };
  console.log(`serve: ${join(DATA, 'esco')} not found; using synthetic titles`);
  const words = [
    'senior',
    'junior',
    'lead',
    'software',
    'data',
    'sales',
    'marketing',
    'nurse',
    'engineer',
    'manager',
    'assistant',
    'analyst',
    'developer',
    'technician',
    'consultant',
    'teacher',
    'driver',
    'chef',
    'accountant',
    'designer',
  ];
  const synthetic = Array.from({ length: n }, (_, i) => ({
    id: `s${i}`,
    text: `${words[i % 20]} ${words[(i * 7 + 3) % 20]} ${words[(i * 13 + 5) % 20]} ${i}`,
    lang: 'en',
  }));
  return { entries: synthetic, source: 'synthetic titles' };
}

/** Query titles: real vacancy titles when present, else index titles. */
function benchQueries(entries: MatchEntry[]): string[] {
  const path = join(DATA, 'jobbert-eval', 'titles.csv');
  if (existsSync(path)) {
    const [header, ...rows] = parseCsv(readFileSync(path, 'utf8'));
    const col = header.indexOf('vacancyTitle');
    const titles = rows.map((r) => r[col]?.trim()).filter((t): t is string => !!t && t.length <= 200);
    return shuffle(titles, 5).slice(0, 2000);
  }
  return shuffle(
    entries.map((e) => e.text.toLowerCase()),
    5,
  ).slice(0, 2000);
}

export interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

/** Runs autocannon for `seconds` against /v1/match, one random title per request. */
export function load(url: string, queries: string[], seconds: number): Promise<Load> {
  const autocannon = require('autocannon') as typeof import('autocannon');
  let next = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}/v1/match`,
        connections: CONNECTIONS,
        pipelining: 1,
        duration: seconds,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (req) => ({ ...req, body: JSON.stringify({ queries: [queries[next++ % queries.length]], k: 10 }) }),
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err);
        resolve({
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          errors: result.non2xx + result.errors + result.timeouts,
          requests: result.requests.total,
        });
      },
    );
  });
}

/** Starts the server child; resolves with its URL and the process. */
async function startServer(indexPath: string, batching: boolean): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--server', indexPath, batching ? 'on' : 'off'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0].trim());
    });
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  return { url, child };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function serverRssMiB(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)![1]) / 2 ** 20;
}

async function batchStats(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = Number(/^jobbert_batch_size_sum\{op="match"\} (\S+)$/m.exec(text)?.[1] ?? 0);
  const count = Number(/^jobbert_batch_size_count\{op="match"\} (\S+)$/m.exec(text)?.[1] ?? 0);
  return count ? (sum / count).toFixed(1) : '-';
}

export async function benchServe(): Promise<void> {
  try {
    require.resolve('autocannon');
  } catch {
    console.log('serve: skipped: autocannon is not installed (npm install)');
    return;
  }
  const n = Number(process.env.JOBBERT_BENCH_N ?? 50_000);
  const dim = Number(process.env.JOBBERT_BENCH_DIM ?? 1024);
  const seconds = Number(process.env.JOBBERT_BENCH_SECONDS ?? 10);
  const soakSeconds = Number(process.env.JOBBERT_SOAK_S ?? 120);
  const dir = await mkdtemp(join(tmpdir(), 'jobbert-bench-serve-'));
  try {
    const { entries, source } = benchEntries(n);
    const queries = benchQueries(entries);
    // The default model unless JOBBERT_BENCH_ENCODER=tfidf (then TF-IDF, dim JOBBERT_BENCH_DIM).
    const kind = process.env.JOBBERT_BENCH_ENCODER ?? 'lite';
    const encoderName = kind === 'tfidf' ? `TF-IDF ${dim}-d` : 'the default LiteEncoder model';
    console.log(`serve: indexing ${entries.length.toLocaleString('en')} ${source} with ${encoderName} ...`);
    const encoder =
      kind === 'tfidf'
        ? TfIdfEncoder.fit(
            entries.map((e) => e.text),
            { dim },
          )
        : await LiteEncoder.load();
    const index = await MatchIndex.build(encoder, entries);
    const indexPath = join(dir, 'bench.jbi');
    await index.save(indexPath);
    await index.dispose();

    const rows: Row[] = [];
    const results: Record<string, Load> = {};
    for (const batching of [true, false]) {
      const { url, child } = await startServer(indexPath, batching);
      try {
        await load(url, queries, 2); // warm-up
        const r = await load(url, queries, seconds);
        results[batching ? 'on' : 'off'] = r;
        rows.push({
          server: batching ? 'micro-batching (max-batch 64, max-wait 2 ms)' : 'no batching (one search per request)',
          'requests/s': r.rps,
          'p50 ms': r.p50,
          'p99 ms': r.p99,
          'mean batch': batching ? await batchStats(url) : '1',
          errors: r.errors,
          requests: r.requests,
        });
      } finally {
        await stopServer(child);
      }
    }
    rows.push({
      server: 'ratio (batching ÷ no batching)',
      'requests/s': ratio(results.on.rps, results.off.rps),
      'p50 ms': '',
      'p99 ms': '',
      'mean batch': '',
      errors: '',
      requests: '',
    });
    printTable(
      `jobbert serve: POST /v1/match, one title per request, k = 10, ${CONNECTIONS} concurrent keep-alive clients (autocannon), ${seconds} s each; ${entries.length.toLocaleString('en')} entries, ${encoderName}`,
      rows,
    );

    if (soakSeconds > 0) {
      const { url, child } = await startServer(indexPath, true);
      try {
        await load(url, queries, Math.min(10, Math.max(2, Math.round(soakSeconds / 10)))); // warm-up: heap and caches settle
        const start = await serverRssMiB(url);
        const samples: number[] = [start];
        const sampler = setInterval(
          () =>
            void serverRssMiB(url).then(
              (v) => samples.push(v),
              () => {},
            ),
          1000,
        );
        const r = await load(url, queries, soakSeconds);
        clearInterval(sampler);
        const end = await serverRssMiB(url);
        samples.push(end);
        const growth = ((end - start) / start) * 100;
        printTable(`jobbert serve: RSS over a ${soakSeconds} s soak (batching on, ${CONNECTIONS} clients; after warm-up)`, [
          {
            'RSS start MiB': start,
            'RSS end MiB': end,
            'RSS max MiB': Math.max(...samples),
            'growth %': `${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %`,
            'requests/s': r.rps,
            'p99 ms': r.p99,
            requests: r.requests,
            errors: r.errors,
          },
        ]);
      } finally {
        await stopServer(child);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Server child: `bench/serve.ts --server INDEX on|off` prints its URL, serves until SIGTERM.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--server') {
  const { index, encoder } = await loadIndexWithEncoder(process.argv[3]);
  const service = createServer({ index, encoder, port: 0, batching: process.argv[4] === 'on', maxBatch: 64, maxWaitMs: 2 });
  const { url } = await service.listen();
  console.log(url);
  process.once('SIGTERM', () => void service.close().then(() => index.dispose()));
}
