/**
 * Shared pieces of the benchmark suites: seeded data, Benchmark.js timing of
 * sync and async work, peers loaded on demand, and result tables that always
 * put our figure beside the peer's from the same run.
 */
import Benchmark from 'benchmark';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Matrix } from '../src/index.js';
import { rng } from '../src/util/random.js';

const require = createRequire(import.meta.url);

/** Seeded uniform(−1, 1) matrix (mulberry32), so every run times the same data. */
export function randomMatrix(seed: number, rows: number, cols: number): Matrix {
  const next = rng(seed);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = next() * 2 - 1;
  return { data, rows, cols };
}

/** Seconds per call: Benchmark.js mean after its own warm-up, with its relative margin of error. */
export interface Timing {
  seconds: number;
  rme: number;
  samples: number;
}

/**
 * Times `fn` (sync, or async when it returns a Promise) with Benchmark.js. The
 * first call is a warm-up and is awaited before timing starts: left running,
 * it overlapped the first timed call of an async `fn` (one sample at twice its
 * time, +9% on the mean of 11 one-second topK calls), which only async rows,
 * ours, paid.
 */
export async function time(name: string, fn: () => unknown, opts: { maxTime?: number; minSamples?: number } = {}): Promise<Timing> {
  const first = fn();
  const isAsync = first instanceof Promise;
  if (isAsync) await first;
  return new Promise((resolve, reject) => {
    const bench = new Benchmark(name, {
      defer: isAsync,
      maxTime: opts.maxTime ?? 4,
      minSamples: opts.minSamples ?? 5,
      fn: isAsync
        ? (deferred: { resolve(): void }) => {
            (fn() as Promise<unknown>).then(
              () => deferred.resolve(),
              (e) => {
                reject(e);
                deferred.resolve();
              },
            );
          }
        : fn,
    } as Benchmark.Options);
    bench.on('complete', () => {
      if (bench.error) reject(bench.error);
      else resolve({ seconds: bench.stats.mean, rme: bench.stats.rme, samples: bench.stats.sample.length });
    });
    bench.on('error', () => reject(bench.error));
    bench.run({ async: true });
  });
}

/**
 * Peak resident set size of this process so far, in MiB. On Linux this is
 * VmHWM: getrusage's maxrss of a spawned child can carry its parent's
 * high-water mark, which would inflate a suite's figure.
 */
export function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to getrusage
  }
  return process.resourceUsage().maxRSS / 1024;
}

export type Row = Record<string, string | number>;

/** Prints rows as an aligned table with a title. */
export function printTable(title: string, rows: Row[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number) => (typeof v === 'number' ? formatNumber(v) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? '').length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(cols));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c] ?? ''))));
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** `×1.23` for a ratio (ours ÷ peer's throughput). */
export function ratio(ours: number, peer: number): string {
  return Number.isFinite(ours / peer) ? `×${(ours / peer).toFixed(2)}` : 'n/a';
}

export type Sgemm = (m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, transB: boolean) => void;

/** The CPU this run measures on, as the suites print it: model name, vendor family/model, AVX-512 or AVX2. */
export function cpuDescription(): string {
  const info = cpuInfo();
  const isa = info.flags.has('avx512f') ? 'AVX-512' : info.flags.has('avx2') ? 'AVX2' : 'no AVX2';
  return `${info.model} (${info.vendor} family ${info.family} model ${info.model_id}, ${isa})`;
}

function cpuInfo(): { model: string; vendor: string; family: string; model_id: string; flags: Set<string> } {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: no model, no flags; OpenBLAS chooses its own kernel
  }
  const field = (name: string) => new RegExp(`^${name}\\s*: (.*)$`, 'm').exec(text)?.[1]?.trim() ?? '?';
  return {
    model: field('model name'),
    vendor: field('vendor_id'),
    family: field('cpu family'),
    model_id: field('model'),
    flags: new Set(field('flags').split(/\s+/)),
  };
}

/**
 * The OpenBLAS kernel family to pin for this CPU, and why: OpenBLAS 0.3.21's
 * own detection misses recent CPUs under virtualisation (Sapphire Rapids, Zen
 * 4/5 under KVM) and falls back to generic kernels at a quarter of the speed.
 * AVX-512 (incl. Zen 4/5) → SkylakeX, AVX2 + FMA → Haswell (OpenBLAS's Zen
 * target uses the Haswell kernels too); anything else is left to OpenBLAS.
 * A core type the user set in OPENBLAS_CORETYPE wins.
 */
export function openBLASCoreType(): { core: string | null; why: string } {
  if (process.env.OPENBLAS_CORETYPE) return { core: process.env.OPENBLAS_CORETYPE, why: 'OPENBLAS_CORETYPE set by the user' };
  const { flags } = cpuInfo();
  if (['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'].every((f) => flags.has(f))) return { core: 'SkylakeX', why: 'the CPU has AVX-512' };
  if (flags.has('avx2') && flags.has('fma')) return { core: 'Haswell', why: 'the CPU has AVX2 + FMA, no AVX-512' };
  return { core: null, why: 'no AVX2: OpenBLAS detects its own kernel' };
}

/**
 * OpenBLAS's cblas_sgemm (row-major C = A·op(B)) through koffi, or null with
 * the reason when Debian's libopenblas is not installed. Pins OpenBLAS to the
 * best kernel for this CPU ({@link openBLASCoreType}) before the library loads
 * (OpenBLAS reads OPENBLAS_CORETYPE once, in its load-time constructor) and
 * runs it on as many threads as ours; `core` is the kernel OpenBLAS reports.
 */
export function loadOpenBLAS(
  threads: number,
): { sgemm: Sgemm; threads: number; core: string; pinned: string } | { sgemm: null; reason: string } {
  const pin = openBLASCoreType();
  if (pin.core && !process.env.OPENBLAS_CORETYPE) process.env.OPENBLAS_CORETYPE = pin.core;
  let koffi;
  try {
    koffi = require('koffi');
  } catch {
    return { sgemm: null, reason: 'koffi is not installed (npm install)' };
  }
  let lib;
  for (const name of ['libopenblas.so.0', 'libopenblas.so', 'libopenblas.dylib']) {
    try {
      lib = koffi.load(name);
      break;
    } catch {
      // try the next name
    }
  }
  if (!lib) return { sgemm: null, reason: 'OpenBLAS not found (apt-get install libopenblas-dev)' };
  const cblas = lib.func(
    'void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)',
  );
  lib.func('void openblas_set_num_threads(int n)')(threads);
  const getThreads = lib.func('int openblas_get_num_threads()');
  const coreName = lib.func('const char *openblas_get_corename()');
  const sgemm: Sgemm = (m, n, k, a, b, c, transB) => cblas(101, 111, transB ? 112 : 111, m, n, k, 1, a, k, b, transB ? k : n, 0, c, n);
  const core = String(coreName());
  const pinned = pin.core ? `OPENBLAS_CORETYPE=${pin.core} (${pin.why})` : pin.why;
  return { sgemm, threads: getThreads(), core, pinned };
}

/** Largest |a − b| / (|b| + 1): a check that a peer computed the same thing. */
export function maxDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + 1));
  return worst;
}
