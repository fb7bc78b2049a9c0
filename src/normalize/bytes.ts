/**
 * ByteWriter: UTF-8 output built in one growing Buffer, for JSON Lines made
 * of cached fragments. A chunk of results (8192 titles, ~10 MB) built as a
 * JavaScript string would be a large string in V8's old space, freed only by
 * a full collection; as bytes it is one external buffer the stream takes as is.
 */
export class ByteWriter {
  #buf: Buffer;
  #length = 0;

  constructor(capacity = 1 << 16) {
    this.#buf = Buffer.allocUnsafe(Math.max(16, capacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  #room(bytes: number): void {
    if (this.#length + bytes <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#length + bytes));
    this.#buf.copy(next, 0, 0, this.#length);
    this.#buf = next;
  }

  /** Appends `s` as UTF-8 (lone surrogates as U+FFFD, as Buffer.from does). */
  text(s: string): void {
    this.#room(3 * s.length);
    this.#length += this.#buf.write(s, this.#length, 'utf8');
  }

  /**
   * Appends the bytes of `b`. Short fragments (most: "},{", an occupation's
   * fields) are copied by a loop, which costs less than TypedArray#set's
   * fixed overhead.
   */
  bytes(b: Uint8Array): void {
    const n = b.length;
    this.#room(n);
    const buf = this.#buf;
    const at = this.#length;
    if (n <= SHORT) for (let i = 0; i < n; i++) buf[at + i] = b[i];
    else buf.set(b, at);
    this.#length = at + n;
  }

  /** Appends again the bytes written at [start, end). */
  repeat(start: number, end: number): void {
    this.#room(end - start);
    this.#buf.copy(this.#buf, this.#length, start, end);
    this.#length += end - start;
  }

  /** The bytes written (a view, not a copy); the writer must not be used after. */
  result(): Buffer {
    return this.#buf.subarray(0, this.#length);
  }
}

/** Fragments up to this many bytes are copied by a loop ({@link ByteWriter.bytes}). */
const SHORT = 64;
