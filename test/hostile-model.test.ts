/**
 * Model directories and kernel arguments from a hostile or careless source:
 * a directory where model.safetensors should be, JSON configs holding null,
 * overlapping tensors, unchecked n-gram settings, shared memory. Each gets a
 * JobBERTError ERR_BAD_MODEL / ERR_CORRUPT or a TypeError naming the argument.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JobBERTError } from '../src/errors.js';
import { topK } from '../src/kernels/index.js';
import { LiteEncoder } from '../src/lite/encoder.js';
import { writeModel } from '../src/lite/io.js';
import { initWeights } from '../src/lite/train.js';
import { readTransformerConfig } from '../src/model/convert.js';
import { parseHeader, SafeTensors } from '../src/model/safetensors.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobbert-hostile-model-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

async function refuses(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof JobBERTError, `expected JobBERTError ${code}; received ${e?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

async function liteModel(name: string): Promise<string> {
  const out = join(dir, name);
  const w = initWeights({ buckets: 1 << 8, dim: 8, minN: 2, maxN: 5 }, 3);
  await writeModel(out, { config: { buckets: 1 << 8, dim: 8, minN: 2, maxN: 5 }, table: w.table, heads: w.heads });
  return out;
}

async function editConfig(model: string, edit: (c: Record<string, unknown>) => unknown): Promise<void> {
  const path = join(model, 'lite.json');
  const c = JSON.parse(await readFile(path, 'utf8'));
  const replaced = edit(c);
  await writeFile(path, JSON.stringify(replaced === undefined ? c : replaced));
}

describe('model files', () => {
  it('a directory named model.safetensors is ERR_BAD_MODEL, not a plain Error', async () => {
    const path = join(dir, 'model.safetensors');
    await mkdir(path);
    await refuses(SafeTensors.open(path), 'ERR_BAD_MODEL', /is a directory/);
  });

  it('overlapping tensors in a safetensors header are ERR_BAD_MODEL', () => {
    const header = JSON.stringify({
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
    });
    assert.throws(
      () => parseHeader('x.safetensors', header, 24),
      (e: Error) => e instanceof JobBERTError && /overlap/.test(e.message),
    );
  });

  it('a config.json holding null is ERR_BAD_MODEL, not a TypeError', async () => {
    const model = join(dir, 'null-config');
    await mkdir(model);
    await writeFile(join(model, 'config.json'), 'null');
    await refuses(readTransformerConfig(model), 'ERR_BAD_MODEL', /JSON object/);
  });

  it('a lite.json holding null, or n-gram lengths out of range, is ERR_BAD_MODEL', async () => {
    const a = await liteModel('lite-null');
    await editConfig(a, () => null);
    await refuses(LiteEncoder.load(a), 'ERR_BAD_MODEL', /JSON object/);
    const b = await liteModel('lite-minn');
    await editConfig(b, (c) => void (c.minN = -1e9));
    await refuses(LiteEncoder.load(b), 'ERR_BAD_MODEL', /minN and maxN/);
  });

  it("lite.json's n-gram lengths are covered by its checksum: an in-range change is ERR_CORRUPT", async () => {
    const model = await liteModel('lite-maxn');
    assert.equal((await (await LiteEncoder.load(model)).encode(['nurse'])).rows, 1);
    await editConfig(model, (c) => void (c.maxN = 4));
    await refuses(LiteEncoder.load(model), 'ERR_CORRUPT', /feature settings/);
  });
});

describe('kernel arguments', () => {
  it('a Float32Array on a SharedArrayBuffer is a TypeError naming the argument', async () => {
    const shared = new Float32Array(new SharedArrayBuffer(4 * 4)).fill(1);
    const plain = { data: new Float32Array(4).fill(1), rows: 2, cols: 2 };
    await assert.rejects(topK({ data: shared, rows: 2, cols: 2 }, plain, 1), {
      name: 'TypeError',
      message: /queries\.data must be a Float32Array on an ArrayBuffer/,
    });
  });
});
