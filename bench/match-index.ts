/**
 * MatchIndex at scale: build, search (queries/s at k = 10), save and load of
 * N × 1,024 float32 vectors (N = 1,000,000 by default; JOBBERT_BENCH_N to
 * change it), with peak RSS, beside usearch's exact search on the same data.
 * Loading runs in a fresh process so its peak RSS shows what a server pays.
 * The int8 rows load the same file with { storage: 'int8' } (int8 scan +
 * exact re-scoring of the candidate pool read from the file) and report
 * recall@10 against the exact fp32 results for the same queries, on the
 * random vectors (a hard case: near neighbours are barely nearer than the
 * rest) and on a smaller clustered set.
 *
 * A second table times the Normalizer's search shape — Q = 4,096 titles ×
 * N = 68,577 ESCO labels (en/de/es) × d = 96 (the built-in LiteEncoder), metric
 * dot, k = 32 — with QuantizedMatrix.fromMatrix (int8 scan + exact re-scoring
 * from the resident labels) beside fp32 kernels.topK in the same run, with
 * recall@32 and how many results are identical (row and float32 score).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernels, LiteEncoder, MatchIndex, QuantizedMatrix } from '../src/index.js';
import { loadBuiltinTaxonomy } from '../src/normalize/taxonomy.js';
import { rng } from '../src/util/random.js';
import { peakRssMiB, printTable, randomMatrix, ratio, type Row } from './common.js';

const require = createRequire(import.meta.url);
const D = 1024;
const K = 10;

const seconds = async (fn: () => Promise<unknown> | unknown) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

export async function benchMatchIndex(): Promise<void> {
  await normalizeShape();
  const N = Number(process.env.JOBBERT_BENCH_N ?? 1_000_000);
  const dir = await mkdtemp(join(tmpdir(), 'jobbert-bench-'));
  const path = join(dir, 'bench.jbi');
  try {
    console.log(`matchindex: generating ${N.toLocaleString('en')} × ${D} vectors (${((N * D * 4) / 2 ** 30).toFixed(1)} GiB) ...`);
    const vectors = randomMatrix(7, N, D);
    const entries = Array.from({ length: N }, (_, i) => ({ id: `e${i}`, text: `title ${i}` }));
    let index!: MatchIndex;
    const build = await seconds(async () => {
      index = await MatchIndex.fromVectors(entries, vectors, { fingerprint: 'bench' });
    });
    const queries = randomMatrix(8, 256, D);
    await index.searchVectors(randomMatrix(9, 4, D), { k: K }); // warm-up
    let exact!: Awaited<ReturnType<MatchIndex['searchVectors']>>;
    const search = await seconds(async () => {
      exact = await index.searchVectors(queries, { k: K });
    });
    const single = await seconds(async () => {
      for (let i = 0; i < 8; i++)
        await index.searchVectors({ data: queries.data.subarray(i * D, (i + 1) * D), rows: 1, cols: D }, { k: K });
    });
    const save = await seconds(() => index.save(path));
    const fileGiB = (await stat(path)).size / 2 ** 30;
    const rows: Row[] = [];
    const info = kernels.info();
    rows.push({
      step: 'build (copy vectors into native memory)',
      jobbert: `${build.toFixed(2)} s`,
      usearch: '',
      ratio: '',
      'RSS MiB after': rssMiB(),
    });
    const ourQps = queries.rows / search;
    rows.push({
      step: `search, batch of ${queries.rows}, k = ${K}`,
      jobbert: `${ourQps.toFixed(1)} queries/s`,
      usearch: '',
      ratio: '',
      'RSS MiB after': rssMiB(),
    });
    rows.push({
      step: 'search, one query at a time',
      jobbert: `${(8 / single).toFixed(1)} queries/s (${((single / 8) * 1e3).toFixed(0)} ms each)`,
      usearch: '',
      ratio: '',
      'RSS MiB after': rssMiB(),
    });
    rows.push({
      step: `save (${fileGiB.toFixed(2)} GiB, fsync, rename)`,
      jobbert: `${save.toFixed(2)} s`,
      usearch: '',
      ratio: '',
      'RSS MiB after': rssMiB(),
    });
    await index.dispose();

    // int8 storage, loaded in this process for the search rows (the fresh-process load row is below).
    const int8 = await MatchIndex.load(path, undefined, { storage: 'int8' });
    await int8.searchVectors(randomMatrix(9, 4, D), { k: K }); // warm-up
    let approx!: typeof exact;
    const search8 = await seconds(async () => {
      approx = await int8.searchVectors(queries, { k: K });
    });
    const single8 = await seconds(async () => {
      for (let i = 0; i < 8; i++) await int8.searchVectors({ data: queries.data.subarray(i * D, (i + 1) * D), rows: 1, cols: D }, { k: K });
    });
    const qps8 = queries.rows / search8;
    rows.push({
      step: `int8: search, batch of ${queries.rows}, k = ${K}`,
      jobbert: `${qps8.toFixed(1)} queries/s (recall@10 ${recall(exact, approx).toFixed(4)})`,
      usearch: '',
      ratio: `${ratio(qps8, ourQps)} of fp32`,
      'RSS MiB after': rssMiB(),
    });
    rows.push({
      step: 'int8: search, one query at a time',
      jobbert: `${(8 / single8).toFixed(1)} queries/s (${((single8 / 8) * 1e3).toFixed(0)} ms each)`,
      usearch: '',
      ratio: `${ratio(8 / single8, 8 / single)} of fp32`,
      'RSS MiB after': rssMiB(),
    });
    await int8.dispose();
    rows.push(await clusteredRecall(dir, Math.min(N, 50_000)));

    try {
      const usearch = require('usearch');
      const few = { data: queries.data.subarray(0, 32 * D), rows: 32, cols: D };
      const t = await seconds(() => usearch.exactSearch(vectors.data, few.data, D, K, usearch.MetricKind.Cos, info.threads));
      const theirQps = few.rows / t;
      rows[1].usearch = `${theirQps.toFixed(2)} queries/s (32 queries)`;
      rows[1].ratio = ratio(ourQps, theirQps);
    } catch (e) {
      console.log(`matchindex: usearch skipped: ${(e as Error).message}`);
    }

    // Load in a fresh process: its peak RSS is what a server pays for this index.
    for (const storage of ['fp32', 'int8']) {
      const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), path, storage], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (child.status !== 0) throw new Error(`load child failed (exit ${child.status})`);
      const loaded = JSON.parse(child.stdout.trim().split('\n').pop()!) as {
        seconds: number;
        peakRssMiB: number;
        baseRssMiB: number;
        loadedRssMiB: number;
      };
      rows.push({
        step: `load in a fresh process, storage ${storage} (verify every checksum)`,
        jobbert: `${loaded.seconds.toFixed(2)} s`,
        usearch: '',
        ratio: '',
        'RSS MiB after': `${loaded.peakRssMiB.toFixed(0)} peak, ${loaded.loadedRssMiB.toFixed(0)} loaded (process at start: ${loaded.baseRssMiB.toFixed(0)})`,
      });
    }
    printTable(
      `MatchIndex: N = ${N.toLocaleString('en')}, d = ${D}, exact cosine, ${info.threads} threads, isa ${info.isa}, int8 scan kernel ${QuantizedMatrix.kernel()} (this process's peak RSS ${peakRssMiB().toFixed(0)} MiB, holding the ${((N * D * 4) / 2 ** 20).toFixed(0)} MiB of generated vectors too)`,
      rows,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The Normalizer's search: 4,096 vacancy-like titles (ESCO labels with a word
 * of another label appended, a third of them) against all 68,577 label
 * vectors, k = 32, fp32 kernels.topK vs the int8 scan + exact re-scoring.
 */
