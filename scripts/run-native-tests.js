#!/usr/bin/env node
// Runs the native harness programs (build-dir/test_*) in quick mode — float64
// reference checks for every instruction set, no timings — and prints one
// closing line: "native: N passed, N failed".
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'build-native';
const programs = readdirSync(dir)
  .filter((f) => f.startsWith('test_') && !f.includes('.') && statSync(join(dir, f)).mode & 0o111)
  .sort();
if (programs.length === 0) {
  console.error(`no test_* programs in ${dir}: build the harness first (npm run test:native)`);
  process.exit(1);
}
let passed = 0;
let failed = 0;
for (const p of programs) {
  const r = spawnSync(join(dir, p), ['--quick'], { stdio: 'inherit', env: { ...process.env, JOBBERT_QUICK: '1' } });
  if (r.status === 0) passed++;
  else {
    failed++;
    console.error(`${p}: exit ${r.status ?? r.signal}`);
  }
}
console.log(`native: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
