/**
 * BAD CALL suite: every way a caller can get an argument wrong must end in a
 * TypeError, RangeError or JobBERTError naming the argument, never a crash.
 * The same checks are run against the raw addon, so the C++ guards hold even
 * when the TypeScript layer is bypassed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobBERTError, kernels, matrix, type Matrix, QuantizedMatrix } from '../src/index.js';
import { addon } from '../src/kernels/binding.js';

const m = (rows: number, cols: number, fill = 0.5): Matrix => ({ rows, cols, data: new Float32Array(rows * cols).fill(fill) });
const ok = m(3, 4);

/** Asserts that `run` throws or rejects with `type` and a message matching `pattern`. */
async function rejects(run: () => unknown, type: ErrorConstructor | typeof JobBERTError, pattern: RegExp) {
  await assert.rejects(
    async () => run(),
    (e: unknown) => {
      assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
      assert.match((e as Error).message, pattern);
      return true;
    },
  );
}

const withNaN = () => {
  const x = m(3, 4);
  x.data[5] = NaN;
  return x;
};
const withInf = () => {
  const x = m(3, 4);
  x.data[11] = -Infinity;
  return x;
};
const withZeroRow = () => {
  const x = m(3, 4);
  x.data.fill(0, 4, 8);
  return x;
};

describe('BAD CALL - kernels.dense', () => {
  it('rejects non-matrices, wrong data types and wrong lengths', async () => {
    await rejects(() => kernels.dense(null as never, ok, null), TypeError, /x must be a Matrix/);
    await rejects(() => kernels.dense([[1]] as never, ok, null), TypeError, /x must be a Matrix/);
    await rejects(() => kernels.dense({ rows: 1, cols: 2, data: [1, 2] } as never, ok, null), TypeError, /x\.data must be a Float32Array/);
    await rejects(
      () => kernels.dense({ rows: 1, cols: 2, data: new Float64Array(2) } as never, ok, null),
      TypeError,
      /x\.data must be a Float32Array/,
    );
    await rejects(
      () => kernels.dense({ rows: 2, cols: 2, data: new Float32Array(3) }, ok, null),
      RangeError,
      /x\.data must hold rows × cols = 4/,
    );
    await rejects(() => kernels.dense({ rows: 1.5, cols: 2, data: new Float32Array(3) }, ok, null), RangeError, /x\.rows/);
    await rejects(() => kernels.dense({ rows: 2 ** 40, cols: 2, data: new Float32Array(4) }, ok, null), RangeError, /x\.rows/);
    await rejects(() => kernels.dense(ok, m(2, 5), null), RangeError, /weight\.cols must be 4/);
    await rejects(() => kernels.dense(ok, m(2, 4), new Float32Array(3)), RangeError, /bias must hold 2/);
    await rejects(() => kernels.dense(ok, m(2, 4), [1, 2] as never), TypeError, /bias must be a Float32Array/);
    await rejects(() => kernels.dense(ok, m(2, 4), null, { activation: 'relu' as never }), RangeError, /activation must be one of/);
    await rejects(() => kernels.dense(ok, m(2, 4), null, 'tanh' as never), TypeError, /options must be an object/);
  });

  it('rejects NaN and Infinity inside the native pass, naming the argument', async () => {
    await rejects(
      () => kernels.dense(withNaN(), m(2, 4), null),
      RangeError,
      /x must hold only finite numbers; received NaN at row 1, column 1/,
    );
    await rejects(
      () => kernels.dense(ok, withInf(), null),
      RangeError,
      /weight must hold only finite numbers; received -Infinity at row 2, column 3/,
    );
    await rejects(() => kernels.dense(ok, m(2, 4), new Float32Array([0, Infinity])), RangeError, /bias must hold only finite numbers/);
  });

  it('refuses an unavailable device with JobBERTError', async () => {
    if (kernels.backends().includes('cuda')) return;
    await rejects(() => kernels.dense(ok, m(2, 4), null, { device: 'cuda' }), JobBERTError, /device 'cuda'/);
    await assert.rejects(() => kernels.dense(ok, m(2, 4), null, { device: 'cuda' }), { code: 'ERR_CUDA_UNAVAILABLE' });
    await rejects(() => kernels.dense(ok, m(2, 4), null, { device: 'gpu' as never }), RangeError, /device must be one of/);
  });
});

