/**
 * What a batch job is on the wire, shared by the submitter (runBatch) and the
 * workers: the chunk message, where a chunk's result is stored, and for each
 * task how a worker runs a chunk and how the submitter turns a stored result
 * into output lines.
 *
 * A chunk goes to subject jobbert.work.<route>.<job>.<chunk>, where route is a
 * hash of the task and the model fingerprint the submitter expects: a worker
 * consumes only its own route, so a worker with another model never sees the
 * job's chunks (and refuses one whose fingerprint differs, should it get one).
 * Results go to the job's object store, one object per chunk (`c<chunk>`),
 * written before the chunk is acknowledged: a chunk done twice writes the same
 * object twice, so the output never holds a row twice.
 */
import { createHash } from 'node:crypto';
import type { ObjectStore } from '@nats-io/obj';
import type { Branch, Encoder } from '../encoders/encoder.js';
import { JobBERTError } from '../errors.js';
import { ID_RULE, namedFormat, openRows, rowId, TITLE_COLUMNS, type TitleFields, titleFields, titleOf } from '../normalize/rows.js';

/** The work a batch job does on each title. */
export type BatchTask = 'encode' | 'normalize';
export const BATCH_TASKS: readonly BatchTask[] = ['encode', 'normalize'];

/** One chunk of a job, as published to the work stream. */
export interface ChunkMessage {
  v: 1;
  job: string;
  /** The job's object store, where the result goes. */
  bucket: string;
  chunk: number;
  /** Input row number of the chunk's first title. */
  first: number;
  task: BatchTask;
  /** The fingerprint of the model the submitter expects. */
  fingerprint: string;
  /** Task options (encode: branch; normalize: k, lang, outputLang). */
  options: Record<string, unknown>;
  titles: string[];
  /** Row ids (input ids, else row numbers), for tasks whose output carries them. */
  ids: string[];
}

/** A chunk's stored outcome: `status` is in the object's metadata. */
export interface ChunkFailure {
  code: string;
  message: string;
  /** Deliveries of the chunk when it was given up. */
  deliveries: number;
}

/** How a worker runs one task. */
export interface TaskRunner {
  readonly task: BatchTask;
  /** Chunks must carry this fingerprint (the model's, with the task's own settings). */
  readonly fingerprint: string;
  /** Runs a chunk; resolves with the bytes to store. */
  run(chunk: ChunkMessage): Promise<Uint8Array>;
}

/** The job name rule: it becomes part of subjects and a bucket name. */
export const JOB_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The object store of a job's results. */
export const jobBucket = (job: string) => `jobbert-job-${job}`;

/** The routing key of (task, fingerprint): 16 hex digits, subject-safe. */
export const routeOf = (task: BatchTask, fingerprint: string) =>
  createHash('sha256').update(`${task}\n${fingerprint}`).digest('hex').slice(0, 16);

export const chunkSubject = (route: string, job: string, chunk: number) => `jobbert.work.${route}.${job}.${chunk}`;

/**
 * Where workers tell a job's submitter of a problem it cannot see in the job's
 * store (core NATS, stored nowhere: the broker is full): `{ code, message, chunk }`.
 */
export const problemSubject = (job: string) => `jobbert.problem.${job}`;
export interface JobProblem {
  code: 'ERR_BROKER_FULL';
  message: string;
  chunk: number;
}
export const chunkObject = (chunk: number) => `c${chunk}`;

/** The chunks with a stored outcome (a result, or failed: given up after their attempts), by chunk. Async. */
export async function outcomes(bucket: ObjectStore): Promise<Map<number, 'ok' | 'failed'>> {
  const out = new Map<number, 'ok' | 'failed'>();
  for (const o of await bucket.list()) {
    if (o.deleted || !/^c\d+$/.test(o.name)) continue;
    out.set(Number(o.name.slice(1)), o.metadata?.status === 'failed' ? 'failed' : 'ok');
  }
  return out;
}

/** One input row: its id (JSON Lines `id`, else the row number) and title. */
export interface BatchRow {
  id: string;
  title: string;
}

