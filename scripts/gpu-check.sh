#!/usr/bin/env bash
# The one script to run on a GPU box (nvcc, cmake, python3 with torch; no node,
# no network): builds the native harness with the CUDA backend (plain CMake, no
# cmake-js, so no addon), runs test_cuda's checks on the GPU, times our kernels
# and their PyTorch peers, and prints one merged table.
#
#   bash scripts/gpu-check.sh [OUT_DIR]        OUT_DIR: default $OUT, else ./gpu-out
#
# Writes to OUT_DIR: gpu-check.log (everything), <stage>.log for each stage,
# ours.json (test_cuda --time), torch.json (scripts/torch_peers.py), summary.md
# (the merged table). A stage that fails does not stop the later stages that do
# not need it; the list of stages and their outcome prints on exit whatever
# happens. Exit status: 0 when every stage passed.
#
# Environment: CUDA_ARCH (default 90), JOBS (default 16), BUILD_DIR (default
# build-gpu), GPU_CHECK_BUDGET_S (default 440: the whole run's time limit; each
# stage gets the smaller of its own cap and what is left), CHECK_ARGS (extra
# arguments of the checks run, e.g. --quick; default none: the full GPU-size
# checks, a superset of --quick).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT_DIR=${1:-${OUT:-./gpu-out}}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
BUILD=${BUILD_DIR:-build-gpu}
ARCH=${CUDA_ARCH:-90}
JOBS=${JOBS:-16}
BUDGET=${GPU_CHECK_BUDGET_S:-440}
START=$(date +%s)
SUMMARY=()
FAILED=0

finish() {
  local rc=$?
  echo
  echo "=== gpu-check: stages ($(( $(date +%s) - START ))s in all; logs and JSON in $OUT_DIR)"
  local line
  for line in ${SUMMARY[@]+"${SUMMARY[@]}"}; do echo "  $line"; done
  if (( rc != 0 )) && (( FAILED == 0 )); then
    echo "  (the script itself stopped with status $rc)"
    FAILED=1
  fi
  if (( FAILED )); then echo "gpu-check: FAILED"; else echo "gpu-check: ok"; fi
  exit $(( FAILED ? 1 : 0 ))
}
# stage NAME CAP_SECONDS COMMAND...: runs COMMAND under a time limit (the smaller
# of CAP_SECONDS and what is left of the budget), its output to the console and
# OUT_DIR/NAME.log; records the outcome and returns the command's status.
stage() {
  local name=$1 cap=$2
  shift 2
  local left=$(( BUDGET - ($(date +%s) - START) ))
  if (( left < 15 )); then
    SUMMARY+=("$name: SKIPPED (time budget spent)")
    FAILED=1
    return 1
  fi
  local limit=$(( cap < left ? cap : left ))
  echo
  local cmd="$*"
  (( ${#cmd} > 200 )) && cmd="${cmd:0:200}..."
  echo "=== $name (limit ${limit}s): $cmd"
  local t0 rc
  t0=$(date +%s)
  set +e
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT_DIR/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  local took=$(( $(date +%s) - t0 ))
  if (( rc == 0 )); then
    SUMMARY+=("$name: ok (${took}s)")
  else
    local why=""
    (( rc == 124 || rc == 137 )) && why=", timed out"
    SUMMARY+=("$name: FAILED, status $rc (${took}s$why)")
    FAILED=1
  fi
  return $rc
}

skip() {
  SUMMARY+=("$1: SKIPPED ($2)")
  FAILED=1
}

main() {
trap finish EXIT

if ! command -v nvcc > /dev/null; then
  for dir in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
    if [[ -x $dir/nvcc ]]; then PATH=$dir:$PATH; break; fi
  done
fi
export PATH

env_report() {
  echo "repository: $ROOT ($(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo 'not a git checkout'))"
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  cores: $(nproc)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || echo "nvidia-smi failed"
  nvcc --version | tail -2 || echo "no nvcc"
  cmake --version | head -1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)' \
    || echo "python3 cannot import torch"
  return 0
}
stage env 60 bash -c "$(declare -f env_report); ROOT='$ROOT' env_report" || true

BUILT=0
if stage configure 120 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DJOBBERT_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DJOBBERT_NATIVE_TESTS=ON; then
  if stage build-test_cuda 300 cmake --build "$BUILD" -j "$JOBS" --target test_cuda; then BUILT=1; fi
else
  skip build-test_cuda "configure failed"
fi

if (( BUILT )); then
  # shellcheck disable=SC2086  # CHECK_ARGS is a list of arguments
  stage checks 240 env JOBBERT_REQUIRE_CUDA=1 "$BUILD/test_cuda" ${CHECK_ARGS:-} || true
  stage time 240 env JOBBERT_REQUIRE_CUDA=1 "$BUILD/test_cuda" --time --json "$OUT_DIR/ours.json" || true
else
  skip checks "test_cuda did not build"
  skip time "test_cuda did not build"
fi

stage torch 240 python3 scripts/torch_peers.py --json "$OUT_DIR/torch.json" || true

# The CPU harness programs, for completeness (built, not run: the CI runs them).
if grep -q "^CMAKE_CUDA_COMPILER:" "$BUILD/CMakeCache.txt" 2> /dev/null; then
  HARNESS=()
  for src in native/test/test_*.cpp; do
    name=$(basename "$src" .cpp)
    [[ $name == test_cuda ]] || HARNESS+=("$name")
  done
  stage build-harness 180 cmake --build "$BUILD" -j "$JOBS" --target "${HARNESS[@]}" || true
else
  skip build-harness "not configured"
fi

stage merge 60 python3 scripts/torch_peers.py --merge "$OUT_DIR/ours.json" --torch-json "$OUT_DIR/torch.json" \
  --out "$OUT_DIR/summary.md" || true
}

# Everything to the console and to OUT_DIR/gpu-check.log; the status is main's.
main 2>&1 | tee -a "$OUT_DIR/gpu-check.log"