async function normalizeShape(): Promise<void> {
  const Q = 4096;
  const K = 32;
  const taxonomy = await loadBuiltinTaxonomy();
  const labels = taxonomy.occupations.flatMap((o) => [...Object.values(o.preferred), ...Object.values(o.alt).flat()]);
  const r = rng(11);
  const pick = () => labels[Math.floor(r() * labels.length)];
  const titles = Array.from({ length: Q }, () => (r() < 0.3 ? `${pick()} ${pick().split(' ')[0]}` : pick()));
  const encoder = await LiteEncoder.load();
  const corpus = kernels.resident(await encoder.encode(labels));
  const queries = await encoder.encode(titles);
  await encoder.dispose();
  const int8 = await QuantizedMatrix.fromMatrix(corpus);
  const fp32Search = () => kernels.topK(queries, corpus, K, { metric: 'dot', device: 'cpu' });
  const int8Search = () => int8.search(queries, K, { metric: 'dot' });
  await fp32Search(); // warm-up
  await int8Search();
  // Best of 3 each, alternating, so both see the same machine.
  let fp32 = Infinity;
  let q8 = Infinity;
  let exact!: Awaited<ReturnType<typeof fp32Search>>;
  let got!: typeof exact;
  for (let i = 0; i < 3; i++) {
    fp32 = Math.min(fp32, await seconds(async () => (exact = await fp32Search())));
    q8 = Math.min(q8, await seconds(async () => (got = await int8Search())));
  }
  let found = 0;
  let same = 0;
  for (let q = 0; q < Q; q++) {
    const ids = new Set(got.indices.subarray(q * K, (q + 1) * K));
    for (let j = q * K; j < (q + 1) * K; j++) {
      found += ids.has(exact.indices[j]) ? 1 : 0;
      same += got.indices[j] === exact.indices[j] && Object.is(got.scores[j], exact.scores[j]) ? 1 : 0;
    }
  }
  const flops = 2 * Q * corpus.rows * corpus.cols;
  printTable(
    `Normalizer shape: Q = ${Q.toLocaleString('en')} titles × N = ${corpus.rows.toLocaleString('en')} ESCO labels × d = ${corpus.cols} (LiteEncoder), metric dot, k = ${K}, ${kernels.info().threads} threads, int8 scan kernel ${QuantizedMatrix.kernel()}`,
    [
      {
        search: 'fp32 kernels.topK (resident labels)',
        seconds: fp32.toFixed(3),
        'titles/s': (Q / fp32).toFixed(0),
        'G(FL)OP/s': (flops / fp32 / 1e9).toFixed(0),
        ratio: '×1.00',
        'recall@32': '',
      },
      {
        search: 'QuantizedMatrix.fromMatrix(labels).search (int8 scan, pool 128, exact re-score)',
        seconds: q8.toFixed(3),
        'titles/s': (Q / q8).toFixed(0),
        'G(FL)OP/s': (flops / q8 / 1e9).toFixed(0),
        ratio: `${ratio(fp32, q8)} of fp32`,
        'recall@32': `${(found / (Q * K)).toFixed(4)} (${same.toLocaleString('en')}/${(Q * K).toLocaleString('en')} identical)`,
      },
    ],
  );
  int8.dispose();
  corpus.dispose();
}

