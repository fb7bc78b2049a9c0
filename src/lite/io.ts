/** Model files of a LiteEncoder: lite.json, table.bin (int8 rows + float32 scales), heads.safetensors. */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { makeDirs } from '../util/make-dirs.js';

export const CONFIG_FILE = 'lite.json';
export const TABLE_FILE = 'table.bin';
export const HEADS_FILE = 'heads.safetensors';

/** Whether `dir` holds a LiteEncoder (its lite.json) rather than another model, such as a sentence-transformers one. Sync. */
export const isLiteModel = (dir: string): boolean => existsSync(join(dir, CONFIG_FILE));

export interface LiteConfig {
  format: 'jobbert-lite';
  version: 1;
  buckets: number;
  dim: number;
  minN: number;
  maxN: number;
  /** int8 codes per row with one float32 scale per row. */
  tableDtype: 'int8';
  /** sha256 (hex) of table.bin and heads.safetensors, and of the feature settings (absent in models written before it). */
  sha256: { table: string; heads: string; config?: string };
  /** Free-form provenance (training command, data, steps). */
  trainedWith?: Record<string, unknown>;
}

export interface LiteWeights {
  config: LiteConfig;
  /** [buckets × dim] float32 (dequantised). */
  table: Float32Array;
  heads: Record<'anchor' | 'positive', { weight: Float32Array; bias: Float32Array }>;
}

/** A model as read from disk: the table stays table.bin's bytes (int8 codes, a scale per row), a quarter of its float32 size. */
export type StoredModel = Omit<LiteWeights, 'table'> & { tableBytes: Uint8Array };

/** The float32 weights of a model read from disk (for training from it). */
export function dequantizeModel(m: StoredModel): LiteWeights {
  return { config: m.config, heads: m.heads, table: dequantizeTable(m.tableBytes, m.config.buckets, m.config.dim) };
}

const bad = (dir: string, why: string) => new JobBERTError('ERR_BAD_MODEL', `LiteEncoder.load: ${dir} is not a LiteEncoder model: ${why}`);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** The checksum of the settings that decide the features (lite.json's own fields, which its other checksums do not cover). */
const configSha = (c: { buckets: number; dim: number; minN: number; maxN: number }) =>
  createHash('sha256').update(`jobbert-lite:1\nbuckets=${c.buckets}\ndim=${c.dim}\nminN=${c.minN}\nmaxN=${c.maxN}\n`).digest('hex');

/** int8 per-row quantisation: [scales f32 × rows][codes i8 × rows × dim]. */
export function quantizeTable(table: Float32Array, rows: number, dim: number): Buffer {
  const buf = Buffer.alloc(rows * 4 + rows * dim);
  const scales = new Float32Array(rows);
  const codes = new Int8Array(buf.buffer, buf.byteOffset + rows * 4, rows * dim);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let d = 0; d < dim; d++) max = Math.max(max, Math.abs(table[r * dim + d]));
    const scale = max / 127;
    scales[r] = scale;
    const inv = scale > 0 ? 1 / scale : 0;
    for (let d = 0; d < dim; d++) codes[r * dim + d] = Math.round(table[r * dim + d] * inv);
  }
  Buffer.from(scales.buffer).copy(buf, 0);
  return buf;
}

export function dequantizeTable(buf: Uint8Array, rows: number, dim: number): Float32Array {
  const scales = new Float32Array(rows);
  new Uint8Array(scales.buffer).set(buf.subarray(0, rows * 4));
  const codes = new Int8Array(buf.buffer, buf.byteOffset + rows * 4, rows * dim);
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const s = scales[r];
    for (let d = 0; d < dim; d++) out[r * dim + d] = codes[r * dim + d] * s;
  }
  return out;
}

/** F32 tensors as a safetensors file's bytes. */
export function safetensors(tensors: Record<string, { shape: number[]; data: Float32Array }>): Buffer {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8) json += ' ';
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([
    head,
    Buffer.from(json),
    ...Object.values(tensors).map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  ]);
}

