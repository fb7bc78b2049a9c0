/** The CLI's model commands: convert (safetensors → ONNX), download (from the hub), encode (texts → vectors). */
import { stat } from 'node:fs/promises';
import type { Branch } from '../encoders/encoder.js';
import { download, type DownloadProgress } from '../model/download.js';
import { convertModelDir } from '../model/jobbert.js';
import { parseArgs, UsageError } from './args.js';
import { isLiteModel, modelDir, modelEncoder } from './model.js';

type Out = (line: string) => void;

/** Where live progress goes: a terminal gets a redrawn bar, anything else plain lines. */
export interface ProgressSink {
  isTTY?: boolean;
  write(s: string): unknown;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
}

function choice<T extends string>(name: string, v: unknown, choices: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!choices.includes(v as T)) throw new UsageError(`--${name} must be ${choices.join(' or ')}; received '${String(v)}'`);
  return v as T;
}

/** `jobbert convert DIR [--precision fp32|int8] [--json]`. */
export async function convertCommand(argv: string[], out: Out): Promise<number> {
  const { options, positionals } = parseArgs(argv, { options: { precision: 'string', json: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(`convert needs exactly one model directory; received ${positionals.length}`);
  const precision = choice('precision', options.precision, ['fp32', 'int8'] as const, 'fp32');
  const t0 = performance.now();
  const file = await convertModelDir(positionals[0], { precision });
  const seconds = (performance.now() - t0) / 1000;
  const bytes = (await stat(file)).size;
  if (options.json) out(JSON.stringify({ file, precision, bytes, seconds }));
  else out(`wrote ${file} (${precision}, ${formatBytes(bytes)}) in ${seconds.toFixed(1)} s`);
  return 0;
}

/** Draws per-file progress: a bar redrawn in place on a terminal, one line per finished file otherwise. */
function progressPrinter(sink: ProgressSink, out: Out, quiet: boolean) {
  let file = '';
  let startedAt = 0;
  let startBytes = 0;
  let lastDraw = 0;
  let downloaded = 0;
  const finish = (p: DownloadProgress) => {
    if (quiet) return;
    if (sink.isTTY) sink.write('\n');
    else out(`fetched ${p.file} (${formatBytes(p.bytes)})`);
  };
  const onProgress = (p: DownloadProgress) => {
    const now = performance.now();
    if (p.file !== file) {
      file = p.file;
      startedAt = now;
      startBytes = p.bytes;
      lastDraw = 0;
    }
    const complete = p.total > 0 && p.bytes >= p.total;
    if (sink.isTTY && !quiet && (complete || now - lastDraw > 100)) {
      lastDraw = now;
      const pct = p.total > 0 ? p.bytes / p.total : 0;
      const width = 24;
      const filled = Math.round(pct * width);
      const rate = (p.bytes - startBytes) / Math.max((now - startedAt) / 1000, 1e-3);
      const size = p.total > 0 ? `${formatBytes(p.bytes)}/${formatBytes(p.total)}` : formatBytes(p.bytes);
      sink.write(
        `\r\x1b[2K${p.file} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(pct * 100).toFixed(0).padStart(3)}% ${size} ${formatBytes(rate)}/s`,
      );
    }
    if (complete) {
      downloaded += p.bytes - startBytes;
      startBytes = p.bytes;
      finish(p);
    }
  };
  return { onProgress, downloaded: () => downloaded };
}

/** `jobbert download REPO [--cache-dir DIR] [--endpoint URL] [--revision R] [--onnx] [--refresh] [--json]`. */
export async function downloadCommand(argv: string[], out: Out, progress: ProgressSink = process.stderr): Promise<number> {
  const { options, positionals } = parseArgs(argv, {
    options: { 'cache-dir': 'string', endpoint: 'string', revision: 'string', onnx: 'boolean', refresh: 'boolean', json: 'boolean' },
  });
  if (positionals.length !== 1)
    throw new UsageError(`download needs exactly one repository id (such as TechWolf/JobBERT-v3); received ${positionals.length}`);
  const repo = positionals[0];
  const printer = progressPrinter(progress, out, Boolean(options.json));
  const t0 = performance.now();
  let dir: string;
  try {
    dir = await download(repo, {
      cacheDir: options.cacheDir as string | undefined,
      endpoint: options.endpoint as string | undefined,
      revision: options.revision as string | undefined,
      onnx: options.onnx as boolean | undefined,
      refresh: options.refresh as boolean | undefined,
      onProgress: printer.onProgress,
    });
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(e.message);
    if (progress.isTTY && !options.json) progress.write('\n');
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  const bytes = printer.downloaded();
  if (options.json) out(JSON.stringify({ repo, dir, downloadedBytes: bytes, seconds }));
  else out(bytes > 0 ? `${repo} → ${dir} (${formatBytes(bytes)} in ${seconds.toFixed(1)} s)` : `${repo} → ${dir} (up to date)`);
  return 0;
}

/**
 * `jobbert encode TEXT... [--model DIR|REPO] [--branch anchor|positive|base] [--json]`: the built-in
 * model without --model (as `batch encode` and `worker`), a LiteEncoder directory (lite.json), or a
 * sentence-transformers one, which alone takes [--precision fp32|int8] [--batch-size N] [--threads N].
 */
export async function encodeCommand(argv: string[], out: Out): Promise<number> {
  const { options, positionals } = parseArgs(argv, {
    options: { model: 'string', branch: 'string', precision: 'string', 'batch-size': 'integer', threads: 'integer', json: 'boolean' },
  });
  if (positionals.length === 0) throw new UsageError('encode needs at least one text');
  const branch = choice<Branch>('branch', options.branch, ['anchor', 'positive', 'base'], 'anchor');
  const precision = choice('precision', options.precision, ['fp32', 'int8'] as const, 'fp32');
  const dir = options.model === undefined ? undefined : modelDir(options.model as string);
  if (dir === undefined || isLiteModel(dir)) {
    const stray = (['precision', 'batchSize', 'threads'] as const).find((o) => options[o] !== undefined);
    if (stray)
      throw new UsageError(
        `--${stray === 'batchSize' ? 'batch-size' : stray} has no effect with ${dir === undefined ? 'the built-in model' : `the LiteEncoder in ${dir}`}: it sets how a JobBERT model (--model DIR) runs`,
      );
  }
  const encoder = await modelEncoder(dir, {
    precision,
    batchSize: options.batchSize as number | undefined,
    threads: options.threads as number | undefined,
  });
  try {
    const m = await encoder.encode(positionals, { branch });
    const rows = Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
    if (options.json) out(JSON.stringify({ branch, dim: m.cols, vectors: rows }));
    else for (const r of rows) out(JSON.stringify(r));
  } finally {
    await encoder.dispose();
  }
  return 0;
}
