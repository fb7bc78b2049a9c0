#!/usr/bin/env node
// Builds the addon that ships in the package: prebuilds/<platform>-<arch>/node.napi.<libc>.node,
// named as node-gyp-build selects it (N-API, so one file serves every Node version the
// package supports). Run by `npm pack` / `npm publish` (prepack) and by `npm run build:prebuild`.
//
// prebuildify does the naming, libc tagging and stripping; it drives node-gyp, so
// scripts/prebuild-cmake-js.mjs stands in for node-gyp (prebuildify's --node-gyp hook) and
// builds with cmake-js in build-prebuild/, apart from the developer's build/. With nvcc on
// the PATH (or at /usr/local/cuda/bin) the CUDA backend is compiled in, cudart linked
// statically (CMakeLists.txt), so the same file loads on machines without a GPU.
//
// The build is skipped when the prebuild exists and its sources are unchanged (a hash
// of native/, bindings/, CMakeLists.txt and the toolchain kept in build-prebuild/), so
// packing again costs seconds. --force rebuilds; JOBBERT_SKIP_PREBUILD=1 skips the step
// altogether (the package then holds whatever prebuilds/ holds).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
if (process.env.JOBBERT_SKIP_PREBUILD === '1') {
  console.log('prebuild: skipped (JOBBERT_SKIP_PREBUILD=1)');
  process.exit(0);
}

const libc = process.platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl') : '';
const folder = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const file = join(folder, `node.napi${libc ? `.${libc}` : ''}.node`);
const work = join(root, 'build-prebuild');
const stampPath = join(work, 'sources.sha256');

const nvcc = which('nvcc') ?? (existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null);
const stamp = sourcesHash();
if (!force && existsSync(file) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) {
  console.log(`prebuild: ${relative(root, file)} is up to date`);
  process.exit(0);
}

console.log(`prebuild: building ${relative(root, file)} (CUDA backend: ${nvcc ? `yes, ${nvcc}` : 'no, nvcc not found'})`);
mkdirSync(work, { recursive: true });
const started = Date.now();
const bin = join(root, 'node_modules', 'prebuildify', 'bin.js');
// glibc or musl in the name on Linux only: prebuildify would call a macOS build glibc too.
const args = [bin, '--napi', '--strip', ...(libc ? ['--tag-libc'] : []), '--name', 'node.napi', '--cwd', work, '--out', root];
args.push('--node-gyp', join(root, 'scripts', 'prebuild-cmake-js.mjs'));
const env = { ...process.env, JOBBERT_PREBUILD_ROOT: root, JOBBERT_PREBUILD_NVCC: nvcc ?? '' };
const run = spawnSync(process.execPath, args, { cwd: work, env, stdio: 'inherit' });
if (run.status !== 0) {
  console.error(`prebuild: failed (exit ${run.status ?? run.signal})`);
  process.exit(1);
}
if (!existsSync(file)) {
  console.error(`prebuild: prebuildify finished but ${relative(root, file)} is not there`);
  process.exit(1);
}
writeFileSync(stampPath, stamp);
const mib = (statSync(file).size / 2 ** 20).toFixed(1);
console.log(`prebuild: ${relative(root, file)} (${mib} MiB) in ${((Date.now() - started) / 1000).toFixed(0)} s`);

/** Everything the prebuild depends on: sources, build files, compilers, Node-API headers. */
function sourcesHash() {
  const h = createHash('sha256');
  const files = [];
  for (const dir of ['native/include', 'native/src', 'native/cuda', 'bindings']) walk(join(root, dir), files);
  files.push(join(root, 'CMakeLists.txt'), join(root, 'scripts', 'prebuild.mjs'), join(root, 'scripts', 'prebuild-cmake-js.mjs'));
  for (const f of files.sort()) h.update(`${relative(root, f)}\n`).update(readFileSync(f));
  for (const pkg of ['node-addon-api', 'cmake-js', 'prebuildify']) {
    h.update(`${pkg}@${JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version}\n`);
  }
  h.update(`nvcc=${nvcc ?? ''}\ncxx=${version(process.env.CXX || 'c++')}\ncuda=${nvcc ? version(nvcc) : ''}\n`);
  return h.digest('hex');
}

function walk(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (p !== join(root, 'native', 'cuda', 'emu')) walk(p, out); // the emulator is for tests, never in a prebuild
    } else {
      out.push(p);
    }
  }
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

function version(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n').pop() : 'none';
}