describe('BAD CALL - kernels.dense out buffer', () => {
  it('refuses an out of the wrong type, kind or length, naming it', async () => {
    const w = m(2, 4);
    await rejects(
      () => kernels.dense(ok, w, null, { out: [0, 0, 0, 0, 0, 0] as never }),
      TypeError,
      /out must be a Float32Array; received an array/,
    );
    await rejects(() => kernels.dense(ok, w, null, { out: new Float64Array(6) as never }), TypeError, /out must be a Float32Array/);
    await rejects(
      () => kernels.dense(ok, w, null, { out: new Float32Array(new SharedArrayBuffer(24)) }),
      TypeError,
      /out must be a Float32Array on an ArrayBuffer; received one on a SharedArrayBuffer/,
    );
    await rejects(
      () => kernels.dense(ok, w, null, { out: new Float32Array(5) }),
      RangeError,
      /out must hold x\.rows × weight\.rows = 6 elements; received 5/,
    );
    const detached = new Float32Array(6);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    await rejects(
      () => kernels.dense(ok, w, null, { out: detached }),
      RangeError,
      /out must hold .* received 0 \(its buffer is detached\)/,
    );
  });

  it('refuses an out that overlaps x, weight or bias', async () => {
    const shared = new Float32Array(40).fill(0.5);
    const x = { rows: 3, cols: 4, data: shared.subarray(0, 12) };
    const w = { rows: 2, cols: 4, data: shared.subarray(12, 20) };
    const bias = shared.subarray(20, 22);
    await rejects(() => kernels.dense(x, m(2, 4), null, { out: shared.subarray(6, 12) }), RangeError, /out must not overlap x/);
    await rejects(() => kernels.dense(ok, w, null, { out: shared.subarray(10, 16) }), RangeError, /out must not overlap weight/);
    await rejects(() => kernels.dense(ok, m(2, 4), bias, { out: shared.subarray(21, 27) }), RangeError, /out must not overlap bias/);
    // Adjacent views of one buffer do not overlap.
    const y = await kernels.dense(x, w, bias, { out: shared.subarray(22, 28) });
    assert.equal(y.data.byteOffset, 22 * 4);
  });

  it('the raw addon refuses a bad out without the TypeScript layer', async () => {
    const a = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
    await rejects(
      () => a.dense(ok, m(2, 4), null, 'identity', 'cpu', 'fp32', new Float32Array(7)),
      RangeError,
      /out must hold 6 elements; received 7/,
    );
    await rejects(() => a.dense(ok, m(2, 4), null, 'identity', 'cpu', 'fp32', [1, 2]), TypeError, /out must be a Float32Array/);
    await rejects(
      () => a.dense(ok, m(2, 4), null, 'identity', 'cpu', 'fp32', new Float32Array(new SharedArrayBuffer(24))),
      TypeError,
      /SharedArrayBuffer/,
    );
  });

  it('rejects NaN inputs with out given, naming the argument', async () => {
    await rejects(
      () => kernels.dense(withNaN(), m(2, 4), null, { out: new Float32Array(6) }),
      RangeError,
      /x must hold only finite numbers; received NaN at row 1, column 1/,
    );
  });
});

describe('BAD CALL - kernels.denseBackward', () => {
  it('rejects mismatched shapes and non-finite gradients', async () => {
    await rejects(() => kernels.denseBackward(ok, m(2, 4), m(3, 3), m(3, 2)), RangeError, /y\.cols must be 2/);
    await rejects(() => kernels.denseBackward(ok, m(2, 4), m(3, 2), m(2, 2)), RangeError, /gradY\.rows must be 3/);
    const g = m(3, 2);
    g.data[3] = NaN;
    await rejects(() => kernels.denseBackward(ok, m(2, 4), m(3, 2), g), RangeError, /gradY must hold only finite numbers/);
  });
});

