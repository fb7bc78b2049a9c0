/**
 * `jobbert normalize`: titles → ESCO occupations. Titles on the command line
 * print a short report (JSON Lines with --json); `--input FILE` streams a
 * JSON Lines or CSV/TSV file (`-`: stdin) in chunks to `--output FILE` (or
 * stdout) as JSON Lines or CSV, in input order, with flat memory whatever the
 * file's size. A bad row is reported with its line and skipped (its id is not
 * reused), or stops the run with --strict; a file of bad rows only fails.
 * Progress: a bar on a terminal (stderr), JSON events otherwise. A reader that
 * closes stdout early (`| head`) ends the run quietly.
 */
import { readFileSync, rmSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { JobBERTError } from '../errors.js';
import { MAX_ALTERNATIVES, Normalizer, type NormalizeOptions, type NormalizeResult } from '../normalize/normalizer.js';
import {
  ID_RULE,
  openRows,
  ROW_FORMATS,
  type RowFormat,
  rowId,
  TITLE_COLUMNS,
  type TitleFields,
  titleFields,
  titleOf,
} from '../normalize/rows.js';
import { isUtf8 } from '../util/open-bytes.js';
import { outputFile, outputTarget } from '../util/output-file.js';
import { parseArgs, UsageError } from './args.js';
import { clock } from './clock.js';
import { modelEncoder } from './model.js';
import { cleanupOnSignal, mustExist, refuseSameFile } from './files.js';

type Out = (line: string) => void;

/** Most alternatives in one chunk of `--input` (titles × k): 2,048 titles up to k = 32. */
const CHUNK_ALTERNATIVES = 65_536;

/**
 * Titles in a chunk of at most `chunk`, at `k` alternatives each: never more
 * than CHUNK_ALTERNATIVES alternatives, so memory stays flat at a large k too
 * (2,048 titles × k = 10,000 made one chunk's CSV text longer than a string can
 * be; a batch job's chunk, one object in the broker, the same).
 */
export function titlesPerChunk(chunk: number, k: number): number {
  return Math.max(1, Math.min(chunk, Math.floor(CHUNK_ALTERNATIVES / k)));
}

/** UsageError unless `--k` and `--threshold` are in the Normalizer's ranges: named as the flags, before any work. */
export function checkNormalizeFlags(k: number | undefined, threshold: number | undefined): void {
  if (k !== undefined && (k < 1 || k > MAX_ALTERNATIVES))
    throw new UsageError(`--k must be an integer in [1, ${MAX_ALTERNATIVES}]; received ${k}`);
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1))
    throw new UsageError(`--threshold must be a number in [0, 1]; received ${threshold}`);
}

/** Where progress goes (process.stderr by default). */
export interface ProgressSink {
  isTTY?: boolean;
  write(s: string): unknown;
}

/** The streams `jobbert normalize` uses besides its `out` callback. */
export interface NormalizeIO {
  /** Progress bar or JSON events. Default: process.stderr. */
  progress?: ProgressSink;
  /** What `--input -` reads. Default: process.stdin. */
  stdin?: Readable;
  /** Where results go without `--output FILE` (or with `--output -`), in whole chunks with backpressure; without it, to `out` line by line. */
  stdout?: Writable;
}

/** Thrown by {@link Sink} when its reader has closed stdout (EPIPE): the run stops, and it is not a failure. */
class OutputClosed extends Error {}

const SPEC = {
  options: {
    input: 'string',
    output: 'string',
    format: 'string',
    'input-format': 'string',
    'input-encoding': 'string',
    column: 'string',
    bom: 'boolean',
    k: 'integer',
    lang: 'string',
    'output-lang': 'string',
    examples: 'string',
    threshold: 'number',
    model: 'string',
    calibration: 'string',
    taxonomy: 'string',
    chunk: 'integer',
    strict: 'boolean',
    fast: 'boolean',
    json: 'boolean',
  },
} as const;

/**
 * Chunks normalised at once. Two left a core idle ~13% of a run (the native
 * searches and this thread waiting on each other in turn); four keep both
 * busy, at a little more CPU a title: over 1,000,000 of the bench's titles
 * 28,303–28,946 titles/s against 27,192–27,717 with two (three alternating
 * runs each, 2026-12-04, Zen 4 host); eight were within the noise of four.
 */
const IN_FLIGHT = 4;

/** Peak resident memory of this process in MiB (Linux VmHWM; getrusage elsewhere). */
function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch {
    // not Linux
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** CPU seconds (user + system, every thread of the process) since `since`: on a shared machine, a figure its load does not hide. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return Math.round((u.user + u.system) / 1000) / 1000;
}

