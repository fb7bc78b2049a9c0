import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, open, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { JobBERTError } from '../src/errors.js';
import { MatchIndex, type MatchEntry } from '../src/match/match-index.js';
import type { Matrix } from '../src/kernels/matrix.js';
import { QuantizedMatrix } from '../src/match/quantized.js';
import { clustered as clusteredFrom, randomMatrix, rng, testSeed } from './reference.js';

const next = rng(testSeed('quantized.test'));
const LANGS = ['en', 'de', 'es', undefined];

function entries(n: number): MatchEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const lang = LANGS[i % LANGS.length];
    return lang ? { id: `e${i}`, text: `t${i}`, lang } : { id: `e${i}`, text: `t${i}` };
  });
}

/** clustered() of reference.ts, drawing from this file's generator. */
const clustered = (rows: number, cols: number, centers: number, noise: number) => clusteredFrom(next, rows, cols, centers, noise);

/** Fraction of the exact results' ids found among the approximate results. */
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

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-quantized-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function saved(name: string, vectors: Matrix, list = entries(vectors.rows)): Promise<string> {
  const path = join(dir, name);
  const index = await MatchIndex.fromVectors(list, vectors);
  await index.save(path);
  await index.dispose();
  return path;
}

describe('MatchIndex int8 storage', () => {
  it('returns exactly the fp32 index results (ids and bit-identical scores), with and without lang', async () => {
    const vectors = randomMatrix(next, 3000, 64);
    const path = await saved('exact.jbi', vectors);
    const fp32 = await MatchIndex.load(path);
    const int8 = await MatchIndex.load(path, undefined, { storage: 'int8' });
    assert.equal(int8.storage, 'int8');
    assert.equal(fp32.storage, 'fp32');
    const queries = randomMatrix(next, 12, 64);
    for (const lang of [undefined, 'en', 'de', '']) {
      for (const k of [1, 10]) {
        const want = await fp32.searchVectors(queries, { k, lang });
        assert.deepEqual(await int8.searchVectors(queries, { k, lang }), want, `k ${k} lang ${lang}`);
        // One query at a time gives the same as in the batch.
        const one = await int8.searchVectors({ data: queries.data.subarray(64, 128), rows: 1, cols: 64 }, { k, lang });
        assert.deepEqual(one[0], want[1]);
      }
    }
    // A pool as big as the index is an exhaustive re-score: exact for any k.
    assert.deepEqual(await int8.searchVectors(queries, { k: 50, pool: 3000 }), await fp32.searchVectors(queries, { k: 50 }));
    // k beyond the index is clamped.
    assert.equal((await int8.searchVectors(queries, { k: 5000, lang: 'en' }))[0].length, 750);
    await fp32.dispose();
    await int8.dispose();
    await assert.rejects(int8.searchVectors(queries), (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_DISPOSED');
  });

  it('has high recall on random and clustered data', async () => {
    for (const [name, vectors] of [
      ['random', randomMatrix(next, 6000, 96)],
      ['clustered', clustered(6000, 96, 40, 0.4)],
    ] as const) {
      const path = await saved(`${name}.jbi`, vectors);
      const fp32 = await MatchIndex.load(path);
      const int8 = await MatchIndex.load(path, undefined, { storage: 'int8' });
      const queries = name === 'random' ? randomMatrix(next, 40, 96) : clustered(40, 96, 40, 0.4);
      const exact = await fp32.searchVectors(queries, { k: 10 });
      const byDefault = recall(exact, await int8.searchVectors(queries, { k: 10 }));
      const tight = recall(exact, await int8.searchVectors(queries, { k: 10, pool: 10 }));
      console.log(`# ${name}: recall@10 ${byDefault.toFixed(4)} (default pool 74), ${tight.toFixed(4)} (pool 10)`);
      assert.ok(byDefault >= 0.99, `${name}: recall@10 ${byDefault}`);
      assert.ok(tight >= 0.8, `${name}: recall@10 with pool = k ${tight}`);
      await fp32.dispose();
      await int8.dispose();
    }
  });

  it('is read-only: mutations reject with ERR_READ_ONLY', async () => {
    const path = await saved('ro.jbi', randomMatrix(next, 20, 8));
    const index = await MatchIndex.load(path, undefined, { storage: 'int8' });
    const readOnly = (e: unknown) =>
      e instanceof JobBERTError && e.code === 'ERR_READ_ONLY' && /read-only/.test(e.message) && /on disk/.test(e.message);
    await assert.rejects(index.addVectors([{ id: 'x', text: 'x' }], randomMatrix(next, 1, 8)), readOnly);
    await assert.rejects(index.add([{ id: 'x', text: 'x' }]), readOnly);
    await assert.rejects(index.remove(['e1']), readOnly);
    await assert.rejects(index.save(join(dir, 'ro2.jbi')), readOnly);
    assert.equal(index.size, 20);
    await index.dispose();
  });

  it('refuses bad options, naming them', async () => {
    const path = await saved('opts.jbi', randomMatrix(next, 20, 8));
    await assert.rejects(
      MatchIndex.load(path, undefined, { storage: 'fp16' as 'int8' }),
      (e: unknown) => e instanceof RangeError && /storage/.test(e.message),
    );
    await assert.rejects(
      MatchIndex.load(path, undefined, { storage: 8 as unknown as 'int8' }),
      (e: unknown) => (e instanceof TypeError || e instanceof RangeError) && /storage/.test(e.message),
    );
    await assert.rejects(MatchIndex.load(path, undefined, 'int8' as unknown as { storage: 'int8' }), TypeError);
    const index = await MatchIndex.load(path, undefined, { storage: 'int8' });
    const q = randomMatrix(next, 1, 8);
    await assert.rejects(index.searchVectors(q, { pool: 0 }), (e: unknown) => e instanceof RangeError && /pool/.test(e.message));
    await assert.rejects(index.searchVectors(q, { k: 5, pool: 4 }), (e: unknown) => e instanceof RangeError && /pool/.test(e.message));
    await assert.rejects(index.searchVectors(q, { pool: 1.5 }), (e: unknown) => e instanceof RangeError && /pool/.test(e.message));
    await assert.rejects(
      index.searchVectors(q, { pool: '80' as unknown as number }),
      (e: unknown) => e instanceof TypeError && /pool/.test(e.message),
    );
    await assert.rejects(index.searchVectors(randomMatrix(next, 1, 9)), RangeError);
    await assert.rejects(
      index.searchVectors({ data: new Float32Array(8), rows: 1, cols: 8 }),
      (e: unknown) => e instanceof RangeError && /zero/.test(e.message),
    );
    await index.dispose();
    await assert.rejects(QuantizedMatrix.fromFile(path, { rows: 0, cols: 8 }), RangeError);
    await assert.rejects(
      QuantizedMatrix.fromFile(path, { rows: 1, cols: 8, checksum: 'xyz' }),
      (e: unknown) => e instanceof RangeError && /checksum/.test(e.message),
    );
    await assert.rejects(
      QuantizedMatrix.fromFile(join(dir, 'missing'), { rows: 1, cols: 8 }),
      (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_IO',
    );
  });

  it('refuses corrupt and truncated files with ERR_CORRUPT', async () => {
    const path = await saved('corrupt.jbi', randomMatrix(next, 500, 32));
    const file = await open(path, 'r+');
    const buf = Buffer.alloc(1);
    const at = (await stat(path)).size - 20_000; // inside the vectors
    await file.read(buf, 0, 1, at);
    buf[0] ^= 0x10;
    await file.write(buf, 0, 1, at);
    await file.close();
    const corrupt = (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_CORRUPT';
    await assert.rejects(MatchIndex.load(path, undefined, { storage: 'int8' }), corrupt);
    await truncate(path, 4000);
    await assert.rejects(MatchIndex.load(path, undefined, { storage: 'int8' }), corrupt);
    await assert.rejects(
      MatchIndex.load(join(dir, 'nothing.jbi'), undefined, { storage: 'int8' }),
      (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_NOT_FOUND',
    );
  });

  it('keeps serving after an atomic save over its file, and detects an in-place change', async () => {
    const vectors = randomMatrix(next, 400, 16);
    const path = await saved('live.jbi', vectors);
    const index = await MatchIndex.load(path, undefined, { storage: 'int8' });
    const q = randomMatrix(next, 3, 16);
    const before = await index.searchVectors(q);
    await saved('live.jbi', randomMatrix(next, 400, 16)); // rename over the path
    assert.deepEqual(await index.searchVectors(q), before);
    await index.dispose();

    const again = await MatchIndex.load(path, undefined, { storage: 'int8' });
    const file = await open(path, 'r+');
    const buf = Buffer.alloc(4096, 7);
    await file.write(buf, 0, buf.length, 4096); // vectors, in place
    await file.close();
    await assert.rejects(
      again.searchVectors(q),
      (e: unknown) => e instanceof JobBERTError && e.code === 'ERR_CORRUPT' && /load it again/.test(e.message),
    );
    await again.dispose();
  });

  it('holds a 256 MB index in about a quarter of the memory', async () => {
    const rows = 65536;
    const cols = 1024;
    const path = await saved(
      'big.jbi',
      randomMatrix(next, rows, cols),
      Array.from({ length: rows }, (_, i) => ({ id: `e${i}`, text: '' })),
    );
    const module = new URL('../src/match/match-index.ts', import.meta.url).href;
    const code = `
      import { MatchIndex } from ${JSON.stringify(module)};
      const base = process.memoryUsage().rss;
      const index = await MatchIndex.load(${JSON.stringify(path)}, undefined, { storage: process.argv[1] });
      const grown = process.memoryUsage().rss - base;
      await index.dispose();
      console.log(JSON.stringify({ grown }));`;
    const measure = (storage: string) => {
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, storage], {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('..', import.meta.url)),
      });
      assert.equal(child.status, 0, child.stderr);
      return JSON.parse(child.stdout.trim().split('\n').pop()!).grown / 2 ** 20;
    };
    const int8 = measure('int8');
    const fp32 = measure('fp32');
    console.log(`# 256 MiB index: RSS grows by ${int8.toFixed(0)} MiB with int8, ${fp32.toFixed(0)} MiB with fp32`);
    assert.ok(int8 < 0.5 * fp32, `int8 load grew RSS by ${int8} MiB, fp32 by ${fp32} MiB`);
    assert.ok(int8 < 64 + 48, `int8 load grew RSS by ${int8} MiB`);
  });
});
