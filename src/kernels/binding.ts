/**
 * The raw native addon, typed once and hidden behind the public facade
 * (`kernels`). Nothing outside src/ should import this module.
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobBERTError } from '../errors.js';

/** The matrix shape the addon reads: row-major float32 values. */
export interface RawMatrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** The addon's native ResidentMatrix class (see resident.ts). */
export interface NativeResident {
  readonly rows: number;
  readonly cols: number;
  readonly disposed: boolean;
  dispose(): void;
  /** Writes the values at byte `offset` of an existing file; resolves to their checksum (16 hex digits). */
  writeTo(path: string, offset: number): Promise<string>;
  /** A new resident holding the listed rows, in order. */
  take(rows: Int32Array): Promise<NativeResident>;
  /** A copy of the values, owned by JS. */
  toFloat32Array(): Promise<Float32Array>;
}

/** The addon's native DeviceMatrix (see device-matrix.ts): GPU memory, made only by `toDevice`. */
export interface NativeDeviceMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly disposed: boolean;
  dispose(): void;
  /** The values copied back to host memory. */
  toFloat32Array(): Promise<Float32Array>;
}

/** An opaque handle to a native int8-stored matrix (see src/match/quantized.ts): file- or memory-backed. */
export type NativeQuantized = { readonly __brand: 'NativeQuantized' };

/** An opaque handle to a native int8 copy of a LiteEncoder table (bindings/lite.cpp). */
export type NativeInt8Table = { readonly __brand: 'NativeInt8Table' };

/** What the kernels accept for a matrix argument (a DeviceMatrix only on backend 'cuda'). */
export type MatrixArg = RawMatrix | NativeResident | NativeDeviceMatrix;

/** The backend a kernel call runs on (the facade resolves device 'auto'; the addon's default is 'cpu', precision 'fp32'). */
export type Backend = 'cpu' | 'cuda';

