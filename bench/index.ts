/**
 * Benchmark runner: `npm run bench -- [suite ...]`.
 *
 * Suites: kernels (= dense, topk, infonce), cluster, encode, lite, matchindex, normalize, serve, train, or any of those alone. Each runs in
 * its own child process so peak-RSS figures belong to that suite alone. Peers
 * are measured in the same run and printed beside our figure as a ratio.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kernels } from '../src/index.js';
import { benchCluster } from './cluster.js';
import { cpuDescription } from './common.js';
import { benchDense } from './dense.js';
import { benchEncode } from './encode.js';
import { benchInfoNCE } from './infonce.js';
import { benchLite } from './lite.js';
import { benchMatchIndex } from './match-index.js';
import { benchNormalize } from './normalize.js';
import { benchServe } from './serve.js';
import { benchTopK } from './topk.js';
import { benchTrain } from './train.js';

const SUITES: Record<string, () => Promise<void>> = {
  cluster: benchCluster,
  dense: benchDense,
  encode: benchEncode,
  topk: benchTopK,
  infonce: benchInfoNCE,
  lite: benchLite,
  matchindex: benchMatchIndex,
  normalize: benchNormalize,
  serve: benchServe,
  train: benchTrain,
};
const GROUPS: Record<string, string[]> = { kernels: ['dense', 'topk', 'infonce'] };

async function main(args: string[]): Promise<number> {
  if (args[0] === '--child') {
    await SUITES[args[1]]();
    return 0;
  }
  const names = (args.length ? args : ['kernels']).flatMap((a) => GROUPS[a] ?? [a]);
  const unknown = names.filter((n) => !SUITES[n]);
  if (unknown.length) {
    console.error(
      `bench: unknown suite(s) ${unknown.join(', ')}; choose from ${[...Object.keys(GROUPS), ...Object.keys(SUITES)].join(', ')}`,
    );
    return 2;
  }
  const info = kernels.info();
  console.log(
    `jobbert bench: node ${process.version}, CPU ${cpuDescription()}, ${info.threads} threads, isa ${info.isa}, backends ${info.backends.join('+')}`,
  );
  for (const name of names) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', name], { stdio: 'inherit' });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