/** The F32 tensors of a safetensors file's bytes; rejects others with ERR_BAD_MODEL naming `where`. */
export function readSafetensors(buf: Buffer, where: string): Record<string, { shape: number[]; data: Float32Array }> {
  if (buf.length < 8) throw bad(where, `${HEADS_FILE} is truncated`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw bad(where, `${HEADS_FILE} has a header longer than the file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch {
    throw bad(where, `${HEADS_FILE} has a malformed header`);
  }
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = t.data_offsets;
    if (t.dtype !== 'F32' || 8 + n + e > buf.length || e < b)
      throw bad(where, `${HEADS_FILE}: tensor ${name} is not a readable F32 tensor`);
    const data = new Float32Array((e - b) / 4);
    new Uint8Array(data.buffer).set(buf.subarray(8 + n + b, 8 + n + e));
    out[name] = { shape: t.shape, data };
  }
  return out;
}

/** The longest character n-gram a LiteEncoder may use. */
const MAX_NGRAM = 16;

export async function readModel(dir: string): Promise<StoredModel> {
  let config: LiteConfig;
  try {
    config = JSON.parse(await readFile(join(dir, CONFIG_FILE), 'utf8'));
  } catch (e) {
    throw bad(dir, `cannot read ${CONFIG_FILE} (${(e as Error).message})`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw bad(dir, `${CONFIG_FILE} must hold a JSON object; found ${config === null ? 'null' : typeof config}`);
  const { buckets, dim } = config;
  // n-gram lengths bound the features per word (and so the time per text): 1 ≤ minN ≤ maxN ≤ MAX_NGRAM.
  if (
    !Number.isInteger(config.minN) ||
    !Number.isInteger(config.maxN) ||
    config.minN < 1 ||
    config.maxN < config.minN ||
    config.maxN > MAX_NGRAM
  )
    throw bad(
      dir,
      `${CONFIG_FILE}: minN and maxN must be integers with 1 ≤ minN ≤ maxN ≤ ${MAX_NGRAM}; found ${JSON.stringify(config.minN)} and ${JSON.stringify(config.maxN)}`,
    );
  if (
    config.format !== 'jobbert-lite' ||
    config.version !== 1 ||
    !Number.isInteger(buckets) ||
    !Number.isInteger(dim) ||
    buckets <= 0 ||
    (buckets & (buckets - 1)) !== 0 ||
    dim <= 0
  ) {
    throw bad(dir, `${CONFIG_FILE} does not describe a version-1 LiteEncoder`);
  }
  const [tableBytes, headBytes] = await Promise.all([readFile(join(dir, TABLE_FILE)), readFile(join(dir, HEADS_FILE))]).catch((e) => {
    throw bad(dir, (e as Error).message);
  });
  if (tableBytes.length !== buckets * (4 + dim))
    throw bad(dir, `${TABLE_FILE} holds ${tableBytes.length} bytes; expected ${buckets * (4 + dim)}`);
  if (
    config.sha256?.table !== sha(tableBytes) ||
    config.sha256?.heads !== sha(headBytes) ||
    (config.sha256?.config !== undefined && config.sha256.config !== configSha(config))
  ) {
    throw new JobBERTError(
      'ERR_CORRUPT',
      `LiteEncoder.load: checksum mismatch in ${dir} (${TABLE_FILE} or ${HEADS_FILE} or its feature settings changed since ${CONFIG_FILE} was written)`,
    );
  }
  const tensors = readSafetensors(headBytes, dir);
  const head = (name: 'anchor' | 'positive') => {
    const w = tensors[`${name}.weight`];
    const b = tensors[`${name}.bias`];
    if (!w || !b || w.data.length !== dim * dim || b.data.length !== dim)
      throw bad(dir, `${HEADS_FILE} lacks ${name}.weight [${dim},${dim}] / ${name}.bias [${dim}]`);
    return { weight: w.data, bias: b.data };
  };
  return { config, heads: { anchor: head('anchor'), positive: head('positive') }, tableBytes };
}

/** Writes the model atomically per file (temp + rename); lite.json last. */
export async function writeModel(
  dir: string,
  w: Omit<LiteWeights, 'config'> & { config: Omit<LiteConfig, 'sha256' | 'format' | 'version' | 'tableDtype'> },
): Promise<LiteConfig> {
  const { buckets, dim } = w.config;
  const ioError = (e: unknown) =>
    e instanceof JobBERTError ? e : new JobBERTError('ERR_IO', `cannot write the model to ${dir}: ${(e as Error).message}`, { cause: e });
  const table = quantizeTable(w.table, buckets, dim);
  const heads = safetensors({
    'anchor.weight': { shape: [dim, dim], data: w.heads.anchor.weight },
    'anchor.bias': { shape: [dim], data: w.heads.anchor.bias },
    'positive.weight': { shape: [dim, dim], data: w.heads.positive.weight },
    'positive.bias': { shape: [dim], data: w.heads.positive.bias },
  });
  const config: LiteConfig = {
    format: 'jobbert-lite',
    version: 1,
    ...w.config,
    tableDtype: 'int8',
    sha256: { table: sha(table), heads: sha(heads), config: configSha(w.config) },
  };
  // Every file written under a name of its own first (two saves into one folder at once shared one name),
  // then renamed into place, lite.json last: a save that failed half-way (a trainedWith JSON could not
  // hold) had replaced the table and heads of the model there, which then failed its checksums.
  const files: [string, Buffer | string][] = [
    [TABLE_FILE, table],
    [HEADS_FILE, heads],
    [CONFIG_FILE, `${JSON.stringify(config, null, 2)}\n`],
  ];
  // Made once every file's bytes are known: a config JSON cannot hold made an empty folder.
  await makeDirs(dir).catch((e) => {
    throw ioError(e);
  });
  const temps = files.map(([name]) => join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`));
  try {
    for (let i = 0; i < files.length; i++) await writeFile(temps[i], files[i][1]);
    for (let i = 0; i < files.length; i++) await rename(temps[i], join(dir, files[i][0]));
  } catch (e) {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    throw ioError(e);
  }
  return config;
}
