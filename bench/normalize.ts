/**
 * `jobbert normalize --input` throughput and memory, beside the TF-IDF
 * normaliser (the same pipeline over 4096-d character n-gram TF-IDF vectors):
 *   npm run bench -- normalize          (JOBBERT_BENCH_N titles, default 1,000,000)
 * The titles are synthetic, made from the built-in ESCO labels (en/de/es) the
 * way scraped vacancy titles vary: seniority and gender tags, locations,
 * recombined words, typos, case. Seeded; the bench prints how many are unique.
 * The CLI runs in a child process over a JSON Lines file (JSON Lines out), so
 * the figure includes reading, parsing, writing and the peak RSS is its own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TfIdfEncoder } from '../src/encoders/tfidf.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { Normalizer } from '../src/normalize/normalizer.js';
import { buildCorpus, disposeCorpus, exactScan, FAST_PROBE, int8Scan, type Strategy, searchOccupations } from '../src/normalize/search.js';
import { labelRows, loadBuiltinTaxonomy } from '../src/normalize/taxonomy.js';
import { QuantizedMatrix } from '../src/match/quantized.js';
import { rng } from '../src/util/random.js';
import { printTable, ratio } from './common.js';

const PREFIX = [
  'Senior',
  'Junior',
  'Lead',
  'Head of',
  'Trainee',
  'Stellvertretender',
  'Assistant',
  'Chief',
  'Praktikant',
  'Responsable de',
];
const SUFFIX = ['(m/w/d)', '(f/m/x)', '- Berlin', '- Madrid', 'remote', '100%', 'Teilzeit', '(h/m)', 'm/f/d', '- London', 'Vollzeit', '*'];

/** Writes `n` synthetic vacancy titles as JSON Lines {"id","title"}; resolves with the number of distinct titles. */
async function writeTitles(path: string, n: number, labels: string[], seed = 7): Promise<number> {
  const r = rng(seed);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const out = createWriteStream(path);
  const seen = new Set<string>();
  let distinct = 0;
  for (let i = 0; i < n; i++) {
    let t = pick(labels);
    if (r() < 0.3) t = `${t} ${pick(labels).split(' ')[0]}`;
    if (r() < 0.35) t = `${pick(PREFIX)} ${t}`;
    if (r() < 0.45) t = `${t} ${pick(SUFFIX)}`;
    if (r() < 0.3) {
      const at = Math.floor(r() * t.length);
      t = r() < 0.5 ? t.slice(0, at) + t.slice(at + 1) : t.slice(0, at) + String.fromCharCode(97 + Math.floor(r() * 26)) + t.slice(at);
    }
    if (r() < 0.1) t = t.toUpperCase();
    else if (r() < 0.2) t = t.toLowerCase();
    if (seen.size < 4_000_000 && !seen.has(t)) {
      seen.add(t);
      distinct++;
    }
    if (!out.write(`{"id":"v${i}","title":${JSON.stringify(t)}}\n`)) await new Promise<void>((res) => out.once('drain', () => res()));
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  return distinct;
}

export async function benchNormalize(): Promise<void> {
  const n = Number(process.env.JOBBERT_BENCH_N ?? 1_000_000);
  const taxonomy = await loadBuiltinTaxonomy();
  const labels = taxonomy.occupations.flatMap((o) => [...Object.values(o.preferred), ...Object.values(o.alt).flat()]);
  const dir = await mkdtemp(join(tmpdir(), 'jobbert-bench-normalize-'));
  try {
    const input = join(dir, 'titles.jsonl');
    const distinct = await writeTitles(input, n, labels);
    console.log(
      `\n${n} synthetic titles from ${labels.length} ESCO labels (${distinct} distinct, ${((await stat(input)).size / 2 ** 20).toFixed(0)} MiB)`,
    );

    const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
    const output = join(dir, 'out.jsonl');
    // Other jobs on the machine slow every figure here: say how busy it was.
    const load = () =>
      loadavg()
        .map((l) => l.toFixed(2))
        .join(' ');
    // The CLI in a child process, exact (the default) and with --fast.
    const runCli = (extra: string[]) => {
      console.log(`load average before: ${load()}`);
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', bin, 'normalize', '--input', input, '--output', output, '--json', ...extra],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        },
      );
      const wall = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`jobbert normalize failed (${r.status}): ${r.stderr.slice(-2000)}`);
      const done = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event: string; titles: number; seconds: number; cpuSeconds: number; peakRssMiB: number })
        .find((e) => e.event === 'done')!;
      console.log(
        `load average after the CLI${extra.length ? ` ${extra.join(' ')}` : ''}: ${load()}; its CPU time ${done.cpuSeconds.toFixed(1)} s (${((1e6 * done.cpuSeconds) / done.titles).toFixed(0)} µs a title: ${(done.titles / done.cpuSeconds).toFixed(0)} titles per CPU-second)`,
      );
      return { rate: done.titles / wall, wall, peakRssMiB: done.peakRssMiB };
    };
    const cli = runCli([]);
    const fastCli = runCli(['--fast']);

    // The file's first titles, for the served row and the search table.
    const head = (await readFile(input, 'utf8'))
      .split('\n', Math.max(SEARCH_TITLES, SERVED_TITLES + SERVED_BATCH))
      .filter((l) => l)
      .map((l) => JSON.parse(l).title as string);
    const served = await benchServed(bin, head);

    // The peer, in process on a slice (it is far slower): the same Normalizer over TF-IDF vectors.
    const slice = 5_000;
    const sample: string[] = [];
    const rs = rng(7);
    for (let i = 0; i < slice; i++) sample.push(labels[Math.floor(rs() * labels.length)]);
    const lite = await Normalizer.load();
    const tfidf = await Normalizer.load({ encoder: TfIdfEncoder.fit(labels, { dim: 4096 }) });
    const timeIt = async (m: Normalizer) => {
      await m.normalize(sample.slice(0, 1000));
      const t = performance.now();
      await m.normalize(sample);
      return slice / ((performance.now() - t) / 1000);
    };
    const liteRate = await timeIt(lite);
    const tfRate = await timeIt(tfidf);
    await lite.dispose();
    await tfidf.dispose();
    (tfidf.encoder as TfIdfEncoder).dispose();
    const enc = await LiteEncoder.load();
    await enc.dispose();
    printTable(`jobbert normalize (k = 5, ${taxonomy.occupations.length} occupations, ${lite.size} labels en/de/es)`, [
      {
        what: `CLI --input → --output, ${n} titles (JSON Lines), LiteEncoder`,
        'titles/s': cli.rate,
        seconds: cli.wall,
        'peak RSS MiB': cli.peakRssMiB,
        'vs TF-IDF': ratio(cli.rate, tfRate),
      },
      {
        what: `the same with --fast (about ${FAST_PROBE} lists of labels searched)`,
        'titles/s': fastCli.rate,
        seconds: fastCli.wall,
        'peak RSS MiB': fastCli.peakRssMiB,
        'vs TF-IDF': ratio(fastCli.rate, tfRate),
      },
      {
        what: `POST /v1/normalize (jobbert serve), ${served.titles} titles, ${SERVED_BATCH} a request, ${SERVED_CLIENTS} clients, LiteEncoder`,
        'titles/s': served.rate,
        seconds: served.titles / served.rate,
        'peak RSS MiB': served.peakRssMiB ?? '',
        'vs TF-IDF': ratio(served.rate, tfRate),
      },
      {
        what: `Normalizer.normalize, ${slice} titles in one call, LiteEncoder`,
        'titles/s': liteRate,
        seconds: slice / liteRate,
        'peak RSS MiB': '',
        'vs TF-IDF': ratio(liteRate, tfRate),
      },
      { what: `same, TF-IDF normaliser (4096-d)`, 'titles/s': tfRate, seconds: slice / tfRate, 'peak RSS MiB': '', 'vs TF-IDF': '×1.00' },
    ]);
    // The search table searches the Normalizer's label rows, in its order (which decides ties and how soon the group scan prunes).
    const rows = labelRows(taxonomy);
    await benchSearch(
      rows.map((r) => r.text),
      Int32Array.from(rows, (r) => r.occupation),
      taxonomy.occupations.length,
      head.slice(0, SEARCH_TITLES),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const SEARCH_TITLES = 4096;
const SERVED_TITLES = 40_960;
const SERVED_BATCH = 256;
const SERVED_CLIENTS = 4;

/**
 * `jobbert serve` (a child process, default settings: micro-batching on)
 * answering POST /v1/normalize: the first SERVED_TITLES of `titles` in
 * requests of SERVED_BATCH, from SERVED_CLIENTS keep-alive clients in this
 * process, after one warm-up request of other titles. Reports the rate, and
 * (on Linux, from /proc) the server's CPU a title and peak RSS.
 */
async function benchServed(bin: string, titles: string[]): Promise<{ titles: number; rate: number; peakRssMiB?: number }> {
  // Smaller runs (JOBBERT_BENCH_N) send what there is, less the warm-up request.
  const count = Math.max(1, Math.min(SERVED_TITLES, titles.length - SERVED_BATCH));
  const child = spawn(process.execPath, ['--import', 'tsx', bin, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`jobbert serve did not start in 120 s: ${err.slice(-2000)}`)), 120_000);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`jobbert serve exited (${code}): ${err.slice(-2000)}`));
      });
    });
    const post = async (batch: string[]) => {
      const res = await fetch(`${url}/v1/normalize`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ titles: batch }),
      });
      if (res.status !== 200) throw new Error(`POST /v1/normalize: ${res.status} ${(await res.text()).slice(0, 500)}`);
      await res.arrayBuffer();
    };
    await post(titles.slice(count, count + SERVED_BATCH));
    const proc = (file: string) => {
      try {
        return readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
      } catch {
        return undefined;
      }
    };
    const cpu = () => {
      const f = proc('stat')?.split(') ')[1]?.split(' ');
      return f ? (Number(f[11]) + Number(f[12])) / 100 : undefined; // utime + stime, clock ticks (100 a second on Linux)
    };
    const c0 = cpu();
    const t0 = performance.now();
    let next = 0;
    const client = async () => {
      for (let at = next; at < count; at = next) {
        next += SERVED_BATCH;
        await post(titles.slice(at, Math.min(at + SERVED_BATCH, count)));
      }
    };
    await Promise.all(Array.from({ length: SERVED_CLIENTS }, client));
    const seconds = (performance.now() - t0) / 1000;
    const c1 = cpu();
    const hwm = /VmHWM:\s+(\d+) kB/.exec(proc('status') ?? '');
    if (c0 !== undefined && c1 !== undefined)
      console.log(
        `jobbert serve: ${((1e6 * (c1 - c0)) / count).toFixed(0)} µs of CPU a title over ${count} titles (the load generator in this process not counted)`,
      );
    return { titles: count, rate: count / seconds, peakRssMiB: hwm ? Math.round(Number(hwm[1]) / 1024) : undefined };
  } finally {
    // Gone before the next figure is taken.
    const exited =
      child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * The Normalizer's occupation search alone (k = 5 occupations; the titles
 * encoded beforehand): the float32 scan, the int8 scan and the int8 group
 * search, which must give the same hits and scores; best of 3, interleaved.
 */