export interface Addon {
  ResidentMatrix: new (m: RawMatrix) => NativeResident;
  dense(
    x: MatrixArg,
    weight: MatrixArg,
    bias: Float32Array | null,
    activation: string,
    backend?: Backend,
    precision?: string,
    /** Written in place and returned when given: exactly x.rows × weight.rows elements. */
    out?: Float32Array,
  ): Promise<Float32Array>;
  denseBackward(
    x: MatrixArg,
    weight: MatrixArg,
    y: MatrixArg,
    gradY: MatrixArg,
    activation: string,
    backend?: Backend,
    precision?: string,
  ): Promise<{ gradX: Float32Array; gradWeight: Float32Array; gradBias: Float32Array }>;
  infoNCE(
    anchors: MatrixArg,
    positives: MatrixArg,
    negatives: MatrixArg | null,
    scale: number,
    symmetric: boolean,
    backend?: Backend,
    precision?: string,
  ): Promise<{ loss: number; gradAnchors: Float32Array; gradPositives: Float32Array; gradNegatives: Float32Array | null }>;
  /** k in [1, corpus.rows], and at most cudaMaxTopK on backend 'cuda'. */
  topK(
    queries: MatrixArg,
    corpus: MatrixArg,
    k: number,
    metric: string,
    backend?: Backend,
    precision?: string,
  ): Promise<{ k: number; indices: Int32Array; scores: Float32Array }>;
  /** Uploads a matrix (plain or resident) to GPU memory; ERR_CUDA_UNAVAILABLE without CUDA. */
  toDevice(m: RawMatrix | NativeResident): Promise<NativeDeviceMatrix>;
  /** '' when the CUDA kernels can run, else why not (no CUDA in this build, no device, the driver's error). Sync. */
  cudaStatus(): string;
  /** The largest k the CUDA topK takes (jobbert::cuda::kMaxTopK). */
  readonly cudaMaxTopK: number;
  /** checksum64 (native/include/jobbert/store.h) of the view's bytes, as 16 lowercase hex digits. Sync. */
  checksum(bytes: ArrayBufferView): string;
  /** Reads rows·cols float32 at byte `offset` of `path` into a new resident; verifies `expected` when given. */
  residentFromFile(path: string, offset: number, rows: number, cols: number, expected: string | null): Promise<NativeResident>;
  /** The parts' rows stacked in order (all parts of one width). */
  residentConcat(parts: MatrixArg[]): Promise<NativeResident>;
  /** Streams rows·cols float32 at byte `offset` of `path` into int8 codes (verifying `expected`); the handle keeps the file open. */
  quantizedFromFile(path: string, offset: number, rows: number, cols: number, expected: string | null): Promise<NativeQuantized>;
  /** Quantises a Matrix (copied) or ResidentMatrix (shared, kept for the re-scoring) into int8 codes. */
  quantizedFromMatrix(matrix: MatrixArg): Promise<NativeQuantized>;
  /**
   * Exact top-k by metric ('cosine' when undefined, or 'dot'): int8 scan for `pool` candidates per query,
   * re-scored from the file or the rows in memory. 1 <= k <= pool <= rows.
   */
  quantizedSearch(
    matrix: NativeQuantized,
    queries: MatrixArg,
    k: number,
    pool: number,
    metric?: string,
  ): Promise<{ k: number; indices: Int32Array; scores: Float32Array }>;
  /**
   * The rows that decide each query's k best groups (groupOf: one group per row), exactly
   * (or, given `probe`, among the rows of about `probe` lists whose prototypes score best):
   * query q's rows are rows/scores[offsets[q] … offsets[q + 1]), best first, all above floors[q].
   */
  quantizedSearchGroups(
    matrix: NativeQuantized,
    queries: MatrixArg,
    groupOf: Int32Array,
    k: number,
    metric?: string,
    probe?: number,
  ): Promise<{ offsets: Int32Array; rows: Int32Array; scores: Float32Array; floors: Float64Array }>;
  quantizedInfo(matrix: NativeQuantized): { disposed: boolean; bytes: number; inMemory: boolean };
  /** The int8 scan kernel the active instruction set runs: 'avx512-vnni', 'avx-vnni', 'avx2' or 'portable'. Sync. */
  int8ScanKernel(): string;
  quantizedDispose(matrix: NativeQuantized): void;
  /** The LiteEncoder's embedding bag (bindings/lite.cpp): per text, the mean of its ids' table rows. */
  embeddingBag(table: MatrixArg | NativeInt8Table, ids: Int32Array, offsets: Int32Array): Promise<Float32Array>;
  /** An int8 copy (codes, a scale per row) reproducing every value of the table exactly; null where its values are not of that form. */
  int8Table(table: Float32Array, cols: number): NativeInt8Table | null;
  /** The table as a model file stores it ([rows] float32 scales, then [rows × cols] int8 codes), read as it is: the bag sums the values dequantizeTable would give. */
  int8TableFromCodes(bytes: Uint8Array, cols: number): NativeInt8Table;
  int8TableDispose(table: NativeInt8Table): void;
  /** The same on the calling thread, for small batches. */
  embeddingBagSync(table: Float32Array, cols: number, ids: Int32Array, offsets: Int32Array): Float32Array;
  /** Gradients of the embedding bag for the rows it touched: sorted unique ids and their rows. */
  embeddingBagBackward(
    gradOut: MatrixArg,
    ids: Int32Array,
    offsets: Int32Array,
    tableRows: number,
  ): Promise<{ ids: Int32Array; grads: Float32Array }>;
  /**
   * JSON text from fragments and strings (bindings/text.cpp), on the calling thread: for each
   * program entry e, fragment e (bytes[offsets[e] … offsets[e + 1])) when e ≥ 0, else
   * strings[−1 − e] quoted as JSON.stringify quotes it, UTF-8; a RangeError for a text over maxBytes.
   */
  assembleJson(bytes: Uint8Array, offsets: Uint32Array, program: Int32Array, strings: string[], maxBytes: number): Buffer;
  backends(): string[];
  cudaDevices(): string[];
  isas(): string[];
  isa(name?: string): string;
  threads(n?: number): number;
  /** The CPU GEMM's blocking for the active instruction set and the caches it came from, in words. Sync. */
  gemmBlocking(): string;
  /** Hands the C library allocator's free memory back to the system (glibc's malloc_trim); whether any was released. Sync. */
  releaseFreeMemory(): boolean;
}

const require = createRequire(import.meta.url);
// src/kernels/ (via tsx) and dist/kernels/ both sit two levels below the package root.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Loads the addon from the package root `dir` with `load` (node-gyp-build:
 * build/Release/jobbert.node, else the prebuild for this platform). Where
 * neither exists — no prebuild for the platform, and the install script that
 * compiles one did not run (npm 12 skips a dependency's install script until
 * the project approves it) — throws JobBERTError ERR_NO_NATIVE_BUILD naming
 * the commands that build it, instead of node-gyp-build's bare message. Sync.
 */
export function loadAddon(dir: string, load: (dir: string) => Addon): Addon {
  try {
    return load(dir);
  } catch (e) {
    if (!/No native build was found/.test((e as Error)?.message ?? '')) throw e;
    throw new JobBERTError(
      'ERR_NO_NATIVE_BUILD',
      `jobbert has no native addon for ${process.platform}-${process.arch} (prebuilds ship for linux-x64 with glibc), and none was compiled at install: ` +
        "npm 12 and newer skip a dependency's install script until the project approves it. Compile it (a C++17 compiler and CMake ≥ 3.18 needed) with " +
        '`npm install-scripts approve jobbert && npm rebuild jobbert`, or `cd node_modules/jobbert && npx cmake-js compile`',
      { cause: e },
    );
  }
}

/**
 * The loaded addon: build/Release/jobbert.node or a prebuild, or the file
 * JOBBERT_ADDON names (CI uses it to run the GPU tests against a build whose
 * CUDA kernels run on the CPU emulator, JOBBERT_CUDA=EMU).
 */
export const addon: Addon = process.env.JOBBERT_ADDON
  ? require(resolve(process.env.JOBBERT_ADDON))
  : loadAddon(root, (dir) => require('node-gyp-build')(dir));
