/**
 * The CUDA backend as the JavaScript API shows it: device routing, the
 * precision option, GPU-resident DeviceMatrix values and their errors.
 *
 * Without CUDA (any machine): the refusals, 'auto' = 'cpu', precision checks.
 * With CUDA: every kernel at every precision against the CPU, DeviceMatrix
 * reuse, dispose, device mismatch, concurrency. Filling GPU memory to check
 * ERR_OUT_OF_MEMORY runs only with JOBBERT_TEST_GPU_OOM=1, because it would
 * starve the suite's other files, which run at the same time on the same GPU.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeviceMatrix, JobBERTError, kernels, matrix, type Precision } from '../src/index.js';
import { addon } from '../src/kernels/binding.js';
import { randomMatrix, rng, scoresRef, testSeed } from './reference.js';
import { rejectsWith } from './rejects.js';

const next = rng(testSeed('cuda.test'));
const hasCuda = kernels.backends().includes('cuda');
const reason = kernels.info().cudaStatus;
const needsGpu = { skip: !hasCuda && `no CUDA device: ${reason.split('\n')[0]}` };
const needsNoGpu = { skip: hasCuda && 'CUDA is available here: these check the machine without it' };
const PRECISIONS: Precision[] = ['fp32', 'tf32', 'bf16'];
// Expected error of each precision, relative to the scale of the values compared.
const TOLERANCE: Record<Precision, number> = { fp32: 1e-4, tf32: 2e-3, bf16: 2e-2 };

/** max |got − want| ≤ tol · max |want| (tol · 1 when want is all small). */
function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= worst)) (worst = e), (at = i);
  }
  assert.ok(
    worst <= tol * Math.max(scale, 1e-3),
    `${what}: max error ${worst} at ${at} (got ${got[at]}, want ${want[at]}) exceeds ${tol} × scale ${scale}`,
  );
}

function inputs() {
  const d = 96;
  return {
    x: randomMatrix(next, 37, d),
    w: randomMatrix(next, 50, d, 0.2),
    bias: randomMatrix(next, 1, 50, 0.1).data,
    gradY: randomMatrix(next, 37, 50),
    anchors: randomMatrix(next, 24, d),
    positives: randomMatrix(next, 24, d),
    negatives: randomMatrix(next, 11, d),
    queries: randomMatrix(next, 13, d),
    corpus: randomMatrix(next, 3000, d),
  };
}

