/**
 * The layering of src/ (README "Layout"): each folder imports only from the
 * folders below it, so the tree reads in dependency order.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Lower number = lower layer. Folders on one level must not import each other. */
const LAYERS: Record<string, number> = {
  'errors.ts': 0,
  util: 1,
  catalogue: 1,
  kernels: 2,
  encoders: 3,
  model: 4,
  lite: 4,
  match: 5,
  normalize: 6,
  eval: 7,
  cluster: 8,
  serve: 9,
  train: 10,
  'index.ts': 11,
  cli: 12,
  'bin.ts': 13,
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The top-level entry of src/ a file belongs to: its folder, or the file itself at the top. */
const unit = (file: string) => relative(SRC, file).split(/[\\/]/)[0];

test('every file in src/ belongs to a known layer, and at most three .ts files sit at the top', () => {
  const files = sources(SRC);
  for (const f of files) assert.ok(unit(f) in LAYERS, `${relative(SRC, f)} is in no layer of test/architecture.test.ts`);
  const top = readdirSync(SRC).filter((n) => n.endsWith('.ts'));
  assert.ok(top.length <= 3, `src/ has ${top.length} .ts files at the top: ${top.join(', ')}`);
});

test('src/ imports only downwards: no folder imports a folder above or beside it', () => {
  const violations: string[] = [];
  for (const file of sources(SRC)) {
    const from = unit(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const to = unit(resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'));
      if (to === from) continue;
      if (!(LAYERS[to] < LAYERS[from])) violations.push(`${relative(SRC, file)} imports ${m[1]} (${from} → ${to})`);
    }
  }
  assert.deepEqual(violations, []);
});