describe('BAD CALL - kernels.infoNCE', () => {
  it('rejects bad shapes, scale and flags', async () => {
    await rejects(() => kernels.infoNCE(ok, m(2, 4)), RangeError, /positives\.rows must be 3/);
    await rejects(() => kernels.infoNCE(ok, m(3, 5)), RangeError, /positives\.cols must be 4/);
    await rejects(() => kernels.infoNCE(ok, ok, { negatives: m(2, 5) }), RangeError, /negatives\.cols must be 4/);
    await rejects(() => kernels.infoNCE(ok, ok, { scale: 0 }), RangeError, /scale must be a finite number > 0/);
    await rejects(() => kernels.infoNCE(ok, ok, { scale: NaN }), RangeError, /scale/);
    await rejects(() => kernels.infoNCE(ok, ok, { scale: '20' as never }), TypeError, /scale must be a number/);
    await rejects(() => kernels.infoNCE(ok, ok, { symmetric: 1 as never }), TypeError, /symmetric must be a boolean/);
  });

  it('rejects NaN, Infinity and zero vectors, naming the argument', async () => {
    await rejects(() => kernels.infoNCE(withNaN(), ok), RangeError, /anchors must hold only finite numbers/);
    await rejects(() => kernels.infoNCE(ok, withInf()), RangeError, /positives must hold only finite numbers/);
    await rejects(() => kernels.infoNCE(ok, ok, { negatives: withNaN() }), RangeError, /negatives must hold only finite numbers/);
    await rejects(() => kernels.infoNCE(withZeroRow(), ok), RangeError, /anchors row 1 is a zero vector/);
    await rejects(() => kernels.infoNCE(ok, ok, { negatives: withZeroRow() }), RangeError, /negatives row 1 is a zero vector/);
  });
});

