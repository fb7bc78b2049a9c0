/** Writing an output file: through a stream, gzip-compressed when its name says so; whole (writeFileAtomic); where it goes; and what a file renamed into place may replace. */
import { createWriteStream, lstatSync, readlinkSync, realpathSync, type Stats, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { JobBERTError } from '../errors.js';

/**
 * A stream writing to the file `path`, through gzip when `name` (the output's
 * final name, where `path` is a temporary one) ends in `.gz` — at gzip's
 * fastest level: 4× smaller JSON Lines for half the CPU of the default level
 * (which makes them 4.7× smaller). `closed` settles once every byte is in the
 * file and it is closed, or with the first error of the stream or the file
 * (it never rejects unhandled); destroying `stream` settles it too.
 */
export function outputFile(path: string, name: string): { stream: Writable; closed: Promise<void> } {
  const file = createWriteStream(path);
  if (/\.gz$/i.test(name)) {
    const gzip = createGzip({ level: 1 });
    return settled(gzip, pipeline(gzip, file));
  }
  return settled(
    file,
    new Promise<void>((resolve, reject) => {
      file.on('close', resolve);
      file.on('error', reject);
    }),
  );
}

/** `stream` and `closed`, with a handler on `closed` so that its rejection is never unhandled (its holder awaits it). */
function settled(stream: Writable, closed: Promise<void>): { stream: Writable; closed: Promise<void> } {
  closed.catch(() => {});
  return { stream, closed };
}

/**
 * The file to write a file beside and rename over (`what`: "the index"), for
 * the output `path`: the path itself, or through a symbolic link the file it
 * names (the link stays, where it was replaced by a regular file). JobBERTError
 * ERR_IO unless `path` is absent or a regular file: a folder is no place for
 * it, and a device, FIFO or socket was replaced with a regular file (/dev/null,
 * as root). Async.
 */
export async function replaceableTarget(fn: string, path: string, what: string): Promise<string> {
  const there = await stat(path).catch(() => null);
  if (there?.isDirectory()) throw new JobBERTError('ERR_IO', `${fn}: ${path} is a directory; name a file (in it, for instance)`);
  if (there && !there.isFile())
    throw new JobBERTError('ERR_IO', `${fn}: ${path} is not a regular file (a device, FIFO or socket), which ${what} would replace`);
  return outputTarget(fn, path).path;
}

/** Where an output goes ({@link outputTarget}). */
export interface OutputTarget {
  /** The file to write: the path given or, through a symbolic link, the file the link names. */
  path: string;
  /** A FIFO or character device (/dev/null, /dev/stdout, a named pipe): written into as it is, not replaced by a file. */
  inPlace: boolean;
}

/**
 * How an output named `path` is written. A regular file, or nothing yet: to a
 * temporary file beside it, renamed over it at the end — through a symbolic
 * link, beside the file the link names, so the link stays and that file is
 * replaced (the link itself was replaced by a regular file). A FIFO or a
 * character device: into it as it is (it was replaced by a regular file: as
 * root, /dev/null; and a reader on a named pipe waited for good). Sync;
 * JobBERTError ERR_IO for a folder, a socket or a block device (`fn` names
 * the output in the message: '--output').
 */
export function outputTarget(fn: string, path: string): OutputTarget {
  let there: Stats | undefined;
  try {
    there = statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    throw new JobBERTError('ERR_IO', `${fn} ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (there?.isDirectory()) throw new JobBERTError('ERR_IO', `${fn} ${path} is a directory; name a file (in it, for instance)`);
  if (there && (there.isFIFO() || there.isCharacterDevice())) return { path, inPlace: true };
  if (there && !there.isFile())
    throw new JobBERTError('ERR_IO', `${fn} ${path} is a socket or block device, not a file the output can be written to`);
  if (there) return { path: lstatSync(path).isSymbolicLink() ? realpathSync(path) : path, inPlace: false };
  // Nothing there, or a link to nothing: the link names the file to make.
  let target = path;
  for (let hops = 0; hops < 40; hops++) {
    const link = lstatSync(target, { throwIfNoEntry: false });
    if (!link?.isSymbolicLink()) return { path: target, inPlace: false };
    target = resolve(dirname(target), readlinkSync(target));
  }
  throw new JobBERTError('ERR_IO', `${fn} ${path}: too many levels of symbolic links`);
}

/**
 * Writes `data` to `path` whole: into a temporary file beside it, renamed over
 * it, so a reader sees the old file or the new one, never half of one; the
 * temporary file is removed when the write fails. Async.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
