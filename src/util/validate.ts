/**
 * Argument checks for the public API (sharp's `lib/is.mjs` habit): each throws
 * a TypeError or RangeError whose message names the function, the argument,
 * what was expected and what was received. The addon checks again in C++.
 */

/** A short description of a received value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return v.length > 40 ? `a string of length ${v.length}` : `'${v}'`;
  if (typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of length ${(v as unknown as { length: number }).length}`;
  return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
}

const MAX_DIM = 2 ** 31 - 1;

/** Throws unless `v` is a Matrix { data: Float32Array, rows, cols } with a matching length. */
export function assertMatrix(
  fn: string,
  name: string,
  v: unknown,
  opts: { cols?: number; rows?: number; allowEmpty?: boolean } = {},
): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) {
    throw new TypeError(`${fn}: ${name} must be a Matrix { data: Float32Array, rows, cols } (see matrix()); received ${describe(v)}`);
  }
  const m = v as { data?: unknown; rows?: unknown; cols?: unknown };
  if (!(m.data instanceof Float32Array)) {
    throw new TypeError(`${fn}: ${name}.data must be a Float32Array; received ${describe(m.data)}`);
  }
  // The addon copies inputs while other threads could write a shared buffer: refused, as N-API would (less clearly).
  if (typeof SharedArrayBuffer !== 'undefined' && m.data.buffer instanceof SharedArrayBuffer) {
    throw new TypeError(
      `${fn}: ${name}.data must be a Float32Array on an ArrayBuffer; received one on a SharedArrayBuffer (copy it first)`,
    );
  }
  const minRows = opts.allowEmpty ? 0 : 1;
  for (const key of ['rows', 'cols'] as const) {
    const value = m[key];
    const min = key === 'rows' ? minRows : 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_DIM) {
      throw new RangeError(`${fn}: ${name}.${key} must be an integer in [${min}, 2^31); received ${describe(value)}`);
    }
  }
  const rows = m.rows as number;
  const cols = m.cols as number;
  if (m.data.length !== rows * cols) {
    const detached = m.data.buffer.byteLength === 0 && rows * cols > 0 ? ' (its buffer is detached)' : '';
    throw new RangeError(`${fn}: ${name}.data must hold rows × cols = ${rows * cols} elements; received ${m.data.length}${detached}`);
  }
  if (opts.cols !== undefined && cols !== opts.cols) {
    throw new RangeError(`${fn}: ${name}.cols must be ${opts.cols}; received ${cols}`);
  }
  if (opts.rows !== undefined && rows !== opts.rows) {
    throw new RangeError(`${fn}: ${name}.rows must be ${opts.rows}; received ${rows}`);
  }
}

/** Throws unless `v` is undefined or a plain options object (TypeError), holding only the `known` keys when given. */
export function assertOptions(fn: string, v: unknown, known?: readonly string[]): void {
  if (v === undefined) return;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TypeError(`${fn}: options must be an object; received ${describe(v)}`);
  }
  // A misspelt option ({ threshhold: 0.5 }) was ignored without a word, in JavaScript.
  const unknown = known && Object.keys(v).find((k) => !known.includes(k) && (v as Record<string, unknown>)[k] !== undefined);
  if (unknown !== undefined)
    throw new TypeError(`${fn}: unknown option '${unknown}'; the options are ${known!.map((k) => `'${k}'`).join(', ')}`);
}

/** Throws unless `v` is one of `choices`. */
export function assertChoice<T extends string>(fn: string, name: string, v: unknown, choices: readonly T[]): asserts v is T {
  if (typeof v !== 'string') {
    throw new TypeError(`${fn}: ${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}; received ${describe(v)}`);
  }
  if (!choices.includes(v as T)) {
    throw new RangeError(`${fn}: ${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}; received ${describe(v)}`);
  }
}

/** Throws unless `v` is an integer in [min, max]. */
export function assertInteger(fn: string, name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): asserts v is number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be an integer; received ${describe(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${fn}: ${name} must be an integer in [${min}, ${max}]; received ${describe(v)}`);
  }
}

/** The longest delay a Node timer takes (2³¹ − 1 ms, ~24.8 days): a longer one fires after 1 ms, with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Throws unless `v` is a whole number of milliseconds in [min, MAX_TIMER_MS]: a delay a timer can wait. */
export function assertTimerMs(fn: string, name: string, v: unknown, min: number): asserts v is number {
  assertInteger(fn, name, v, min, MAX_TIMER_MS);
}

/** Throws unless `v` is a finite number > 0. */
export function assertPositive(fn: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number; received ${describe(v)}`);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${fn}: ${name} must be a finite number > 0; received ${describe(v)}`);
}

/** Throws unless `v` is a boolean. */
export function assertBoolean(fn: string, name: string, v: unknown): asserts v is boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${fn}: ${name} must be a boolean; received ${describe(v)}`);
}

/** Throws unless `v` is a Float32Array of `length` elements (or null when allowed). */
export function assertVector(fn: string, name: string, v: unknown, length: number): asserts v is Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${fn}: ${name} must be a Float32Array or null; received ${describe(v)}`);
  if (typeof SharedArrayBuffer !== 'undefined' && v.buffer instanceof SharedArrayBuffer)
    throw new TypeError(`${fn}: ${name} must be a Float32Array on an ArrayBuffer; received one on a SharedArrayBuffer (copy it first)`);
  if (v.length !== length) throw new RangeError(`${fn}: ${name} must hold ${length} elements; received ${v.length}`);
}

/**
 * Throws TypeError naming `name` unless `v` is undefined or an object that
 * JSON.stringify can write (not an array; nothing circular, no BigInt, no
 * toJSON that throws): found before a file is written, not half-way. Sync.
 */
export function assertJsonObject(fn: string, name: string, v: unknown): asserts v is Record<string, unknown> | undefined {
  if (v === undefined) return;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new TypeError(`${fn}: ${name} must be an object; received ${describe(v)}`);
  try {
    JSON.stringify(v);
  } catch (e) {
    throw new TypeError(`${fn}: ${name} must be plain JSON data (${(e as Error).message})`);
  }
}
