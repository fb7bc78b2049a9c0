/**
 * The GEMM and topK block for the caches CPUID reports; JOBBERT_GEMM_L1/_L2
 * override them. Results must not depend on the blocking: each child process
 * here runs the kernels under another cache size and checks them against float64.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { kernels } from '../src/index.js';

const child = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'blocking-child.ts');

function runWith(env: Record<string, string>): { blocking: string; errors: Record<string, number>; batchDiffers: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', child], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

describe('GEMM blocking from the cache sizes', () => {
  it('kernels.info() says which blocking runs and where its cache sizes came from', () => {
    assert.match(
      kernels.info().gemmBlocking,
      /^MR×NR \d+×\d+, KC \d+, B block \d+ KiB \(L1d \d+ KiB, L2 \d+ KiB per core, (from CPUID|set by JOBBERT_GEMM_L1\/L2|CPUID unavailable: defaults)\)$/,
    );
  });

  for (const [name, l1, l2, expect] of [
    ['Sapphire Rapids (48 KB L1, 2 MB L2)', 49152, 2097152, /KC \d+, B block 1024 KiB/],
    ['Zen 4/5 (32 KB L1, 1 MB L2)', 32768, 1048576, /KC \d+, B block 512 KiB/],
    ['tiny caches (8 KB L1, 64 KB L2): many K and N blocks', 8192, 65536, /KC \d+, B block \d+ KiB/],
  ] as const) {
    it(`derives the blocking for ${name} and computes the same results`, () => {
      const r = runWith({ JOBBERT_GEMM_L1: String(l1), JOBBERT_GEMM_L2: String(l2) });
      assert.match(r.blocking, expect);
      assert.match(r.blocking, /set by JOBBERT_GEMM_L1\/L2/);
      for (const [what, err] of Object.entries(r.errors)) assert.ok(err < (what.startsWith('topK') ? 1e-5 : 2e-5), `${what}: ${err}`);
      assert.equal(r.batchDiffers, 0, 'topK of one query must equal its row of the batch, bit for bit');
    });
  }

  it('with AVX-512 and a 48 KB L1, KC is the 384 the kernels were first tuned with', () => {
    if (kernels.info().isa !== 'avx512') return;
    assert.match(runWith({ JOBBERT_GEMM_L1: '49152', JOBBERT_GEMM_L2: '2097152' }).blocking, /KC 384, B block 1024 KiB/);
  });
});