async function benchSearch(labels: string[], occupationOf: Int32Array, occupations: number, titles: string[]): Promise<void> {
  const enc = await LiteEncoder.load();
  const vectors = await enc.encode(labels);
  const queries = await enc.encode(titles);
  await enc.dispose();
  const corpus = buildCorpus(
    vectors,
    Array.from({ length: labels.length }, (_, i) => i),
  );
  const strategies: [string, Strategy, number?][] = [
    ['float32 scan (kernels.topK, pool 64 vectors, wider where short)', exactScan],
    ['int8 scan + certified re-score (pool 64 of 128 candidates)', int8Scan],
    ['int8 group search (QuantizedMatrix.searchGroups)', 'groups'],
    [`the same, probing about ${FAST_PROBE} lists (--fast)`, 'groups', FAST_PROBE],
  ];
  const best = strategies.map(() => Infinity);
  const results: number[][][] = [];
  for (let round = 0; round < 3; round++)
    for (const [i, [, strategy, probe]] of strategies.entries()) {
      const t = performance.now();
      results[i] = await searchOccupations(queries, corpus, occupationOf, 5, strategy, probe);
      best[i] = Math.min(best[i], (performance.now() - t) / 1000);
    }
  const sameList = (i: number, q: number) =>
    results[i][q].length === results[0][q].length && results[i][q].every((x, j) => Object.is(x, results[0][q][j]));
  const same = (i: number) => {
    const n = results[i].filter((_, q) => sameList(i, q)).length;
    return n === results[i].length ? 'yes, bit for bit' : `${((100 * n) / results[i].length).toFixed(1)}% of titles`;
  };
  printTable(
    `Normalizer occupation search: ${titles.length} titles × ${corpus.matrix.rows} distinct label vectors (${labels.length} labels, ${occupations} occupations) × d ${corpus.matrix.cols}, k = 5, int8 kernel ${QuantizedMatrix.kernel()}`,
    strategies.map(([what], i) => ({
      search: what,
      'titles/s': titles.length / best[i],
      'µs a title': (1e6 * best[i]) / titles.length,
      'vs float32': ratio(best[0], best[i]),
      'same hits as float32': i === 0 ? '' : same(i),
    })),
  );
  await disposeCorpus(corpus);
}