describe('BAD CALL - kernels.topK', () => {
  it('rejects bad k, metric and shapes', async () => {
    await rejects(() => kernels.topK(ok, ok, 0), RangeError, /k must be an integer in \[1/);
    await rejects(() => kernels.topK(ok, ok, -3), RangeError, /k must be an integer/);
    await rejects(() => kernels.topK(ok, ok, 2.5), RangeError, /k must be an integer/);
    await rejects(() => kernels.topK(ok, ok, '5' as never), TypeError, /k must be an integer/);
    await rejects(() => kernels.topK(ok, ok, 1, { metric: 'l2' as never }), RangeError, /metric must be one of 'cosine', 'dot'/);
    await rejects(() => kernels.topK(ok, m(3, 5), 1), RangeError, /corpus\.cols must be 4/);
  });

  it('rejects NaN, Infinity, and zero vectors under cosine only', async () => {
    await rejects(() => kernels.topK(withNaN(), ok, 1), RangeError, /queries must hold only finite numbers/);
    await rejects(() => kernels.topK(ok, withInf(), 1), RangeError, /corpus must hold only finite numbers/);
    await rejects(() => kernels.topK(ok, withNaN(), 1, { metric: 'dot' }), RangeError, /corpus must hold only finite numbers/);
    await rejects(() => kernels.topK(withZeroRow(), ok, 1), RangeError, /queries row 1 is a zero vector/);
    await rejects(() => kernels.topK(ok, withZeroRow(), 1), RangeError, /corpus row 1 is a zero vector/);
    const r = await kernels.topK(withZeroRow(), ok, 1, { metric: 'dot' });
    assert.equal(r.scores[1], 0);
  });

  it('takes a row whose norm is below 1e-15 for a zero vector under cosine, not a NaN or zero score; int8 storage of one does not crash', async () => {
    // Under 1e-30 1/‖x‖ overflows float32 (such rows scored NaN or Infinity); under 1e-15 the products of
    // two such rows' elements fall to subnormals or zero (a cosine of 0.13 scored 0, and searchGroups listed nothing).
    const tiny = (v: number) =>
      matrix([
        [v, v, v, v],
        [1, 2, 3, 4],
      ]);
    await rejects(() => kernels.topK(tiny(1e-40), ok, 1), RangeError, /queries row 0 is a zero vector \(or its norm is below 1e-15\)/);
    await rejects(() => kernels.topK(ok, tiny(1e-40), 1), RangeError, /corpus row 0 is a zero vector \(or its norm is below 1e-15\)/);
    await rejects(() => kernels.topK(tiny(1e-30), tiny(1e-30), 1), RangeError, /queries row 0 is a zero vector/);
    const small = await kernels.topK(tiny(1e-12), m(2, 4), 1);
    assert.ok([...small.scores].every(Number.isFinite));
    for (const v of [1e-45, 1e-40]) {
      const q8 = await QuantizedMatrix.fromMatrix(tiny(v));
      await rejects(() => q8.search(matrix([[1, 1, 1, 1]]), 1), RangeError, /corpus row 0 is a zero vector/);
      // Under the dot metric the row scores (about) zero: quantised to zero codes, scored exactly on re-score.
      const dot = await q8.search(matrix([[1, 1, 1, 1]]), 2, { metric: 'dot' });
      assert.deepEqual([...dot.indices], [1, 0]);
      assert.ok(Math.abs(dot.scores[1]) < 1e-30 && dot.scores[0] === 10);
      q8.dispose();
    }
  });
});

describe('BAD CALL - the raw addon (C++ guards without the TypeScript layer)', () => {
  it('throws TypeError/RangeError instead of crashing', async () => {
    const a = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
    await rejects(() => a.dense(), TypeError, /x must be a Matrix/);
    await rejects(
      () => a.dense({ rows: 1, cols: 1, data: new Float32Array(1) }, {}, null, 'identity'),
      TypeError,
      /weight\.rows must be an integer; received undefined/,
    );
    await rejects(
      () => a.dense(ok, { rows: 2, cols: 4, data: new Float32Array(7) }, null, 'identity'),
      RangeError,
      /weight\.data must hold/,
    );
    await rejects(() => a.dense(ok, m(2, 5), null, 'identity'), RangeError, /weight\.cols must equal x\.cols/);
    await rejects(() => a.dense(ok, m(2, 4), new Float32Array(1), 'identity'), RangeError, /bias must hold 2/);
    await rejects(() => a.dense(ok, m(2, 4), null, 7), TypeError, /activation must be one of/);
    await rejects(() => a.dense({ rows: -1, cols: 4, data: new Float32Array(0) }, ok, null, 'identity'), RangeError, /x\.rows/);
    await rejects(() => a.dense({ rows: NaN, cols: 4, data: new Float32Array(0) }, ok, null, 'identity'), RangeError, /x\.rows/);
    await rejects(() => a.topK(ok, ok, 4, 'cosine'), RangeError, /k must be an integer in \[1, 3\]/);
    await rejects(() => a.topK(ok, ok, 1, 'hamming'), RangeError, /metric/);
    await rejects(() => a.infoNCE(ok, ok, null, Infinity, false), RangeError, /scale/);
    await rejects(() => a.infoNCE(ok, ok, null, 20, 'yes'), TypeError, /symmetric/);
    await rejects(() => a.infoNCE(ok, m(2, 4), null, 20, false), RangeError, /positives/);
    await rejects(() => a.infoNCE(m(3, 4), m(3, 4), null, -1, false), RangeError, /scale/);
    assert.throws(() => a.threads(-1), RangeError);
    assert.throws(() => a.isa('sse9'), RangeError);
    // int8 storage (bindings/quantized.cpp).
    await rejects(() => a.quantizedFromMatrix(), TypeError, /matrix must be a Matrix/);
    await rejects(() => a.quantizedFromMatrix({ rows: 2, cols: 4, data: new Float32Array(7) }), RangeError, /matrix\.data must hold/);
    await rejects(() => a.quantizedFromMatrix({ rows: 1, cols: 65537, data: new Float32Array(65537) }), RangeError, /65536 columns/);
    const q8 = await (a.quantizedFromMatrix(m(3, 4)) as Promise<unknown>);
    await rejects(() => a.quantizedSearch({}, ok, 1, 1, 'dot'), TypeError, /QuantizedMatrix handle/);
    await rejects(() => a.quantizedSearch(q8, ok, 1, 1, 'hamming'), RangeError, /metric/);
    await rejects(() => a.quantizedSearch(q8, ok, 2, 1, 'dot'), RangeError, /k/);
    await rejects(() => a.quantizedSearch(q8, ok, 1, 4, 'dot'), RangeError, /pool/);
    await rejects(() => a.quantizedSearch(q8, m(1, 5), 1, 1, 'dot'), RangeError, /queries must have 4 columns/);
    a.quantizedDispose(q8);
    await rejects(() => a.quantizedSearch(q8, ok, 1, 1, 'dot'), Error, /disposed/);
  });

  it('assembleJson (the JSON Lines of normalizeLines): shared, detached or shrunk buffers, strings that run code, texts too large', () => {
    const a = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
    const bytes = Buffer.from('{"a":}');
    const offsets = new Uint32Array([0, 5, 6]);
    const big = 2 ** 32;
    assert.equal(String(a.assembleJson(bytes, offsets, new Int32Array([0, -1, 1]), ['x\ud800'], big)), '{"a":"x\\ud800"}');
    assert.throws(() => a.assembleJson(bytes, offsets, new Int32Array([0]), [1], big), {
      name: 'TypeError',
      message: /strings\[0\] must be a string/,
    });
    assert.throws(() => a.assembleJson(bytes, offsets, [0], [], big), { name: 'TypeError', message: /program must be a Int32Array/ });
    assert.throws(() => a.assembleJson(bytes, offsets, new Int32Array([0]), []), {
      name: 'TypeError',
      message: /maxBytes must be an integer/,
    });
    assert.throws(() => a.assembleJson(bytes, offsets, new Int32Array([2]), [], big), {
      name: 'RangeError',
      message: /program\[0\] names fragment 2 of 2/,
    });
    assert.throws(() => a.assembleJson(bytes, offsets, new Int32Array([0, 0]), [], 9), {
      name: 'RangeError',
      message: /would take 10 bytes, more than the 9/,
    });
    // Another thread could change a SharedArrayBuffer between the checks and the copies.
    const shared = new Uint32Array(new SharedArrayBuffer(12));
    shared.set(offsets);
    assert.throws(() => a.assembleJson(bytes, shared, new Int32Array([0]), [], big), { name: 'TypeError', message: /SharedArrayBuffer/ });
    // A detached array reads as empty: a program of nothing, fragments that lie outside their bytes.
    const program = new Int32Array([0]);
    structuredClone(program.buffer, { transfer: [program.buffer] });
    assert.equal((a.assembleJson(bytes, offsets, program, [], big) as Buffer).length, 0);
    const gone = Uint8Array.from(bytes);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    assert.throws(() => a.assembleJson(gone, offsets, new Int32Array([0]), [], big), {
      name: 'RangeError',
      message: /within the bytes \(0\)/,
    });
    // A getter on strings that shrinks the fragments' buffer runs before the addon looks at the buffers (it crashed).
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void };
    const resizable = new Resizable(6, { maxByteLength: 6 });
    new Uint8Array(resizable).set(bytes);
    const strings: string[] = [];
    Object.defineProperty(strings, 0, { get: () => (resizable.resize(0), 'a'), enumerable: true });
    assert.throws(() => a.assembleJson(new Uint8Array(resizable), offsets, new Int32Array([0, -1]), strings, big), {
      name: 'RangeError',
      message: /offsets must lie within the bytes \(0\)/,
    });
  });

  it('refuses absurd output sizes instead of exhausting memory', async () => {
    // 2^21 × 2^20 outputs from tiny inputs would need 8 TiB.
    const x = { rows: 2 ** 21, cols: 1, data: new Float32Array(2 ** 21).fill(1) };
    const w = { rows: 2 ** 20, cols: 1, data: new Float32Array(2 ** 20).fill(1) };
    await rejects(() => kernels.dense(x, w, null), RangeError, /y \(x\.rows × weight\.rows\) would need/);
  });
});

