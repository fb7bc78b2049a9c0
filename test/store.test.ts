/**
 * Resident matrices on disk: ResidentMatrix.fromFile / writeTo / take / concat /
 * toMatrix and checksum(). Round trips are bit-identical, corruption and short
 * files are ERR_CORRUPT, I/O failures ERR_IO, bad calls TypeError/RangeError
 * naming the argument (against the facade and the raw addon), and a 256 MB
 * load holds one copy of the data, not two.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { addon } from '../src/kernels/binding.js';
import { JobBERTError } from '../src/errors.js';
import type { Matrix } from '../src/kernels/matrix.js';
import { checksum, ResidentMatrix } from '../src/kernels/resident.js';
import { randomMatrix, rng, testSeed } from './reference.js';

const next = rng(testSeed('store.test'));
const dir = mkdtempSync(join(tmpdir(), 'jobbert-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const bytesOf = (m: { data: Float32Array }) => new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
const rowsOf = (m: Matrix, rows: number[]): Float32Array => {
  const out = new Float32Array(rows.length * m.cols);
  rows.forEach((r, i) => out.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols));
  return out;
};
/** A file of `size` bytes of a recognisable pattern. */
function patternFile(name: string, size: number): string {
  const path = join(dir, name);
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  writeFileSync(path, bytes);
  return path;
}
const isCode = (code: string, pattern?: RegExp) => (e: unknown) =>
  e instanceof JobBERTError && e.code === code && (!pattern || pattern.test(e.message));

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

describe('checksum', () => {
  it('has the pinned values of the format (store.h) and reads any view of the bytes', () => {
    assert.equal(checksum(new Uint8Array(0)), '8c28b28a48fe917b');
    assert.equal(checksum(Buffer.from('123456789')), '1f46b11540419244');
    const inside = Buffer.from('xx123456789yy');
    assert.equal(checksum(inside.subarray(2, 11)), '1f46b11540419244');
    assert.equal(checksum(new DataView(inside.buffer, inside.byteOffset + 2, 9)), '1f46b11540419244');
    const f = randomMatrix(next, 3, 5).data;
    assert.equal(checksum(f), checksum(new Uint8Array(f.buffer)));
    assert.match(checksum(f), /^[0-9a-f]{16}$/);
  });

  it('changes when one bit changes', () => {
    const bytes = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => i * 7);
    const base = checksum(bytes);
    for (const at of [0, 1024 * 1024, bytes.length - 1]) {
      bytes[at] ^= 0x10;
      assert.notEqual(checksum(bytes), base, `bit flip at ${at}`);
      bytes[at] ^= 0x10;
    }
    assert.equal(checksum(bytes), base);
  });

  it('BAD CALL - refuses anything but an ArrayBufferView, also in the addon', () => {
    assert.throws(
      () => checksum('abc' as never),
      (e: unknown) => e instanceof TypeError && /checksum: bytes must be an ArrayBufferView/.test(e.message),
    );
    assert.throws(() => checksum(new ArrayBuffer(4) as never), TypeError);
    assert.throws(() => addon.checksum(5 as never), /bytes must be an ArrayBufferView/);
    assert.throws(() => addon.checksum(undefined as never), TypeError);
  });
});

