/** `mkdir -p` that ends: Node's own loops for good on a path under /proc. */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * Makes the folder `dir` and every missing folder above it, like
 * `mkdir(dir, { recursive: true })`, which never settles for a path under
 * /proc (the kernel answers ENOENT for a folder whose parent exists, and Node
 * walks up and down again for good). Here each missing folder is made once,
 * top down, and the first failure rejects with its error (ENOENT, EACCES,
 * ENOTDIR, EEXIST for a file in the way). Async; a folder that is there
 * already, or that another process makes meanwhile, is fine.
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = resolve(dir); ; ) {
    const st = await stat(at).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (st) {
      if (missing.length === 0 && !st.isDirectory()) await mkdir(at); // EEXIST, as mkdir -p says
      break;
    }
    missing.push(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing.reverse())
    await mkdir(d).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST' || !(await stat(d)).isDirectory()) throw e;
    });
}
