#!/usr/bin/env node
// Stands in for node-gyp when prebuildify runs (its --node-gyp option): prebuildify calls
// `<this> rebuild --target=… --devdir=… --arch=… --release` in build-prebuild/ and then
// takes the first .node file of build-prebuild/build/Release. This builds the addon with
// cmake-js (the project's build system) in build-prebuild/cmake, with the CUDA backend on
// exactly when scripts/prebuild.mjs found nvcc, and puts the result where prebuildify looks.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = process.env.JOBBERT_PREBUILD_ROOT;
if (!root) {
  console.error('prebuild-cmake-js.mjs: run through scripts/prebuild.mjs (JOBBERT_PREBUILD_ROOT is unset)');
  process.exit(2);
}
const argv = process.argv.slice(2);
const debug = argv.includes('--debug');
const arch = argv.find((a) => a.startsWith('--arch='))?.slice('--arch='.length);
const nvcc = process.env.JOBBERT_PREBUILD_NVCC;
const out = join(root, 'build-prebuild', 'cmake');

const args = ['--directory', root, '--out', out, '--log-level', 'warn'];
if (debug) args.push('--debug');
if (arch) args.push('--arch', arch);
if (nvcc) args.push('--CDJOBBERT_CUDA=ON', `--CDCMAKE_CUDA_COMPILER=${nvcc}`);
else args.push('--CDJOBBERT_CUDA=OFF');
// libstdc++ stays dynamic: linked statically, GCC 12's libstdc++ and libgcc pull in arc4random and
// _dl_find_object and raise the glibc floor from 2.34 to 2.36 (out goes Ubuntu 22.04).
// configure, then build: cmake-js's compile would keep an existing cache and drop changed -D options.
for (const command of ['configure', 'build']) {
  const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const run = spawnSync(process.execPath, [cmakeJs, command, ...args], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

const config = debug ? 'Debug' : 'Release';
const dest = join(root, 'build-prebuild', 'build', config);
rmSync(dest, { recursive: true, force: true });
mkdirSync(dest, { recursive: true });
copyFileSync(join(out, config, 'jobbert.node'), join(dest, 'jobbert.node'));
