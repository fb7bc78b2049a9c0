/**
 * What the commands check of the files their options name before any work,
 * and how they tidy up when a signal ends them: one wording everywhere.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { JobBERTError } from '../errors.js';
import { UsageError } from './args.js';

/** JobBERTError ERR_NOT_FOUND unless `path`, given as `--flag`, exists. */
export function mustExist(flag: string, path: string): void {
  if (!existsSync(path)) throw new JobBERTError('ERR_NOT_FOUND', `--${flag} ${path} does not exist`);
}

/**
 * JobBERTError ERR_IO when `path`, given as `--flag` for an output, is a
 * folder: found before the run, not when its output is put in place at the end.
 */
export function refuseFolder(flag: string, path: string): void {
  if (existsSync(path) && statSync(path).isDirectory())
    throw new JobBERTError('ERR_IO', `--${flag} ${path} is a directory; name a file (in it, for instance)`);
}

/**
 * {@link refuseFolder}, and JobBERTError ERR_NOT_FOUND / ERR_IO when the
 * folder `path` would go in does not exist / is a file: for an output written
 * after a long run, found before it.
 */
export function checkOutput(flag: string, path: string): void {
  refuseFolder(flag, path);
  const folder = dirname(resolve(path));
  if (!existsSync(folder)) throw new JobBERTError('ERR_NOT_FOUND', `--${flag} ${path}: the folder ${folder} does not exist`);
  if (!statSync(folder).isDirectory()) throw new JobBERTError('ERR_IO', `--${flag} ${path}: ${folder} is a file, not a folder`);
}

/**
 * UsageError when the output `path` (given as `--flag`) is, through any link,
 * the file one of `inputs` (flag → path) names: the output would replace it
 * (`normalize --input a --output a` lost its input). Sync.
 */
export function refuseSameFile(flag: string, path: string, inputs: Record<string, unknown>): void {
  const out = statSync(path, { throwIfNoEntry: false });
  if (!out?.isFile()) return;
  for (const [name, input] of Object.entries(inputs)) {
    if (typeof input !== 'string' || input === '-') continue;
    const s = statSync(input, { throwIfNoEntry: false });
    if (s && s.dev === out.dev && s.ino === out.ino)
      throw new UsageError(`--${flag} ${path} is the --${name} file: the output would replace what it is made from`);
  }
}

/**
 * Until the returned function is called, SIGINT and SIGTERM run `cleanup`
 * (synchronously: the process ends next) and then end the process as the
 * signal would have, with no handler left to catch it.
 */
export function cleanupOnSignal(cleanup: () => void): () => void {
  const interrupted = (signal: NodeJS.Signals) => {
    cleanup();
    release();
    process.kill(process.pid, signal);
  };
  const release = () => {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  return release;
}