/** One CSV field, quoted when it must be (RFC 4180). */
function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV output's first line: a byte-order mark with --bom (Excel reads a CSV as UTF-8 only after one, else "Bäcker" shows as "BÃ¤cker"), then the header. */
const csvHead = (k: number, o: Record<string, unknown>): string => `${o.bom ? '\uFEFF' : ''}${csvHeader(k)}`;

/** The CSV header for k alternatives. */
export function csvHeader(k: number): string {
  const cols = ['id', 'input', 'uri', 'label', 'isco', 'confidence'];
  for (let j = 1; j <= k; j++) cols.push(`alt${j}_uri`, `alt${j}_label`, `alt${j}_isco`, `alt${j}_score`);
  return cols.join(',');
}

/** One result as a CSV row (the occupation's columns empty when it is null). */
export function csvRow(r: NormalizeResult, k: number): string {
  const o = r.occupation;
  const cells: (string | number)[] = [r.id, r.input, o?.uri ?? '', o?.label ?? '', o?.isco ?? '', r.confidence];
  for (let j = 0; j < k; j++) {
    const a = r.alternatives[j];
    cells.push(a?.uri ?? '', a?.label ?? '', a?.isco ?? '', a ? a.score : '');
  }
  return cells.map(csvField).join(',');
}

/**
 * A line-oriented sink with backpressure: a file (written to a temporary name,
 * renamed at the end; a FIFO or device written into as it is: outputTarget),
 * a stream it does not own (stdout), or `out`.
 */