/**
 * Reads a batch input file as rows, streaming: JSON Lines of `{"id"?, "title"}`
 * (.jsonl/.ndjson/.json), CSV/TSV with a header (.csv/.tsv: the title column is
 * `column`, else one of TITLE_COLUMNS, as `jobbert normalize` reads them; an `id` column gives ids), or
 * else one title per line (a .txt as `jobbert normalize` reads it: tab-separated with a header if its first
 * line holds a tab); any of them gzip-compressed (.gz). Ids not given are row numbers. Async iterable;
 * rejects with JobBERTError ERR_NOT_FOUND / ERR_IO, or ERR_BAD_FILE naming the line.
 */
export async function* readBatchInput(path: string, opts: { column?: string } = {}): AsyncGenerator<BatchRow> {
  // A .txt may be a spreadsheet's tab-separated export (detectFormat tells); a name without a known extension is a list of titles.
  const { format, rows } = await openRows(path, namedFormat(path) === undefined ? 'lines' : undefined);
  let fields: TitleFields | undefined;
  let n = 0;
  for await (const row of rows) {
    if (row.error !== undefined) throw new JobBERTError('ERR_BAD_FILE', `${path}:${row.line}: ${row.error}`);
    if (fields === undefined) {
      const cols = Object.keys(row.record);
      fields = titleFields(format, cols, opts.column);
      if (fields === undefined)
        throw new JobBERTError(
          'ERR_BAD_FILE',
          `${path}: no title column (${opts.column ?? TITLE_COLUMNS.join('|')}) in the header (columns: ${cols.join(', ')})`,
        );
    }
    const title = titleOf(row.record, fields);
    if (typeof title !== 'string') throw new JobBERTError('ERR_BAD_FILE', `${path}:${row.line}: no '${fields.title}' string`);
    const id = rowId(fields.id === undefined ? undefined : row.record[fields.id], n);
    if (id === undefined) throw new JobBERTError('ERR_BAD_FILE', `${path}:${row.line}: '${fields.id}' ${ID_RULE}`);
    yield { id, title };
    n++;
  }
}

/** Rows grouped into chunks of `size`, streaming. */
export async function* chunked(rows: AsyncIterable<BatchRow>, size: number): AsyncGenerator<BatchRow[]> {
  let chunk: BatchRow[] = [];
  for await (const row of rows) {
    chunk.push(row);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

// ---- encode ----

const BRANCHES: readonly Branch[] = ['anchor', 'positive', 'base'];

/** The encode task on a worker: the chunk's titles → float32 rows (little-endian), rows × dim. */
export function encodeRunner(encoder: Encoder): TaskRunner {
  return {
    task: 'encode',
    fingerprint: encoder.fingerprint,
    async run(chunk) {
      const branch = (chunk.options.branch as Branch | undefined) ?? 'anchor';
      if (!BRANCHES.includes(branch)) throw new RangeError(`encode: branch must be anchor, positive or base; received ${String(branch)}`);
      const m = await encoder.encode(chunk.titles, { branch });
      if (m.rows !== chunk.titles.length)
        throw new JobBERTError('ERR_INTERNAL', `encode: ${m.rows} vectors for ${chunk.titles.length} titles`);
      const bytes = new Uint8Array(m.data.length * 4);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < m.data.length; i++) view.setFloat32(i * 4, m.data[i], true);
      return bytes;
    },
  };
}

/** The output lines of an encode chunk: each row as `jobbert encode` prints it (a JSON array). */
export function encodeLines(bytes: Uint8Array, rows: number): string[] {
  if (rows === 0) return [];
  const dim = bytes.length / 4 / rows;
  if (!Number.isInteger(dim)) throw new JobBERTError('ERR_CORRUPT', `an encode result of ${bytes.length} bytes cannot hold ${rows} rows`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lines: string[] = [];
  const row = new Float32Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++) row[j] = view.getFloat32((r * dim + j) * 4, true);
    lines.push(JSON.stringify(Array.from(row)));
  }
  return lines;
}
