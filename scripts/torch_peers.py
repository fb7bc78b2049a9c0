#!/usr/bin/env python3
"""PyTorch peers of `test_cuda --time`, and the merged table (scripts/gpu-check.sh).

  python3 scripts/torch_peers.py --json OUT/torch.json
      times the peers on the GPU (needs torch with CUDA): the same shapes and
      precisions as test_cuda --time, median of several runs after a warm-up,
      torch.cuda.synchronize() around each; peak memory from
      torch.cuda.max_memory_allocated().

  python3 scripts/torch_peers.py --merge OUT/ours.json --torch-json OUT/torch.json [--out OUT/summary.md]
      prints one table: our ms, torch's, the ratio (torch/ours, > 1: we are
      faster), the floor, and whether the targets are met. Needs no torch.

Peers (precision per row: fp32 -> allow_tf32 False, tf32 -> True, bf16 -> inputs
cast to bfloat16, autocast for infoNCE):
  topK           torch.topk(normalize(q) @ c_hatᵀ, k); the corpus is normalised
                 once outside the timing, as a resident DeviceMatrix keeps its norms
  infoNCE        cross_entropy(scale · normalize(a) @ normalize(p)ᵀ, arange(B)) + backward
                 (symmetric off, no negatives)
  dense          tanh(F.linear(x, w, b))
  denseBackward  gz = gy·(1 − y²); gx = gz @ w; gw = gzᵀ @ x; gb = gz.sum(0)
Each row is timed twice: device only ('ms') and with the outputs copied to host
memory ('ms_d2h', .float().cpu()), since our API returns host outputs.
JOBBERT_TIME_SMALL=1 shrinks every shape the way test_cuda --time does.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

PRECISIONS = ('fp32', 'tf32', 'bf16')
PEAK_TFLOPS = {'fp32': 67.0, 'tf32': 494.7, 'bf16': 989.4}  # H100 SXM, dense
SMALL = os.environ.get('JOBBERT_TIME_SMALL') == '1'

# The shapes of test_cuda --time (keep in step with native/test/cuda/timing.cpp).
TOPK = dict(Q=64, N=20000, d=256) if SMALL else dict(Q=1024, N=1_000_000, d=1024)
TOPK_KS = (10, 1024)
INFONCE_BS = (512, 1024) if SMALL else (16384, 65536)
INFONCE_D = 128 if SMALL else 1024
INFONCE_SCALE = 20.0
DENSE = dict(M=2048 if SMALL else 65536, inp=768, out=1024)

# Targets: (minimum torch_ms / our_ms, description).
TARGETS = {
    'topK': (2.0, '>= 2x torch.topk(q @ c.T) and <= 2x the floor'),
    'infoNCE': (1.5, '>= 1.5x torch cross_entropy + autograd'),
    'dense': (0.8, '>= 0.8x F.linear + tanh'),
    'denseBackward': (0.8, '>= 0.8x its torch expression (no stated target; dense\'s bar)'),
}


def topk_shape(Q, N, d, k):
    return f'Q={Q} N={N} d={d} k={k}'


def infonce_shape(B, d):
    return f'B={B} d={d}'


def dense_shape(M, inp, out):
    return f'M={M} in={inp} out={out}'


def key(kernel, shape, precision):
    return f'{kernel}|{shape}|{precision}'


# ---------------------------------------------------------------- timing (torch)

def run_peers(json_path):
    import torch
    import torch.nn.functional as F

    if not torch.cuda.is_available():
        raise SystemExit('torch_peers: torch sees no CUDA device')
    dev = torch.device('cuda')
    rows = []

    def set_precision(prec):
        torch.backends.cuda.matmul.allow_tf32 = prec == 'tf32'
        torch.backends.cudnn.allow_tf32 = prec == 'tf32'

    def sync():
        torch.cuda.synchronize()

    def time_ms(fn, reps):
        fn()
        sync()
        times = []
        for _ in range(reps):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)

    def peak_mib(fn):
        sync()
        torch.cuda.reset_peak_memory_stats()
        fn()
        sync()
        return torch.cuda.max_memory_allocated() / 2**20

    def is_oom(e):
        return isinstance(e, getattr(torch.cuda, 'OutOfMemoryError', ())) or 'out of memory' in str(e)

    def measure(kernel, shape, prec, reps, fn, fn_d2h, note=''):
        row = dict(key=key(kernel, shape, prec), kernel=kernel, shape=shape, precision=prec, ms=None,
                   ms_d2h=None, peak_mib=None, error=None, note=note)
        try:
            row['ms'] = time_ms(fn, reps)
            row['ms_d2h'] = time_ms(fn_d2h, reps)
            row['peak_mib'] = peak_mib(fn)
        except RuntimeError as e:  # OutOfMemoryError is a RuntimeError
            row['error'] = 'out of memory' if is_oom(e) else str(e).splitlines()[0]
            torch.cuda.empty_cache()
        print(f"  {kernel:13} {shape:30} {prec}: "
              + (f"{row['ms']:.3f} ms, with D2H {row['ms_d2h']:.3f} ms, peak {row['peak_mib']:.0f} MiB"
                 if row['error'] is None else f"ERROR {row['error']}"), flush=True)
        rows.append(row)

    gen = torch.Generator(device=dev)
    gen.manual_seed(20261126)

    def rand(*shape, lo=-1.0, hi=1.0):
        return torch.rand(*shape, device=dev, generator=gen) * (hi - lo) + lo

    print(f'torch {torch.__version__} on {torch.cuda.get_device_name(0)}', flush=True)

    # topK: cosine, the corpus normalised once (an index keeps its norms).
    Q, N, d = TOPK['Q'], TOPK['N'], TOPK['d']
    c_hat = F.normalize(rand(N, d), dim=1)
    q = rand(Q, d)
    for prec in PRECISIONS:
        set_precision(prec)
        cc = c_hat.bfloat16() if prec == 'bf16' else c_hat
        for k in TOPK_KS:
            def run(cc=cc, k=k, prec=prec):
                qn = F.normalize(q, dim=1)
                if prec == 'bf16':
                    qn = qn.bfloat16()
                return torch.topk(qn @ cc.T, k, dim=1)

            def run_d2h(run=run):
                v, i = run()
                return v.float().cpu(), i.cpu()

            measure('topK', topk_shape(Q, N, d, k), prec, 5, run, run_d2h)
        del cc
    del c_hat, q
    torch.cuda.empty_cache()

    # infoNCE: symmetric off, no negatives.
    for B in INFONCE_BS:
        d = INFONCE_D
        a = rand(B, d).requires_grad_()
        p = rand(B, d).requires_grad_()
        labels = torch.arange(B, device=dev)
        for prec in PRECISIONS:
            set_precision(prec)

            def run(prec=prec):
                a.grad = None
                p.grad = None
                with torch.autocast('cuda', dtype=torch.bfloat16, enabled=prec == 'bf16'):
                    logits = INFONCE_SCALE * (F.normalize(a, dim=1) @ F.normalize(p, dim=1).T)
                    loss = F.cross_entropy(logits, labels)
                loss.backward()
                return loss

            def run_d2h(run=run):
                loss = run()
                return loss.item(), a.grad.cpu(), p.grad.cpu()

            measure('infoNCE', infonce_shape(B, d), prec, 3 if B > 20000 else 5, run, run_d2h)
        del a, p, labels
        torch.cuda.empty_cache()

    # dense forward and backward.
    M, inp, out = DENSE['M'], DENSE['inp'], DENSE['out']
    shape = dense_shape(M, inp, out)
    x, w, b = rand(M, inp), rand(out, inp, lo=-0.05, hi=0.05), rand(out)
    gy = rand(M, out)
    for prec in PRECISIONS:
        set_precision(prec)
        cast = (lambda t: t.bfloat16()) if prec == 'bf16' else (lambda t: t)
        xx, ww, bb = cast(x), cast(w), cast(b)

        def fwd(xx=xx, ww=ww, bb=bb):
            return torch.tanh(F.linear(xx, ww, bb))

        measure('dense', shape, prec, 10, fwd, lambda fwd=fwd: fwd().float().cpu())
        y = fwd().float()

        def bwd(xx=xx, ww=ww, y=y, cast=cast):
            gz = cast(gy * (1 - y * y))
            return gz @ ww, gz.T @ xx, gz.float().sum(0)

        def bwd_d2h(bwd=bwd):
            gx, gw, gb = bwd()
            return gx.float().cpu(), gw.float().cpu(), gb.cpu()

        measure('denseBackward', shape, prec, 10, bwd, bwd_d2h)
        del xx, ww, bb, y
    torch.cuda.empty_cache()

    doc = dict(source='scripts/torch_peers.py', torch=torch.__version__, device=torch.cuda.get_device_name(0),
               rows=rows)
    with open(json_path, 'w') as f:
        json.dump(doc, f, indent=1)
    print(f'wrote {len(rows)} rows to {json_path}')
    return 0 if all(r['error'] is None or r['error'] == 'out of memory' for r in rows) else 1


# ---------------------------------------------------------------- merged table (no torch)

def load(path, what):
    if not path:
        return None, f'no {what} JSON given'
    try:
        with open(path) as f:
            return json.load(f), None
    except (OSError, ValueError) as e:
        return None, f'{what} JSON {path}: {e}'


def fmt(v, spec='.3f'):
    return '-' if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def merge(ours_path, torch_path, out_path):
    ours, ours_err = load(ours_path, 'our')
    theirs, theirs_err = load(torch_path, 'torch')
    lines = []
    say = lines.append
    say('## test_cuda --time vs PyTorch')
    say('')
    if ours:
        say(f"ours: {ours.get('device', '?')} (seed {ours.get('seed', '?')})")
    else:
        say(f'ours: missing ({ours_err})')
    if theirs:
        say(f"torch: {theirs.get('torch', '?')} on {theirs.get('device', '?')}")
    else:
        say(f'torch: missing ({theirs_err})')
    say('')
    say('ms: median. ours = resident operands (inputs DeviceMatrix, outputs copied back to host memory);')
    say('ours host = every input copied in by the call too. torch = device only; torch+D2H = outputs')
    say('copied to host as ours are. x = torch ms / our resident ms (> 1: we are faster). met: the target')
    say('judged like-for-like on x(+D2H), then on the device-only x (for topK also our ms/floor <= 2).')
    say('Floor at H100 SXM peaks (infoNCE: 6·B·C·d).')
    say('')
    header = ('kernel', 'shape', 'prec', 'ours ms', 'ours host', 'torch ms', 'torch+D2H', 'x', 'x(+D2H)',
              'floor ms', 'ours/floor', 'ours MiB', 'torch MiB', 'target', 'met (+D2H / device)')
    say('| ' + ' | '.join(header) + ' |')
    say('|' + '|'.join('---' for _ in header) + '|')

    our_rows = {}
    order = []
    for r in (ours or {}).get('rows', []):
        k = r['key']
        if k not in our_rows:
            our_rows[k] = {}
            order.append(k)
        our_rows[k][r.get('operands', 'resident')] = r
    torch_rows = {r['key']: r for r in (theirs or {}).get('rows', [])}
    for k in torch_rows:
        if k not in our_rows:
            order.append(k)
            our_rows[k] = {}

    met_count = missed = unknown = 0
    for k in order:
        kernel, shape, prec = k.split('|')
        res = our_rows[k].get('resident') or {}
        host = our_rows[k].get('host') or {}
        t = torch_rows.get(k) or {}
        ours_ms = res.get('ms') if res.get('error') is None else None
        host_ms = host.get('ms') if host.get('error') is None else None
        floor = res.get('floor_ms') or host.get('floor_ms')
        t_ms, t_d2h = t.get('ms'), t.get('ms_d2h')
        x = t_ms / ours_ms if t_ms and ours_ms else None
        x_ll = t_d2h / ours_ms if t_d2h and ours_ms else None
        over_floor = ours_ms / floor if ours_ms and floor else None
        bar, _ = TARGETS.get(kernel, (None, ''))
        floor_ok = kernel != 'topK' or (over_floor is not None and over_floor <= 2.0)
        if bar is None or x_ll is None:
            verdict = 'n/a'
            unknown += 1
        else:
            ok = x_ll >= bar and floor_ok
            ok_dev = x is not None and x >= bar and floor_ok
            verdict = ('yes' if ok else 'NO') + ' / ' + ('yes' if ok_dev else 'NO')
            met_count += ok
            missed += not ok
        errors = '; '.join(e for e in (res.get('error'), host.get('error'), t.get('error')) if e)
        say('| ' + ' | '.join([
            kernel, shape, prec, fmt(ours_ms), fmt(host_ms), fmt(t_ms), fmt(t_d2h), fmt(x, '.2f'), fmt(x_ll, '.2f'),
            fmt(floor), fmt(over_floor, '.2f'), fmt(res.get('peak_mib'), '.0f'), fmt(t.get('peak_mib'), '.0f'),
            f'{bar}x' if bar else '-', verdict + (f' ({errors})' if errors else '')]) + ' |')
    say('')
    say('targets: ' + '; '.join(f'{k} {v[1]}' for k, v in TARGETS.items()))
    say(f'verdicts (like-for-like): {met_count} met, {missed} not met, {unknown} without data')
    text = '\n'.join(lines)
    print(text)
    if out_path:
        with open(out_path, 'w') as f:
            f.write(text + '\n')
    return 0 if ours and theirs else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--json', help='time the torch peers and write their rows here')
    ap.add_argument('--merge', metavar='OURS_JSON', help='print the merged table from test_cuda --time --json')
    ap.add_argument('--torch-json', help='with --merge: the torch rows (from --json)')
    ap.add_argument('--out', help='with --merge: also write the table here (markdown)')
    args = ap.parse_args()
    if args.merge:
        return merge(args.merge, args.torch_json, args.out)
    if args.json:
        return run_peers(args.json)
    ap.print_help()
    return 2


if __name__ == '__main__':
    sys.exit(main())