describe('ResidentMatrix on disk', () => {
  it('writeTo → fromFile is bit-identical, keeps the bytes around it, and agrees on the checksum', async () => {
    const m = randomMatrix(next, 301, 17);
    m.data[5] = -0;
    m.data[6] = 1e-42; // a subnormal survives too
    const held = new ResidentMatrix(m);
    const path = patternFile('roundtrip.bin', 64 + m.data.byteLength + 100);
    const before = readFileSync(path);
    const sum = await held.writeTo(path, 64);
    assert.equal(sum, checksum(m.data));
    const after = readFileSync(path);
    assert.equal(after.length, before.length);
    assert.deepEqual(after.subarray(0, 64), before.subarray(0, 64));
    assert.deepEqual(after.subarray(64 + m.data.byteLength), before.subarray(64 + m.data.byteLength));
    assert.deepEqual(new Uint8Array(after.subarray(64, 64 + m.data.byteLength)), bytesOf(m));

    const loaded = await ResidentMatrix.fromFile(path, { offset: 64, rows: 301, cols: 17, checksum: sum });
    assert.ok(loaded instanceof ResidentMatrix);
    assert.deepEqual([loaded.rows, loaded.cols, loaded.disposed], [301, 17, false]);
    const back = await loaded.toMatrix();
    assert.deepEqual(bytesOf(back), bytesOf(m));
    assert.equal(await loaded.writeTo(path, 64), sum);
    const unchecked = await ResidentMatrix.fromFile(path, { offset: 64, rows: 301, cols: 17 });
    assert.deepEqual(bytesOf(await unchecked.toMatrix()), bytesOf(m));
    await ResidentMatrix.fromFile(path, { offset: 64, rows: 301, cols: 17, checksum: sum.toUpperCase() });
  });

  it('works with kernels like any resident (a loaded corpus searches as the original)', async () => {
    const { kernels } = await import('../src/index.js');
    const corpus = randomMatrix(next, 200, 24);
    const path = patternFile('corpus.bin', corpus.data.byteLength);
    const sum = await new ResidentMatrix(corpus).writeTo(path, 0);
    const loaded = await ResidentMatrix.fromFile(path, { rows: 200, cols: 24, checksum: sum });
    const queries = randomMatrix(next, 5, 24);
    assert.deepEqual(await kernels.topK(queries, loaded, 7), await kernels.topK(queries, corpus, 7));
  });

  it('a FIFO, a device or a folder is ERR_IO, at once: a FIFO waited for a writer forever (the process could not exit), /dev/zero read as a file of any length', async () => {
    const { QuantizedMatrix } = await import('../src/match/quantized.js');
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const [path, what] of [
      [fifo, 'a FIFO'],
      ['/dev/zero', 'a device or socket'],
      [dir, 'a directory'],
    ]) {
      const notRegular = isCode('ERR_IO', new RegExp(`is not a regular file \\(${what}\\)`));
      await assert.rejects(ResidentMatrix.fromFile(path, { rows: 10, cols: 10 }), notRegular, path);
      await assert.rejects(QuantizedMatrix.fromFile(path, { rows: 10, cols: 10 }), notRegular, path);
    }
    // Writing, a FIFO without a reader fails to open at once (ENXIO): the same ERR_IO, not a wait.
    await assert.rejects(new ResidentMatrix(randomMatrix(next, 2, 2)).writeTo(fifo, 0), isCode('ERR_IO', /fifo/));
  });

  it('a wrong checksum is ERR_CORRUPT naming the path; a short file is ERR_CORRUPT; a missing one ERR_IO', async () => {
    const m = randomMatrix(next, 40, 8);
    const path = patternFile('corrupt.bin', 16 + m.data.byteLength);
    const sum = await new ResidentMatrix(m).writeTo(path, 16);
    const wrong = (BigInt(`0x${sum}`) ^ 1n).toString(16).padStart(16, '0');
    await assert.rejects(
      ResidentMatrix.fromFile(path, { offset: 16, rows: 40, cols: 8, checksum: wrong }),
      isCode('ERR_CORRUPT', /checksum mismatch in '.*corrupt\.bin'/),
    );
    // One flipped byte in the file.
    const bytes = readFileSync(path);
    bytes[16 + 333] ^= 0x01;
    writeFileSync(path, bytes);
    await assert.rejects(ResidentMatrix.fromFile(path, { offset: 16, rows: 40, cols: 8, checksum: sum }), isCode('ERR_CORRUPT'));
    // Truncated by one byte.
    truncateSync(path, 16 + m.data.byteLength - 1);
    await assert.rejects(
      ResidentMatrix.fromFile(path, { offset: 16, rows: 40, cols: 8 }),
      isCode('ERR_CORRUPT', /corrupt\.bin' is truncated/),
    );
    await assert.rejects(
      ResidentMatrix.fromFile(path, { offset: 16, rows: 40, cols: 8, checksum: sum }),
      isCode('ERR_CORRUPT', /truncated/),
    );

    const missing = join(dir, 'no-such-file.bin');
    await assert.rejects(ResidentMatrix.fromFile(missing, { rows: 1, cols: 1 }), isCode('ERR_IO', /no-such-file\.bin.*No such file/));
    await assert.rejects(new ResidentMatrix(m).writeTo(missing, 0), isCode('ERR_IO', /no-such-file\.bin/));
    await assert.rejects(ResidentMatrix.fromFile(dir, { rows: 1, cols: 1 }), isCode('ERR_IO'));
  });

  it("rejections carry the caller's stack", async () => {
    let error: Error | undefined;
    try {
      await ResidentMatrix.fromFile(join(dir, 'absent.bin'), { rows: 1, cols: 1 });
    } catch (e) {
      error = e as Error;
    }
    assert.ok(error instanceof JobBERTError);
    assert.match(error.stack ?? '', /store\.test\.ts/);
  });

  it('take gives the listed rows in order; concat stacks matrices and residents', async () => {
    const m = randomMatrix(next, 50, 6);
    const held = new ResidentMatrix(m);
    const pick = [49, 0, 7, 7, 31];
    const taken = await held.take(pick);
    assert.deepEqual([taken.rows, taken.cols], [5, 6]);
    assert.deepEqual((await taken.toMatrix()).data, rowsOf(m, pick));
    const asInt32 = await held.take(Int32Array.from([3]));
    assert.deepEqual((await asInt32.toMatrix()).data, rowsOf(m, [3]));

    const extra = randomMatrix(next, 4, 6);
    const joined = await ResidentMatrix.concat([held, extra, taken]);
    assert.deepEqual([joined.rows, joined.cols], [59, 6]);
    const expected = new Float32Array(59 * 6);
    expected.set(m.data);
    expected.set(extra.data, 50 * 6);
    expected.set(rowsOf(m, pick), 54 * 6);
    assert.deepEqual((await joined.toMatrix()).data, expected);
    // The new residents own their memory: disposing the sources changes nothing.
    held.dispose();
    assert.deepEqual((await joined.toMatrix()).data, expected);
    assert.deepEqual((await taken.toMatrix()).data, rowsOf(m, pick));
  });

  it('concat copies plain parts before returning, so later writes do not reach the result', async () => {
    const plain = randomMatrix(next, 10, 3);
    const expected = plain.data.slice();
    const pending = ResidentMatrix.concat([plain]);
    plain.data.fill(9);
    assert.deepEqual((await (await pending).toMatrix()).data, expected);
  });

  it('disposing a resident while writeTo, take or toMatrix runs is safe', async () => {
    const m = randomMatrix(next, 16_384, 1024); // 64 MB
    const expectedSum = checksum(m.data);
    const path = patternFile('dispose.bin', m.data.byteLength);
    const held = new ResidentMatrix(m);
    const writing = held.writeTo(path, 0);
    const taking = held.take([16_383, 0]);
    const copying = held.toMatrix();
    held.dispose();
    assert.equal(held.disposed, true);
    assert.equal(await writing, expectedSum);
    assert.deepEqual((await (await taking).toMatrix()).data, rowsOf(m, [16_383, 0]));
    assert.deepEqual(bytesOf(await copying), bytesOf(m));
    const loaded = await ResidentMatrix.fromFile(path, { rows: 16_384, cols: 1024, checksum: expectedSum });
    loaded.dispose();
  });

  it('every method refuses a disposed matrix with ERR_DISPOSED', async () => {
    const held = new ResidentMatrix(randomMatrix(next, 3, 2));
    held.dispose();
    const path = patternFile('disposed.bin', 24);
    await assert.rejects(held.writeTo(path, 0), isCode('ERR_DISPOSED', /ResidentMatrix\.writeTo/));
    await assert.rejects(held.take([0]), isCode('ERR_DISPOSED', /ResidentMatrix\.take/));
    await assert.rejects(held.toMatrix(), isCode('ERR_DISPOSED', /ResidentMatrix\.toMatrix/));
    await assert.rejects(
      ResidentMatrix.concat([randomMatrix(next, 1, 2), held]),
      isCode('ERR_DISPOSED', /parts\[1\] is a ResidentMatrix that was disposed/),
    );
  });
});