/** Fraction of the exact results' ids found in the approximate results. */
function recall(exact: { id: string }[][], got: { id: string }[][]): number {
  let found = 0;
  let total = 0;
  exact.forEach((row, q) => {
    const ids = new Set(got[q].map((r) => r.id));
    for (const r of row) found += ids.has(r.id) ? 1 : 0;
    total += row.length;
  });
  return found / total;
}

/** recall@10 of int8 storage on n clustered vectors (1,000 centres, noise of the centres' size). */
async function clusteredRecall(dir: string, n: number): Promise<Row> {
  const centres = randomMatrix(11, 1000, D);
  const noise = randomMatrix(12, n + 256, D);
  const make = (rows: number, from: number) => {
    const data = new Float32Array(rows * D);
    for (let r = 0; r < rows; r++) {
      const c = ((r + from) * 2654435761) % 1000;
      for (let j = 0; j < D; j++) data[r * D + j] = centres.data[c * D + j] + noise.data[(r + from) * D + j];
    }
    return { data, rows, cols: D };
  };
  const path = join(dir, 'clustered.jbi');
  const fp32 = await MatchIndex.fromVectors(
    Array.from({ length: n }, (_, i) => ({ id: `c${i}`, text: '' })),
    make(n, 0),
    { fingerprint: 'bench' },
  );
  await fp32.save(path);
  const queries = make(256, n);
  const exact = await fp32.searchVectors(queries, { k: K });
  await fp32.dispose();
  const int8 = await MatchIndex.load(path, undefined, { storage: 'int8' });
  const got = await int8.searchVectors(queries, { k: K });
  await int8.dispose();
  return {
    step: `int8: recall@10 on ${n.toLocaleString('en')} clustered vectors`,
    jobbert: recall(exact, got).toFixed(4),
    usearch: '',
    ratio: '',
    'RSS MiB after': rssMiB(),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const baseRssMiB = rssMiB();
  let index!: MatchIndex;
  const s = await seconds(async () => {
    index = await MatchIndex.load(process.argv[2], undefined, { storage: (process.argv[3] ?? 'fp32') as 'fp32' | 'int8' });
  });
  const loadedRssMiB = rssMiB();
  await index.dispose();
  console.log(JSON.stringify({ seconds: s, peakRssMiB: peakRssMiB(), baseRssMiB, loadedRssMiB }));
}
