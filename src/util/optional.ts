/**
 * Optional peer dependencies. onnxruntime-node (288 MB, and a postinstall that
 * downloads CUDA libraries from outside the npm registry) and tokenizers are
 * needed by JobBERT.load alone, so a plain `npm install jobbert` installs
 * neither: they are peer dependencies marked optional, imported on first use,
 * and their absence is a JobBERTError that names the command to type.
 */
import { JobBERTError } from '../errors.js';

/** Loaders keyed by package name, e.g. `{ tokenizers: () => import('tokenizers') }`. */
export type OptionalLoaders = Record<string, () => Promise<unknown>>;

/**
 * Imports every package of `loaders`; async. Resolves to their modules by name;
 * rejects with one `JobBERTError` `ERR_MISSING_DEPENDENCY` naming every package
 * that is not installed (with the npm command that installs them) or that is
 * installed but fails to load (with its error).
 */
export async function importOptional<T extends OptionalLoaders>(
  fn: string,
  loaders: T,
): Promise<{ [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const modules: Record<string, unknown> = {};
  const missing: string[] = [];
  const broken: string[] = [];
  let cause: unknown;
  for (const [name, load] of Object.entries(loaders)) {
    try {
      modules[name] = await load();
    } catch (e) {
      cause ??= e;
      if (isNotInstalled(e, name)) missing.push(name);
      else broken.push(`${name} is installed but cannot be loaded: ${firstLine(e)}`);
    }
  }
  if (missing.length === 0 && broken.length === 0) return modules as { [K in keyof T]: Awaited<ReturnType<T[K]>> };
  const parts: string[] = [];
  if (missing.length > 0) {
    const ort = missing.includes('onnxruntime-node')
      ? " (offline or CPU only: add --onnxruntime-node-install=skip, which stops onnxruntime-node's postinstall from downloading CUDA libraries; for its CUDA provider: --onnxruntime-node-install=cuda12)"
      : '';
    parts.push(
      `${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not installed; they are optional peer dependencies of jobbert: npm install ${missing.join(' ')}${ort}`,
    );
  }
  parts.push(...broken);
  throw new JobBERTError('ERR_MISSING_DEPENDENCY', `${fn} needs ${Object.keys(loaders).join(' and ')}: ${parts.join('; ')}`, { cause });
}

/** Whether an import failed because the package itself (not something inside it) cannot be found. */
function isNotInstalled(e: unknown, name: string): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // "Cannot find package 'tokenizers' imported from …" names the package; a
  // missing file or dependency inside an installed package names that instead.
  return new RegExp(`['"]${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}['"/]`).test((e as Error).message);
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