describe('BAD CALL - ResidentMatrix storage', () => {
  const held = new ResidentMatrix(randomMatrix(next, 5, 4));
  const path = patternFile('bad.bin', 80);

  it('fromFile names the bad argument', async () => {
    const fromFile = (p: unknown, o: unknown) => ResidentMatrix.fromFile(p as string, o as never);
    await rejects(() => fromFile(42, { rows: 1, cols: 1 }), TypeError, /fromFile: path must be a file path string; received 42/);
    await rejects(() => fromFile('', { rows: 1, cols: 1 }), RangeError, /path must be a non-empty file path/);
    await rejects(() => fromFile('a\0b', { rows: 1, cols: 1 }), RangeError, /path must not contain NUL/);
    await rejects(() => fromFile(path, undefined), TypeError, /options \{ rows, cols/);
    await rejects(() => fromFile(path, 'x'), TypeError, /options must be an object/);
    await rejects(() => fromFile(path, { rows: 1, cols: 1, offset: -1 }), RangeError, /offset must be an integer in \[0, /);
    await rejects(() => fromFile(path, { rows: 1, cols: 1, offset: 0.5 }), RangeError, /offset/);
    await rejects(() => fromFile(path, { rows: 1, cols: 1, offset: 2 ** 60 }), RangeError, /offset/);
    await rejects(() => fromFile(path, { rows: 1, cols: 1, offset: '0' }), TypeError, /offset must be an integer/);
    await rejects(() => fromFile(path, { rows: 0, cols: 1 }), RangeError, /rows must be an integer in \[1, /);
    await rejects(() => fromFile(path, { cols: 1 }), TypeError, /rows must be an integer; received undefined/);
    await rejects(() => fromFile(path, { rows: 1, cols: 2 ** 31 }), RangeError, /cols/);
    await rejects(() => fromFile(path, { rows: 1, cols: NaN }), RangeError, /cols/);
    await rejects(
      () => fromFile(path, { rows: 1, cols: 1, checksum: 'abc' }),
      RangeError,
      /checksum must be 16 hex digits; received 'abc'/,
    );
    await rejects(() => fromFile(path, { rows: 1, cols: 1, checksum: 'zzzzzzzzzzzzzzzz' }), RangeError, /checksum/);
    await rejects(() => fromFile(path, { rows: 1, cols: 1, checksum: 12 }), TypeError, /checksum must be a string/);
  });

  it('writeTo, take and concat name the bad argument', async () => {
    await rejects(() => held.writeTo(7 as never, 0), TypeError, /writeTo: path must be a file path string/);
    await rejects(() => held.writeTo(path, -8), RangeError, /writeTo: offset must be an integer in \[0, /);
    await rejects(() => held.writeTo(path, undefined as never), TypeError, /offset must be an integer/);
    await rejects(() => held.take('0' as never), TypeError, /take: rows must be an Int32Array or an array/);
    await rejects(() => held.take([]), RangeError, /take: rows must hold at least one row index/);
    await rejects(() => held.take([0, 5]), RangeError, /take: rows\[1\] must be a row index in \[0, 4\]; received 5/);
    await rejects(() => held.take(Int32Array.from([-1])), RangeError, /rows\[0\] must be a row index/);
    await rejects(() => held.take([1.5]), RangeError, /rows\[0\]/);
    await rejects(() => held.take(['1'] as never), TypeError, /rows\[0\]/);
    await rejects(() => ResidentMatrix.concat('x' as never), TypeError, /concat: parts must be an array/);
    await rejects(() => ResidentMatrix.concat([]), RangeError, /concat: parts must hold at least one matrix/);
    await rejects(
      () => ResidentMatrix.concat([held, randomMatrix(next, 2, 3)]),
      RangeError,
      /parts\[1\]\.cols must be 4 \(parts\[0\]\.cols\); received 3/,
    );
    await rejects(
      () => ResidentMatrix.concat([held, { rows: 1, cols: 4, data: [1, 2, 3, 4] } as never]),
      TypeError,
      /parts\[1\]\.data must be a Float32Array/,
    );
    await rejects(() => ResidentMatrix.concat([null as never]), TypeError, /parts\[0\] must be a Matrix/);
  });

  it('the raw addon refuses the same calls without crashing', async () => {
    const native = held.handle('test', 'held');
    const cases: [() => unknown, ErrorConstructor, RegExp][] = [
      [() => addon.residentFromFile(1 as never, 0, 1, 1, null), TypeError, /path must be a file path string/],
      [() => addon.residentFromFile('', 0, 1, 1, null), RangeError, /path must be a non-empty/],
      [() => addon.residentFromFile(path, -1, 1, 1, null), RangeError, /offset must be an integer/],
      [() => addon.residentFromFile(path, 2 ** 53, 1, 1, null), RangeError, /offset/],
      [() => addon.residentFromFile(path, 0, 0, 1, null), RangeError, /rows/],
      [() => addon.residentFromFile(path, 0, 1, 'x' as never, null), TypeError, /cols/],
      [() => addon.residentFromFile(path, 0, 2 ** 31 - 1, 2 ** 31 - 1, null), RangeError, /rows × cols/],
      [() => addon.residentFromFile(path, 0, 1, 1, 'nothex' as never), RangeError, /checksum must be 16 hex digits/],
      [() => addon.residentFromFile(path, 0, 1, 1, 5 as never), TypeError, /checksum must be a string/],
      [() => native.writeTo(3 as never, 0), TypeError, /path/],
      [() => native.writeTo(path, 1.5), RangeError, /offset/],
      [() => native.take([1, 2] as never), TypeError, /rows must be an Int32Array/],
      [() => native.take(new Int32Array(0)), RangeError, /at least one row index/],
      [() => native.take(Int32Array.from([0, 99])), RangeError, /rows\[1\] must be a row index in \[0, 4\]; received 99/],
      [() => addon.residentConcat({} as never), TypeError, /parts must be an array/],
      [() => addon.residentConcat([]), RangeError, /at least one matrix/],
      [() => addon.residentConcat([native, { rows: 1, cols: 3, data: new Float32Array(3) }]), RangeError, /parts\[1\]\.cols must be 4/],
      [() => addon.residentConcat([5 as never]), TypeError, /parts\[0\] must be a Matrix/],
    ];
    for (const [run, type, pattern] of cases) await rejects(run, type, pattern);
    // An External cannot be made from JS, so the adopting constructor path is unreachable.
    assert.throws(() => new addon.ResidentMatrix({} as never), TypeError);
    const other = new addon.ResidentMatrix({ rows: 1, cols: 4, data: new Float32Array(4) });
    other.dispose();
    await assert.rejects(
      async () => other.writeTo(path, 0),
      (e: unknown) => (e as { code?: string }).code === 'ERR_DISPOSED',
    );
    await assert.rejects(
      async () => addon.residentConcat([other]),
      (e: unknown) => (e as { code?: string }).code === 'ERR_DISPOSED',
    );
  });
});

describe('ResidentMatrix on disk, at scale', () => {
  it('a 256 MB round trip is bit-identical and holds one copy in memory, not two', async () => {
    const cols = 1024;
    const tile = randomMatrix(next, 256, cols); // 1 MiB
    const tileHeld = new ResidentMatrix(tile);
    const copies = 256;
    const big = await ResidentMatrix.concat(new Array(copies).fill(tileHeld));
    const rows = big.rows;
    const bytes = rows * cols * 4;
    assert.equal(bytes, 256 * 1024 * 1024);
    const path = patternFile('big.bin', 0);
    const sum = await big.writeTo(path, 0);
    big.dispose();

    const rssBefore = process.memoryUsage().rss;
    const loaded = await ResidentMatrix.fromFile(path, { rows, cols, checksum: sum });
    const rssAfter = process.memoryUsage().rss;
    const peak = process.resourceUsage().maxRSS * 1024;
    const grew = Math.max(rssAfter, peak) - rssBefore;
    assert.ok(grew < 2 * bytes, `RSS grew by ${(grew / 2 ** 20).toFixed(0)} MiB loading ${bytes / 2 ** 20} MiB`);
    assert.ok(
      rssAfter - rssBefore > bytes / 2,
      `the loaded matrix is resident (RSS grew by ${((rssAfter - rssBefore) / 2 ** 20).toFixed(0)} MiB)`,
    );

    const ends = await loaded.take([0, 255, 256, rows - 1]);
    assert.deepEqual((await ends.toMatrix()).data, rowsOf(tile, [0, 255, 0, 255]));
    const path2 = patternFile('big2.bin', 0);
    assert.equal(await loaded.writeTo(path2, 0), sum);
    loaded.dispose();
    tileHeld.dispose();
    rmSync(path);
    rmSync(path2);
  });
});