class Sink {
  #stream: Writable | null = null;
  /** For a file: settles once its bytes are all in it and it is closed. */
  #closed: Promise<void> | null = null;
  /** The temporary file renamed over the output at the end ('' when written in place). */
  #temp = '';
  /** The file the temporary replaces: the output, or the file its symbolic link names. */
  #final = '';
  readonly #name: string;
  constructor(
    readonly path: string | undefined,
    readonly out: Out,
    readonly csv: boolean,
    stdout?: Writable,
  ) {
    this.#name = path ?? 'stdout';
    if (path) {
      const target = outputTarget('--output', path);
      this.#final = target.path;
      this.#temp = target.inPlace ? '' : `${target.path}.tmp-${process.pid}`;
      ({ stream: this.#stream, closed: this.#closed } = outputFile(this.#temp || target.path, path));
    } else if (stdout) this.#stream = stdout;
    this.#stream?.on('error', () => {}); // surfaced by write/close
  }
  /** Writes `text` (a string or UTF-8): whole lines, each ending in "\n" (to `out` one line a call). Rejects with OutputClosed when stdout's reader has gone. */
  async write(text: string | Buffer): Promise<void> {
    if (!this.#stream) {
      const s = typeof text === 'string' ? text : text.toString('utf8');
      if (!s) return;
      for (const l of this.csv ? csvLines(s) : s.slice(0, -1).split('\n')) this.out(l);
      return;
    }
    const s = this.#stream;
    if (s.errored || s.destroyed) throw this.#failure(s.errored ?? new Error('stream closed'));
    if (!s.write(text))
      // Each wait removes its listeners: a run waits once a chunk, and leftover
      // 'error' listeners would pile up (MaxListenersExceededWarning, a leak).
      await new Promise<void>((res, rej) => {
        const settle = (e?: Error) => {
          s.off('drain', drained);
          s.off('close', drained);
          s.off('error', settle);
          if (e) rej(e);
          else res();
        };
        const drained = () => settle();
        s.on('drain', drained);
        s.on('error', settle);
        s.on('close', drained); // a destroyed stream never drains; the next write sees why
      }).catch((e) => {
        throw this.#failure(e);
      });
  }
  #failure(e: Error): Error {
    if (!this.path && (e as NodeJS.ErrnoException).code === 'EPIPE') return new OutputClosed();
    return ioError(this.#name, e);
  }
  async commit(): Promise<void> {
    if (!this.path || !this.#stream) return;
    const s = this.#stream;
    await new Promise<void>((res, rej) => s.end((e?: Error | null) => (e ? rej(ioError(this.#name, e)) : res())));
    await this.#closed?.catch((e) => {
      throw ioError(this.#name, e);
    });
    if (this.#temp) await rename(this.#temp, this.#final);
  }
  /** Drops the output at once (a signal ends the process next): the stream destroyed, the temporary file removed. */
  abandon(): void {
    if (!this.path || !this.#stream) return;
    this.#stream.destroy();
    if (this.#temp) rmSync(this.#temp, { force: true });
  }
  async abort(): Promise<void> {
    if (!this.path || !this.#stream) return;
    this.#stream.destroy();
    await this.#closed?.catch(() => {});
    if (this.#temp) await rm(this.#temp, { force: true });
  }
}

/** The lines of CSV `text` (whole lines, each ending in "\n"; a quoted field's line breaks stay inside its line). */
function csvLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) {
      lines.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return lines;
}

function ioError(path: string, e: unknown): JobBERTError {
  return new JobBERTError('ERR_IO', `cannot write ${path} (${(e as Error).message})`);
}

/** `jobbert normalize …`; resolves to the exit status. Rejects with UsageError for bad arguments, JobBERTError for failures. */
export async function normalizeCommand(argv: string[], out: Out, io: NormalizeIO = {}): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, SPEC);
  // Without --format, an output named .csv (or .csv.gz) gets CSV.
  const format = (o.format as string | undefined) ?? (/\.csv(\.gz)?$/i.test((o.output as string | undefined) ?? '') ? 'csv' : 'jsonl');
  if (format !== 'jsonl' && format !== 'csv') throw new UsageError(`--format must be jsonl or csv; received '${format}'`);
  if (o.bom && format !== 'csv') throw new UsageError('--bom is for CSV output (--format csv, or an --output named .csv)');
  const inputFormat = o.inputFormat as RowFormat | undefined;
  if (inputFormat !== undefined && !ROW_FORMATS.includes(inputFormat))
    throw new UsageError(`--input-format must be ${ROW_FORMATS.join(', ')}; received '${inputFormat}'`);
  const inputEncoding = o.inputEncoding as string | undefined;
  if (inputEncoding !== undefined) {
    if (!o.input) throw new UsageError('--input-encoding needs --input FILE');
    try {
      isUtf8(inputEncoding);
    } catch {
      throw new UsageError(`--input-encoding must be an encoding label such as utf-8, windows-1252 or latin1; received '${inputEncoding}'`);
    }
  }
  if (!o.input && positionals.length === 0) throw new UsageError('normalize needs titles or --input FILE (- for stdin)');
  if (o.input && positionals.length) throw new UsageError('normalize takes titles or --input FILE, not both');
  if (o.output && !o.input) throw new UsageError('--output needs --input FILE');
  if (o.column && !o.input) throw new UsageError('--column needs --input FILE');
  // 2,048: as fast as 8,192 (the scan's GEMM tiles are full either way) and
  // smaller buffers a chunk, which glibc's malloc fragments less: peak RSS
  // 497 → 397 MiB over 100k titles.
  const chunk = (o.chunk as number | undefined) ?? 2048;
  if (chunk < 1 || chunk > 1_000_000) throw new UsageError(`--chunk must be an integer in [1, 1000000]; received ${chunk}`);
  const k = (o.k as number | undefined) ?? 5;
  checkNormalizeFlags(k, o.threshold as number | undefined);
  if (o.input && o.input !== '-') mustExist('input', o.input as string);
  if (typeof o.output === 'string' && o.output !== '-') {
    outputTarget('--output', o.output); // a folder or a socket, before any work
    refuseSameFile('output', o.output, { input: o.input, examples: o.examples, calibration: o.calibration });
  }
  const opts: NormalizeOptions = { k };
  if (o.lang !== undefined) opts.lang = o.lang as string;
  if (o.outputLang !== undefined) opts.outputLang = o.outputLang as string;

  const encoder = await modelEncoder(o.model as string | undefined);
  let normalizer: Normalizer;
  try {
    normalizer = await Normalizer.load({
      encoder,
      taxonomy: o.taxonomy as string | undefined,
      examples: o.examples as string | undefined,
      threshold: o.threshold as number | undefined,
      search: o.fast ? 'fast' : 'exact',
      calibration: o.calibration as string | undefined,
    });
  } catch (e) {
    await encoder.dispose();
    throw e;
  }
  try {
    // Validates lang/outputLang once, before reading any input.
    await normalizer.normalize([], opts);
    if (!o.input) {
      const results = await normalizer.normalize(positionals, opts);
      if (format === 'csv') out(csvHead(k, o));
      for (const r of results) {
        if (o.json || o.format !== undefined) {
          out(format === 'csv' ? csvRow(r, k) : JSON.stringify(r));
          continue;
        }
        const head = r.occupation
          ? `${r.occupation.label} (ISCO ${r.occupation.isco})  confidence ${r.confidence.toFixed(2)}  ${r.occupation.uri}`
          : `unknown  confidence ${r.confidence.toFixed(2)} < threshold ${normalizer.threshold}`;
        out(`${r.input}\n  → ${head}`);
        for (const a of r.alternatives)
          out(
            `     ${a.score.toFixed(4)}  ${a.label} (ISCO ${a.isco})  via ${a.matched.source} '${a.matched.text}'${a.matched.lang ? ` [${a.matched.lang}]` : ''}`,
          );
      }
      return 0;
    }
    return await streamFile(normalizer, o, opts, k, format, chunk, out, io);
  } finally {
    await normalizer.dispose();
    await encoder.dispose();
  }
}

async function streamFile(
  normalizer: Normalizer,
  o: Record<string, unknown>,
  opts: NormalizeOptions,
  k: number,
  format: 'jsonl' | 'csv',
  chunk: number,
  out: Out,
  io: NormalizeIO,
): Promise<number> {
  const progress = io.progress ?? process.stderr;
  const fromStdin = o.input === '-';
  const input = fromStdin ? 'stdin' : (o.input as string);
  const encoding = o.inputEncoding as string | undefined;
  // Read once: stdin and a pipe (`--input <(…)`) are sniffed from the bytes they go on to yield.
  const opened = await openRows(fromStdin ? (io.stdin ?? process.stdin) : input, o.inputFormat as RowFormat | undefined, encoding);
  const inputFormat = opened.format;
  const strict = Boolean(o.strict);
  const rowsPerChunk = titlesPerChunk(chunk, k);
  const bar = Boolean(progress.isTTY) && !o.json;
  const event = (v: Record<string, unknown>) => progress.write(`${JSON.stringify(v)}\n`);
  // Of stdin or a pipe the size is unknown: no fraction and no ETA.
  const totalBytes = opened.size;
  const output = o.output === '-' ? undefined : (o.output as string | undefined);
  const sink = new Sink(output, out, format === 'csv', io.stdout);
  // Interrupted (Ctrl-C, a scheduler's SIGTERM): the output file is never half-written, and its temporary goes too.
  const release = output === undefined ? () => {} : cleanupOnSignal(() => sink.abandon());
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let rows = 0;
  let bad = 0;
  let done = 0;
  let lastReport = t0;
  let drawn = false;
  let bytes = 0;
  const report = (final: boolean) => {
    const now = performance.now();
    if (!final && now - lastReport < (bar ? 200 : 1000)) return;
    lastReport = now;
    const seconds = (now - t0) / 1000;
    const rate = done / Math.max(seconds, 1e-9);
    // The final report follows a read to the end: all of it, also where no row gave a byte count (a header alone).
    const fraction = totalBytes === null ? null : final || totalBytes === 0 ? 1 : Math.min(1, bytes / totalBytes);
    const eta = fraction === null ? null : fraction > 0 ? (seconds / fraction) * (1 - fraction) : Infinity;
    if (bar) {
      const width = 24;
      const filled = Math.round((fraction ?? 0) * width);
      const where = fraction === null ? '' : `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0)}%  `;
      progress.write(
        `\r\x1b[2K${where}${done} titles  ${rate.toFixed(0)} titles/s${eta === null ? '' : `  ETA ${clock(eta)}`}${bad ? `  ${bad} bad rows` : ''}`,
      );
      drawn = true;
      if (final) {
        progress.write('\n');
        drawn = false;
      }
    } else
      event({
        event: final ? 'done' : 'progress',
        titles: done,
        badRows: bad,
        fraction: fraction === null ? null : Math.round(fraction * 1e4) / 1e4,
        titlesPerSecond: Math.round(rate),
        ...(final
          ? { seconds: Math.round(seconds * 1000) / 1000, cpuSeconds: cpuSeconds(cpu0), peakRssMiB: peakRssMiB() }
          : { etaSeconds: eta === null ? null : Math.round(eta) }),
      });
  };
  const warn = (line: number, message: string) => {
    if (bar) {
      if (drawn) progress.write('\r\x1b[2K');
      drawn = false;
      progress.write(`jobbert: ${input}:${line}: warning: ${message}\n`);
    } else event({ event: 'warning', line, message });
  };
  let firstBad = '';
  const badRow = (line: number, why: string) => {
    bad++;
    firstBad ||= `line ${line}: ${why}`;
    if (strict) throw new JobBERTError('ERR_BAD_FILE', `${input}:${line}: ${why}`);
    if (bar) {
      if (drawn) progress.write('\r\x1b[2K');
      drawn = false;
      progress.write(`jobbert: ${input}:${line}: ${why} (row skipped)\n`);
    } else event({ event: 'bad-row', line, error: why });
  };

  let fields: TitleFields | undefined;
  let ids: string[] = [];
  let titles: string[] = [];
  // IN_FLIGHT chunks are normalised at once while one more is read — the
  // searches (native threads) overlap the encoding and formatting of the
  // others (this thread) — and written in input order; never more, so memory
  // holds IN_FLIGHT + 1 chunks whatever the file's size.
  const jobs: Promise<void>[] = [];
  let failed: unknown = null;
  const flush = async () => {
    while (jobs.length >= IN_FLIGHT) await jobs.shift();
    if (failed) throw failed;
    const chunkIds = ids;
    const chunkTitles = titles;
    ids = [];
    titles = [];
    // Written after the chunk before it (the last in flight, or none), so output keeps input order.
    const previous = jobs.at(-1);
    const job = (async () => {
      let text: string | Buffer;
      if (format === 'csv') {
        const results = await normalizer.normalize(chunkTitles, opts);
        text = '';
        for (let i = 0; i < results.length; i++) {
          results[i].id = chunkIds[i];
          text += `${csvRow(results[i], k)}\n`;
        }
      } else text = await normalizer.normalizeLines(chunkTitles, chunkIds, opts);
      await previous;
      if (failed) return;
      await sink.write(text);
      done += chunkTitles.length;
      report(false);
    })();
    job.catch((e) => {
      failed ??= e;
    });
    jobs.push(job);
  };
  try {
    if (format === 'csv') await sink.write(`${csvHead(k, o)}\n`);
    let warnedEncoding = encoding !== undefined && !isUtf8(encoding);
    for await (const row of opened.rows) {
      if (failed) throw failed;
      const position = rows++;
      if (row.bytes) bytes = row.bytes;
      if (row.error !== undefined) {
        badRow(row.line, row.error);
        continue;
      }
      if (fields === undefined) {
        // CSV/TSV: the header names the columns once for the whole file.
        const cols = Object.keys(row.record);
        fields = titleFields(inputFormat, cols, o.column as string | undefined);
        if (fields === undefined)
          throw new JobBERTError(
            'ERR_BAD_FILE',
            `${input}: no title column ${o.column !== undefined ? `'${o.column as string}'` : `(${TITLE_COLUMNS.join('|')})`} in the header (columns: ${cols.join(', ')}); name it with --column${cols.length === 1 && o.column === undefined ? `, or if the file holds one title a line without a header, name it .txt or pass --input-format lines` : ''}`,
          );
      }
      const title = titleOf(row.record, fields);
      if (typeof title !== 'string') {
        badRow(
          row.line,
          title === undefined
            ? `no '${fields.title}' field`
            : `'${fields.title}' must be a string; received ${title === null ? 'null' : typeof title}`,
        );
        continue;
      }
      // Bytes that are not UTF-8 decode to U+FFFD, and the title then matches worse, silently:
      // say so once (the row is still normalised).
      if (!warnedEncoding && title.includes('\uFFFD')) {
        warnedEncoding = true;
        warn(
          row.line,
          'the title holds U+FFFD, the mark of bytes that are not UTF-8; if the file is a Windows (Excel) export, pass --input-encoding windows-1252',
        );
      }
      const id = rowId(fields.id === undefined ? undefined : row.record[fields.id], position);
      if (id === undefined) {
        badRow(row.line, `'${fields.id}' ${ID_RULE}`);
        continue;
      }
      ids.push(id);
      titles.push(title);
      if (titles.length >= rowsPerChunk) await flush();
      if (!bar && performance.now() - lastReport > 1000) report(false);
    }
    if (titles.length) await flush();
    await Promise.allSettled(jobs);
    if (failed) throw failed;
    // Rows, and not one of them readable: the wrong file, format or column, not a run to call a success.
    if (bad > 0 && bad === rows)
      throw new JobBERTError(
        'ERR_BAD_FILE',
        `${input}: none of its ${bad} row(s) could be read (first at ${firstBad})${output ? `; ${output} was not written` : ''}`,
      );
    await sink.commit();
  } catch (e) {
    await Promise.allSettled(jobs);
    await sink.abort();
    if (drawn) progress.write('\r\x1b[2K');
    if (e instanceof OutputClosed) return 0; // `| head`: the reader has what it wanted
    throw e;
  } finally {
    release();
  }
  report(true);
  return 0;
}