describe('CUDA without a device', () => {
  const { x, w, bias, gradY, anchors, positives, queries, corpus } = inputs();
  const y = matrix(new Float32Array(37 * 50), 37, 50);

  it('lists only the CPU backend and says why CUDA is missing', needsNoGpu, () => {
    assert.deepEqual(kernels.backends(), ['cpu']);
    assert.ok(reason.length > 0);
    assert.equal(kernels.info().cudaStatus, reason);
  });

  it("refuses device 'cuda' on every kernel with ERR_CUDA_UNAVAILABLE and the reason", needsNoGpu, async () => {
    const why = new RegExp(`device 'cuda' was requested but CUDA is unavailable: ${reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
    const calls: [string, () => Promise<unknown>][] = [
      ['kernels.dense', () => kernels.dense(x, w, bias, { device: 'cuda' })],
      ['kernels.denseBackward', () => kernels.denseBackward(x, w, y, gradY, { device: 'cuda', precision: 'tf32' })],
      ['kernels.infoNCE', () => kernels.infoNCE(anchors, positives, { device: 'cuda' })],
      ['kernels.topK', () => kernels.topK(queries, corpus, 5, { device: 'cuda', precision: 'bf16' })],
    ];
    for (const [fn, call] of calls) {
      const e = await rejectsWith(call(), 'ERR_CUDA_UNAVAILABLE', why);
      assert.ok(e.message.startsWith(`${fn}: `), e.message);
    }
  });

  it('refuses toDevice with ERR_CUDA_UNAVAILABLE, after checking its argument', needsNoGpu, async () => {
    await rejectsWith(kernels.toDevice(corpus), 'ERR_CUDA_UNAVAILABLE', /kernels\.toDevice: CUDA is unavailable: ./);
    await rejectsWith(kernels.toDevice(kernels.resident(corpus)), 'ERR_CUDA_UNAVAILABLE');
    await assert.rejects(kernels.toDevice({ data: new Float32Array(3), rows: 2, cols: 2 }), RangeError);
    await assert.rejects(kernels.toDevice(null as never), TypeError);
  });

  it("runs device 'auto' (the default) on the CPU, equal to device 'cpu'", needsNoGpu, async () => {
    for (const device of [undefined, 'auto'] as const) {
      assert.deepEqual(
        await kernels.dense(x, w, bias, { device, activation: 'tanh' }),
        await kernels.dense(x, w, bias, { device: 'cpu', activation: 'tanh' }),
      );
      assert.deepEqual(
        await kernels.denseBackward(x, w, y, gradY, { device }),
        await kernels.denseBackward(x, w, y, gradY, { device: 'cpu' }),
      );
      assert.deepEqual(await kernels.infoNCE(anchors, positives, { device }), await kernels.infoNCE(anchors, positives, { device: 'cpu' }));
      assert.deepEqual(await kernels.topK(queries, corpus, 7, { device }), await kernels.topK(queries, corpus, 7, { device: 'cpu' }));
    }
  });
});

describe('precision option', () => {
  const { x, w, bias, gradY, anchors, positives, negatives, queries, corpus } = inputs();

  it('refuses a bad value with RangeError (TypeError for a non-string) naming precision', async () => {
    const bad = "precision must be one of 'fp32', 'tf32', 'bf16'; received 'fp16'";
    await assert.rejects(kernels.dense(x, w, null, { precision: 'fp16' as never }), {
      name: 'RangeError',
      message: `kernels.dense: ${bad}`,
    });
    await assert.rejects(kernels.denseBackward(x, w, gradY, gradY, { precision: 'fp16' as never }), {
      name: 'RangeError',
      message: `kernels.denseBackward: ${bad}`,
    });
    await assert.rejects(kernels.infoNCE(anchors, positives, { precision: 'fp16' as never }), {
      name: 'RangeError',
      message: `kernels.infoNCE: ${bad}`,
    });
    await assert.rejects(kernels.topK(queries, corpus, 3, { precision: 'fp16' as never }), {
      name: 'RangeError',
      message: `kernels.topK: ${bad}`,
    });
    await assert.rejects(kernels.topK(queries, corpus, 3, { precision: 16 as never, device: 'cpu' }), {
      name: 'TypeError',
      message: /kernels\.topK: precision must be one of/,
    });
  });

  it('is accepted on the CPU, which computes in fp32 whatever it says', async () => {
    for (const precision of ['tf32', 'bf16'] as const) {
      const opts = { device: 'cpu', precision } as const;
      assert.deepEqual(await kernels.dense(x, w, bias, opts), await kernels.dense(x, w, bias, { device: 'cpu' }));
      assert.deepEqual(
        await kernels.denseBackward(x, w, gradY, gradY, opts),
        await kernels.denseBackward(x, w, gradY, gradY, { device: 'cpu' }),
      );
      assert.deepEqual(
        await kernels.infoNCE(anchors, positives, { ...opts, negatives }),
        await kernels.infoNCE(anchors, positives, { device: 'cpu', negatives }),
      );
      assert.deepEqual(await kernels.topK(queries, corpus, 4, opts), await kernels.topK(queries, corpus, 4, { device: 'cpu' }));
    }
  });
});

describe('DeviceMatrix', () => {
  it('cannot be constructed from JavaScript', async () => {
    assert.throws(() => new (DeviceMatrix as unknown as new () => DeviceMatrix)(), {
      name: 'TypeError',
      message: /cannot be constructed directly; use `await kernels\.toDevice\(matrix\)`/,
    });
    assert.throws(() => Reflect.construct(DeviceMatrix, [matrix([[1]])]), TypeError);
    // An object that only claims the prototype holds no GPU memory and is refused.
    const forged = Object.create(DeviceMatrix.prototype) as DeviceMatrix;
    await assert.rejects(kernels.topK(matrix([[1, 0]]), forged as never, 1), TypeError);
    await assert.rejects(kernels.topK(matrix([[1, 0]]), forged as never, 1, { device: 'cpu' }), TypeError);
  });
});

describe('BAD CALL - the raw addon', () => {
  const m = matrix([
    [1, 2],
    [3, 4],
  ]);

  it('checks backend and precision itself, and reports a missing CUDA as ERR_CUDA_UNAVAILABLE', async () => {
    assert.throws(() => addon.topK(m, m, 1, 'cosine', 'gpu' as never), {
      name: 'RangeError',
      message: "backend must be one of 'cpu', 'cuda'; received 'gpu'",
    });
    assert.throws(() => addon.dense(m, m, null, 'identity', 'cpu', 'fp8'), {
      name: 'RangeError',
      message: /precision must be one of 'fp32', 'tf32', 'bf16'/,
    });
    assert.throws(() => addon.topK(m, m, 2048 + 1, 'cosine', 'cuda'), RangeError);
    if (!hasCuda) {
      await assert.rejects(addon.topK(m, m, 1, 'cosine', 'cuda', 'bf16'), { code: 'ERR_CUDA_UNAVAILABLE', message: reason });
      await assert.rejects(addon.toDevice(m), { code: 'ERR_CUDA_UNAVAILABLE', message: reason });
    }
  });

  it('refuses a DeviceMatrix handle on the CPU and cannot construct one', needsGpu, async () => {
    const dev = await kernels.toDevice(m);
    const handle = dev.handle('test', 'corpus');
    assert.throws(() => addon.topK(m, handle, 1, 'cosine', 'cpu'), { code: 'ERR_DEVICE_MISMATCH', message: /corpus is a DeviceMatrix/ });
    assert.throws(() => addon.residentConcat([handle]), { code: 'ERR_DEVICE_MISMATCH' });
    assert.throws(() => addon.toDevice(handle as never), TypeError);
    const NativeClass = Object.getPrototypeOf(handle).constructor as new (...args: unknown[]) => unknown;
    assert.throws(() => new NativeClass(m), { name: 'TypeError', message: /cannot be constructed directly/ });
    dev.dispose();
    assert.throws(() => addon.topK(m, handle, 1, 'cosine', 'cuda'), { code: 'ERR_DISPOSED' });
    assert.throws(() => handle.toFloat32Array(), { code: 'ERR_DISPOSED' }); // as ResidentMatrix's raw methods: at once
  });
});

describe('README GPU example', () => {
  it('runs as written, with or without a GPU', async () => {
    const vectors = matrix(new Float32Array(1024 * 4).fill(0.5), 4, 1024);
    const corpus = kernels.backends().includes('cuda') ? await kernels.toDevice(vectors) : kernels.resident(vectors);
    try {
      const { indices, scores } = await kernels.topK(vectors, corpus, 3, { precision: 'tf32' });
      assert.deepEqual(Array.from(indices), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]); // all equal: ties to the lower index
      for (const s of scores) assert.ok(Math.abs(s - 1) < 1e-3);
    } finally {
      corpus.dispose();
    }
    assert.equal(corpus.disposed, true);
  });
});

describe('CUDA kernels on the GPU', () => {
  const { x, w, bias, gradY, anchors, positives, negatives, queries, corpus } = inputs();

  it('dense matches the CPU at every precision', needsGpu, async () => {
    for (const activation of ['identity', 'tanh'] as const) {
      const want = await kernels.dense(x, w, bias, { activation, device: 'cpu' });
      for (const precision of PRECISIONS) {
        const got = await kernels.dense(x, w, bias, { activation, device: 'cuda', precision });
        assert.deepEqual([got.rows, got.cols], [want.rows, want.cols]);
        assertClose(got.data, want.data, TOLERANCE[precision], `dense ${activation} ${precision}`);
      }
    }
  });

  it('denseBackward matches the CPU at every precision', needsGpu, async () => {
    for (const activation of ['identity', 'tanh'] as const) {
      const y = await kernels.dense(x, w, bias, { activation, device: 'cpu' });
      const want = await kernels.denseBackward(x, w, y, gradY, { activation, device: 'cpu' });
      for (const precision of PRECISIONS) {
        const got = await kernels.denseBackward(x, w, y, gradY, { activation, device: 'cuda', precision });
        const tol = TOLERANCE[precision];
        assertClose(got.gradX.data, want.gradX.data, tol, `gradX ${activation} ${precision}`);
        assertClose(got.gradWeight.data, want.gradWeight.data, tol, `gradWeight ${activation} ${precision}`);
        assertClose(got.gradBias, want.gradBias, tol, `gradBias ${activation} ${precision}`);
      }
    }
  });

  it('infoNCE matches the CPU at every precision, with and without negatives, one- and two-way', needsGpu, async () => {
    for (const symmetric of [false, true]) {
      for (const negs of [undefined, negatives]) {
        const want = await kernels.infoNCE(anchors, positives, { symmetric, negatives: negs, device: 'cpu' });
        for (const precision of PRECISIONS) {
          const what = `infoNCE symmetric=${symmetric} negatives=${negs !== undefined} ${precision}`;
          const got = await kernels.infoNCE(anchors, positives, { symmetric, negatives: negs, device: 'cuda', precision });
          const tol = TOLERANCE[precision];
          assert.ok(Math.abs(got.loss - want.loss) <= tol * Math.max(1, want.loss), `${what}: loss ${got.loss} vs ${want.loss}`);
          assertClose(got.gradAnchors.data, want.gradAnchors.data, tol, `${what}: gradAnchors`);
          assertClose(got.gradPositives.data, want.gradPositives.data, tol, `${what}: gradPositives`);
          assert.equal(got.gradNegatives === undefined, negs === undefined);
          if (negs) assertClose(got.gradNegatives!.data, want.gradNegatives!.data, tol, `${what}: gradNegatives`);
        }
      }
    }
  });

  it('topK matches the CPU at every precision and metric', needsGpu, async () => {
    for (const metric of ['cosine', 'dot'] as const) {
      const exact = scoresRef(queries, corpus, metric);
      const scale = metric === 'cosine' ? 1 : Math.max(...exact.map((r) => Math.max(...r.map(Math.abs))));
      const want = await kernels.topK(queries, corpus, 10, { metric, device: 'cpu' });
      for (const precision of PRECISIONS) {
        const what = `topK ${metric} ${precision}`;
        const tol = TOLERANCE[precision] * scale;
        const got = await kernels.topK(queries, corpus, 10, { metric, device: 'cuda', precision });
        assert.equal(got.k, 10);
        for (let i = 0; i < queries.rows; i++) {
          for (let j = 0; j < 10; j++) {
            const r = i * 10 + j;
            // Each pick is as good as the CPU's pick at that rank, up to the precision's error.
            assert.ok(Math.abs(exact[i][got.indices[r]] - want.scores[r]) <= tol, `${what}: query ${i} rank ${j} picked ${got.indices[r]}`);
            assert.ok(
              Math.abs(got.scores[r] - want.scores[r]) <= tol,
              `${what}: query ${i} rank ${j} score ${got.scores[r]} vs ${want.scores[r]}`,
            );
            if (j > 0) assert.ok(got.scores[r] <= got.scores[r - 1], `${what}: query ${i} not sorted at rank ${j}`);
            // In fp32 the picks are the CPU's own, except between near-equal scores.
            const nearTie = (j > 0 && want.scores[r - 1] - want.scores[r] < 1e-5) || (j < 9 && want.scores[r] - want.scores[r + 1] < 1e-5);
            if (precision === 'fp32' && !nearTie) assert.equal(got.indices[r], want.indices[r], `${what}: query ${i} rank ${j}`);
          }
        }
      }
    }
  });

  it('clamps k to the corpus and keeps ties to the lower index', needsGpu, async () => {
    const tied = matrix([
      [1, 0],
      [0, 1],
      [1, 0],
      [2, 0],
      [1, 0],
    ]);
    const got = await kernels.topK(matrix([[1, 0]]), tied, 9, { device: 'cuda' });
    assert.equal(got.k, 5);
    assert.deepEqual(Array.from(got.indices), [0, 2, 3, 4, 1]);
  });

  it("runs a k beyond the GPU's limit on the CPU under 'auto', and refuses it under 'cuda'", needsGpu, async () => {
    const big = kernels.cudaMaxTopK + 1;
    assert.deepEqual(await kernels.topK(queries, corpus, big), await kernels.topK(queries, corpus, big, { device: 'cpu' }));
    await assert.rejects(kernels.topK(queries, corpus, big, { device: 'cuda' }), {
      name: 'RangeError',
      message: /kernels\.topK: k must be at most 2048 on CUDA/,
    });
  });

  it("runs device 'auto' on the GPU", needsGpu, async () => {
    assert.deepEqual(
      await kernels.topK(queries, corpus, 5, { precision: 'tf32' }),
      await kernels.topK(queries, corpus, 5, { device: 'cuda', precision: 'tf32' }),
    );
    assert.deepEqual(await kernels.dense(x, w, bias), await kernels.dense(x, w, bias, { device: 'cuda' }));
  });

  it('refuses NaN and zero vectors as the CPU does', needsGpu, async () => {
    const nan = matrix([
      [1, 2],
      [NaN, 0],
    ]);
    await assert.rejects(kernels.topK(nan, matrix([[1, 0]]), 1, { device: 'cuda' }), { name: 'RangeError', message: /queries/ });
    await assert.rejects(kernels.toDevice(nan), { name: 'RangeError', message: /matrix/ });
    await assert.rejects(kernels.topK(matrix([[0, 0]]), matrix([[1, 0]]), 1, { device: 'cuda' }), RangeError);
  });
});

describe('DeviceMatrix on the GPU', () => {
  const { x, w, bias, anchors, positives, negatives, queries, corpus } = inputs();

  it('uploads and downloads a Matrix or a ResidentMatrix unchanged', needsGpu, async () => {
    const a = await kernels.toDevice(corpus);
    assert.ok(a instanceof DeviceMatrix);
    assert.deepEqual([a.rows, a.cols, a.disposed], [corpus.rows, corpus.cols, false]);
    assert.deepEqual(await a.toMatrix(), corpus);
    const held = kernels.resident(corpus);
    const b = await kernels.toDevice(held);
    held.dispose(); // the upload has its own copy
    assert.deepEqual(await b.toMatrix(), corpus);
    a.dispose();
    b.dispose();
  });

  it('gives the same results as the host matrix it holds, call after call', needsGpu, async () => {
    const devCorpus = await kernels.toDevice(corpus);
    const devWeight = await kernels.toDevice(w);
    const devNegatives = await kernels.toDevice(negatives);
    for (const precision of PRECISIONS) {
      const opts = { device: 'cuda', precision } as const;
      const wantTop = await kernels.topK(queries, corpus, 8, opts);
      const wantDense = await kernels.dense(x, w, bias, { ...opts, activation: 'tanh' });
      const wantNce = await kernels.infoNCE(anchors, positives, { ...opts, negatives });
      for (let round = 0; round < 2; round++) {
        assert.deepEqual(await kernels.topK(queries, devCorpus, 8, opts), wantTop);
        assert.deepEqual(await kernels.topK(queries, devCorpus, 8, { precision }), wantTop); // 'auto'
        assert.deepEqual(await kernels.dense(x, devWeight, bias, { ...opts, activation: 'tanh' }), wantDense);
        assert.deepEqual(await kernels.infoNCE(anchors, positives, { ...opts, negatives: devNegatives }), wantNce);
      }
    }
    for (const d of [devCorpus, devWeight, devNegatives]) d.dispose();
    // A ResidentMatrix is copied to the GPU for each call, with the same result.
    assert.deepEqual(
      await kernels.topK(queries, kernels.resident(corpus), 8, { device: 'cuda' }),
      await kernels.topK(queries, corpus, 8, { device: 'cuda' }),
    );
  });

  it('is refused after dispose, while a call already running finishes', needsGpu, async () => {
    const big = randomMatrix(next, 50_000, 96);
    const dev = await kernels.toDevice(big);
    const expected = await kernels.topK(queries, dev, 3);
    const running = [kernels.topK(queries, dev, 3), kernels.topK(queries, dev, 3, { precision: 'bf16' }), dev.toMatrix()];
    dev.dispose();
    dev.dispose(); // idempotent
    assert.equal(dev.disposed, true);
    const [top, , back] = await Promise.all(running);
    assert.deepEqual(top, expected);
    assert.deepEqual(back, big);
    await rejectsWith(kernels.topK(queries, dev, 3), 'ERR_DISPOSED', /kernels\.topK: corpus is a DeviceMatrix that was disposed/);
    await rejectsWith(kernels.dense(dev, w, null), 'ERR_DISPOSED', /x is a DeviceMatrix that was disposed/);
    await rejectsWith(dev.toMatrix(), 'ERR_DISPOSED', /DeviceMatrix\.toMatrix: the DeviceMatrix was disposed/);
    assert.deepEqual([dev.rows, dev.cols], [50_000, 96]);
  });

  it('is refused by a call that runs on the CPU with ERR_DEVICE_MISMATCH', needsGpu, async () => {
    const dev = await kernels.toDevice(corpus);
    const hint = /pass device 'cuda' or 'auto', or call corpus\.toMatrix\(\) to copy it back/;
    await rejectsWith(
      kernels.topK(queries, dev, 3, { device: 'cpu' }),
      'ERR_DEVICE_MISMATCH',
      /kernels\.topK: corpus is a DeviceMatrix \(GPU memory\) but this call runs on the CPU/,
    );
    await rejectsWith(kernels.topK(queries, dev, 3, { device: 'cpu' }), 'ERR_DEVICE_MISMATCH', hint);
    const devX = await kernels.toDevice(x);
    await rejectsWith(kernels.dense(devX, w, null, { device: 'cpu' }), 'ERR_DEVICE_MISMATCH', /x is a DeviceMatrix/);
    const devNegatives = await kernels.toDevice(negatives);
    await rejectsWith(kernels.infoNCE(anchors, positives, { negatives: devNegatives, device: 'cpu' }), 'ERR_DEVICE_MISMATCH', /negatives/);
    assert.throws(() => kernels.resident(dev as never), { code: 'ERR_DEVICE_MISMATCH' });
    await assert.rejects(kernels.toDevice(dev as never), { name: 'TypeError', message: /in GPU memory already/ });
    // Shapes are checked as for any matrix.
    await assert.rejects(kernels.topK(randomMatrix(next, 2, 5), dev, 3), {
      name: 'RangeError',
      message: /corpus\.cols must be 5; received 96/,
    });
    for (const d of [dev, devX, devNegatives]) d.dispose();
  });

  it('serves many calls in flight at once with the results of sequential calls', needsGpu, async () => {
    const dev = await kernels.toDevice(corpus);
    const jobs = Array.from({ length: 10 }, (_, i) => {
      const q = randomMatrix(next, 5 + i, 96);
      const a = randomMatrix(next, 8 + i, 96);
      const p = randomMatrix(next, 8 + i, 96);
      const precision = PRECISIONS[i % 3];
      const opts = { device: 'cuda', precision } as const;
      return () =>
        Promise.all([
          kernels.topK(q, dev, 4 + i, opts),
          kernels.topK(q, corpus, 4 + i, opts),
          kernels.dense(q, w, bias, { ...opts, activation: 'tanh' }),
          kernels.infoNCE(a, p, { ...opts, symmetric: i % 2 === 0 }),
          kernels.dense(q, w, null, opts).then((y) => kernels.denseBackward(q, w, y, y, opts)),
        ]);
    });
    const sequential = [];
    for (const job of jobs) sequential.push(await job());
    const concurrent = await Promise.all(jobs.map((job) => job()));
    dev.dispose();
    assert.deepEqual(concurrent, sequential);
  });

  it('fills GPU memory until ERR_OUT_OF_MEMORY, without a crash, and recovers', {
    skip:
      (!hasCuda && `no CUDA device: ${reason.split('\n')[0]}`) ||
      (!process.env.JOBBERT_TEST_GPU_OOM && 'fills GPU memory: set JOBBERT_TEST_GPU_OOM=1 and run this file alone'),
    timeout: 300_000,
  }, async () => {
    // 2 GiB uploaded again and again from one ResidentMatrix: no host memory
    // is needed per upload, and the device runs out after (its memory / 2 GiB).
    const block = kernels.resident({ data: new Float32Array(2 ** 29), rows: 2 ** 19, cols: 2 ** 10 });
    const held: DeviceMatrix[] = [];
    let error: unknown;
    try {
      for (let i = 0; i < 256 && error === undefined; i++) {
        try {
          held.push(await kernels.toDevice(block));
        } catch (e) {
          error = e;
        }
      }
    } finally {
      for (const d of held) d.dispose();
      block.dispose();
    }
    assert.ok(error instanceof JobBERTError, `expected ERR_OUT_OF_MEMORY after ${held.length} uploads; got ${String(error)}`);
    assert.equal(error.code, 'ERR_OUT_OF_MEMORY', error.message);
    assert.match(error.message, /GPU/);
    assert.ok(held.length > 0);
    // The device still works.
    const small = await kernels.toDevice(corpus);
    assert.deepEqual(await kernels.topK(queries, small, 3), await kernels.topK(queries, corpus, 3, { device: 'cuda' }));
    small.dispose();
  });
});
