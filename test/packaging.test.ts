/**
 * What `npm install jobbert` gets: the optional peers (onnxruntime-node, tokenizers) and
 * the error that names them when absent, the package's dependency fields, and the file
 * list of the tarball (no tests, harness or emulator). scripts/consumer-test.sh installs
 * the real tarball without a toolchain; this suite checks the parts that need no pack.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { JobBERTError } from '../src/errors.js';
import { loadAddon } from '../src/kernels/binding.js';
import { importOptional } from '../src/util/optional.js';
import { rejectsWith } from './rejects.js';

const root = join(import.meta.dirname, '..');

describe('the native addon', () => {
  test('no build for this platform is ERR_NO_NATIVE_BUILD naming the commands that compile it; other load errors pass through', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'jobbert-no-addon-'));
    try {
      await writeFile(join(empty, 'package.json'), '{"name": "jobbert", "version": "0.0.0"}');
      // node-gyp-build itself, over a package folder with neither build/ nor prebuilds/.
      const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as (dir: string) => never;
      assert.throws(
        () => loadAddon(empty, nodeGypBuild),
        (e) =>
          e instanceof JobBERTError &&
          e.code === 'ERR_NO_NATIVE_BUILD' &&
          e.message.includes(`${process.platform}-${process.arch}`) &&
          e.message.includes('npm install-scripts approve jobbert && npm rebuild jobbert') &&
          e.message.includes('npx cmake-js compile') &&
          /No native build was found/.test(String((e.cause as Error).message)),
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    const other = new Error('libstdc++.so.6: version GLIBCXX_3.4.30 not found');
    assert.throws(
      () =>
        loadAddon('/nowhere', () => {
          throw other;
        }),
      (e) => e === other,
    );
  });
});

describe('importOptional', () => {
  test('resolves to the modules by package name when they are installed', async () => {
    const peers = await importOptional('f', { 'node:path': () => import('node:path'), tokenizers: () => import('tokenizers') });
    assert.equal(typeof peers['node:path'].join, 'function');
    assert.equal(typeof peers.tokenizers.Tokenizer, 'function');
  });

  test('a package that is not installed is ERR_MISSING_DEPENDENCY naming the npm command', async () => {
    const name = 'jobbert-test-no-such-package';
    await rejectsWith(
      importOptional('JobBERT.load', { [name]: () => import(name), tokenizers: () => import('tokenizers') }),
      'ERR_MISSING_DEPENDENCY',
      `JobBERT.load needs ${name} and tokenizers`,
      `npm install ${name}`,
      'optional peer dependencies',
    );
  });

  test('every missing package is named in one error, with the onnxruntime download flags', async () => {
    const specifiers = ['jobbert-test-missing-a'];
    const e = await rejectsWith(
      importOptional('f', {
        'onnxruntime-node': async () => {
          throw Object.assign(new Error("Cannot find package 'onnxruntime-node' imported from /x/y.js"), { code: 'ERR_MODULE_NOT_FOUND' });
        },
        [specifiers[0]]: () => import(specifiers[0]),
      }),
      'ERR_MISSING_DEPENDENCY',
      `npm install onnxruntime-node ${specifiers[0]}`,
      '--onnxruntime-node-install=skip',
      '--onnxruntime-node-install=cuda12',
    );
    assert.ok(e.cause instanceof Error);
  });

  test('an installed package that fails to load is ERR_MISSING_DEPENDENCY with its error, not an install command', async () => {
    const e = await rejectsWith(
      importOptional('f', {
        tokenizers: async () => {
          throw Object.assign(new Error("Cannot find module '/x/node_modules/tokenizers/tokenizers.linux-x64-gnu.node'\nRequire stack:"), {
            code: 'MODULE_NOT_FOUND',
          });
        },
      }),
      'ERR_MISSING_DEPENDENCY',
      "tokenizers is installed but cannot be loaded: Cannot find module '/x/node_modules/tokenizers/tokenizers.linux-x64-gnu.node'",
    );
    assert.ok(!e.message.includes('npm install'), e.message);
    assert.ok(!e.message.includes('Require stack'), e.message);
  });
});

describe('package.json', () => {
  test('onnxruntime-node and tokenizers are optional peers (and dev dependencies), never installed with jobbert', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
    for (const name of ['onnxruntime-node', 'tokenizers']) {
      assert.equal(pkg.dependencies[name], undefined, `${name} must not be a dependency`);
      assert.equal(pkg.optionalDependencies?.[name], undefined, `${name} must not be an optional dependency (npm installs those)`);
      assert.ok(pkg.peerDependencies[name], `${name} is a peer dependency`);
      assert.equal(pkg.peerDependenciesMeta[name]?.optional, true, `${name} is an optional peer`);
      assert.equal(pkg.devDependencies[name], pkg.peerDependencies[name], `${name}: the tests run the version range users get`);
    }
    // @nats-io/*: the NATS client of src/cluster (pure JavaScript, no install step).
    assert.deepEqual(Object.keys(pkg.dependencies).sort(), [
      '@nats-io/jetstream',
      '@nats-io/obj',
      '@nats-io/transport-node',
      'cmake-js',
      'csv-parse',
      'node-addon-api',
      'node-gyp-build',
    ]);
    assert.match(pkg.scripts.install, /^node-gyp-build-test \|\| cmake-js compile/);
    assert.equal(pkg.scripts.prepack, 'node scripts/prebuild.mjs');
  });

  test('the tarball holds what users run, not the tests, the native harness or the emulator', async () => {
    // --ignore-scripts: the file list alone, without building the prebuild (the consumer test packs for real).
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      maxBuffer: 1 << 24,
      env: { ...process.env, npm_config_loglevel: 'silent' },
    });
    const files: string[] = JSON.parse(stdout)[0].files.map((f: { path: string }) => f.path);
    for (const f of files) {
      assert.ok(!/^(test|bench|scripts|src|native\/test|native\/cuda\/emu|build[^/]*)\//.test(f), `${f} must not be in the package`);
      assert.ok(!f.endsWith('.map'), `${f}: no source maps (their sources are not shipped)`);
      assert.ok(!f.endsWith('.ts') || f.endsWith('.d.ts'), `${f}: no TypeScript sources`);
    }
    for (const f of [
      'package.json',
      'README.md',
      'CMakeLists.txt',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/bin.js',
      'models/lite/table.bin',
      'bindings/addon.cpp',
      'native/include/jobbert/kernels.h',
      'native/src/gemm_kernel.inc',
      'native/cuda/unavailable.cpp',
      'native/cuda/dense.cu',
      'native/cuda/common.cuh',
    ]) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    // What the README links to or shows (the reliability diagram, the experiments
    // record) ships with it, so the README reads whole in node_modules/jobbert.
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const local = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    assert.ok(local.includes('docs/reliability.svg'), 'the README shows the reliability diagram');
    for (const l of local) assert.ok(files.includes(l), `the README links to ${l}, which is in the package`);
  });
});