describe('BAD CALL - buffers changed or detached after the call', () => {
  it('a detached input is refused', async () => {
    const x = m(3, 4);
    structuredClone(x.data.buffer, { transfer: [x.data.buffer] });
    await rejects(() => kernels.dense(x, m(2, 4), null), RangeError, /detached/);
    await rejects(() => addon.dense(x, m(2, 4), null, 'identity'), RangeError, /x\.data must hold/);
  });

  it('mutating or transferring an input after the call cannot change the result', async () => {
    const x = matrix([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    const w = matrix([
      [1, 0, 0, 0],
      [0, 0, 0, 1],
    ]);
    const pending = kernels.dense(x, w, null);
    x.data.fill(NaN);
    structuredClone(w.data.buffer, { transfer: [w.data.buffer] });
    const y = await pending;
    assert.deepEqual(Array.from(y.data), [1, 4, 5, 8]);
  });
});

describe('matrix()', () => {
  it('builds from rows and from typed arrays, and refuses ragged input', () => {
    const a = matrix([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    assert.deepEqual([a.rows, a.cols, Array.from(a.data)], [3, 2, [1, 2, 3, 4, 5, 6]]);
    const data = new Float32Array(6);
    assert.equal(matrix(data, 2).cols, 3);
    assert.equal(matrix(data, undefined, 3).rows, 2);
    assert.equal(matrix(data).rows, 1);
    assert.equal(matrix(data, 3, 2).data, data, 'no copy');
    assert.throws(() => matrix([[1, 2], [3]]), /data\[1\] has 1/);
    assert.throws(() => matrix([[1, 'x' as never]]), TypeError);
    assert.throws(() => matrix([]), RangeError);
    assert.throws(() => matrix(data, 4), /rows × cols/);
    assert.throws(() => matrix(data, 0), /rows must be a positive integer/);
    assert.throws(() => matrix([1, 2] as never), TypeError);
    assert.throws(() => matrix({} as never), TypeError);
  });
});

describe('BAD CALL - arrays with holes, and encoder options, are named, not read as zero rows', () => {
  it('TfIdfEncoder, MatchIndex and normalizeStream name the hole, the branch or the id', async () => {
    const { TfIdfEncoder, MatchIndex, Normalizer } = await import('../src/index.js');
    const enc = TfIdfEncoder.fit(['nurse', 'baker'], { dim: 64 });
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    const holes = ['nurse', , 'baker'] as string[];
    await rejects(() => enc.encode(holes), TypeError, /texts\[1\] must be a string; received undefined/);
    assert.throws(() => TfIdfEncoder.fit(holes), { name: 'TypeError', message: /texts\[1\] must be a string/ });
    await rejects(() => enc.encode(['nurse'], { branch: 'xx' as never }), RangeError, /branch must be one of 'anchor', 'positive', 'base'/);
    const index = await MatchIndex.build(enc, [{ id: 'a', text: 'nurse' }]);
    await rejects(() => index.search(holes), TypeError, /queries\[1\] must be a string/);
    await rejects(
      // biome-ignore lint/suspicious/noSparseArray: the hole is the point
      () => MatchIndex.build(enc, [{ id: 'a', text: 'x' }, , { id: 'b', text: 'y' }] as never),
      TypeError,
      /entries\[1\] must be an object/,
    );
    await index.dispose();
    // A saved TF-IDF description with an n-gram range no fit() gives (each query word took seconds).
    const spec = { ...enc.spec(), maxN: 2e9 };
    assert.throws(() => TfIdfEncoder.fromSpec(spec), { code: 'ERR_BAD_SPEC' });
    // An id that is NaN or Infinity names nothing.
    const n = await Normalizer.load({ encoder: enc });
    for (const id of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const drain = async () => {
        for await (const _ of n.normalizeStream([{ id, title: 'nurse' }]));
      };
      await rejects(drain, RangeError, /titles item 0's id must be a string or a number/);
    }
    await n.dispose();
  });
});
