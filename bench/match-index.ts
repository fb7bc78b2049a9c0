/**
 * MatchIndex at scale: build, search (queries/s at k = 10), save and load of
 * N × 1,024 float32 vectors (N = 1,000,000 by default; JOBBERT_BENCH_N to
 * change it), with peak RSS, beside usearch's exact search on the same data.
 * Loading runs in a fresh process so its peak RSS shows what a server pays.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernels, MatchIndex } from '../src/index.js';
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
    await index.searchVectors(randomMatrix(9, 4, D), { k: K });  // warm-up
    const search = await seconds(() => index.searchVectors(queries, { k: K }));
    const single = await seconds(async () => {
      for (let i = 0; i < 8; i++) await index.searchVectors({ data: queries.data.subarray(i * D, (i + 1) * D), rows: 1, cols: D }, { k: K });
    });
    const save = await seconds(() => index.save(path));
    const fileGiB = (await stat(path)).size / 2 ** 30;
    const rows: Row[] = [];
    const info = kernels.info();
    rows.push({ step: 'build (copy vectors into native memory)', jobbert: `${build.toFixed(2)} s`, usearch: '', ratio: '', 'RSS MiB after': rssMiB() });
    const ourQps = queries.rows / search;
    rows.push({ step: `search, batch of ${queries.rows}, k = ${K}`, jobbert: `${ourQps.toFixed(1)} queries/s`, usearch: '', ratio: '', 'RSS MiB after': rssMiB() });
    rows.push({ step: 'search, one query at a time', jobbert: `${(8 / single).toFixed(1)} queries/s (${((single / 8) * 1e3).toFixed(0)} ms each)`, usearch: '', ratio: '', 'RSS MiB after': rssMiB() });
    rows.push({ step: `save (${fileGiB.toFixed(2)} GiB, fsync, rename)`, jobbert: `${save.toFixed(2)} s`, usearch: '', ratio: '', 'RSS MiB after': rssMiB() });
    await index.dispose();

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
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (child.status !== 0) throw new Error(`load child failed (exit ${child.status})`);
    const loaded = JSON.parse(child.stdout.trim().split('\n').pop()!) as { seconds: number; peakRssMiB: number; baseRssMiB: number };
    rows.push({ step: 'load in a fresh process (verify every checksum)', jobbert: `${loaded.seconds.toFixed(2)} s`, usearch: '', ratio: '', 'RSS MiB after': `${loaded.peakRssMiB.toFixed(0)} peak (process at start: ${loaded.baseRssMiB.toFixed(0)})` });
    printTable(`MatchIndex: N = ${N.toLocaleString('en')}, d = ${D}, exact cosine, ${info.threads} threads (this process's peak RSS ${peakRssMiB().toFixed(0)} MiB, holding the ${((N * D * 4) / 2 ** 20).toFixed(0)} MiB of generated vectors too)`, rows);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const baseRssMiB = rssMiB();
  let index!: MatchIndex;
  const s = await seconds(async () => {
    index = await MatchIndex.load(process.argv[2]);
  });
  await index.dispose();
  console.log(JSON.stringify({ seconds: s, peakRssMiB: peakRssMiB(), baseRssMiB }));
}
