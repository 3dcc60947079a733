#!/usr/bin/env python
"""Benchmark: sparse random walk vs the dense reference formulation.

Per image of a 512x512-sized input: stride-4 maps 128x128 (N = 16,384),
K = 3 CAM channels, radius 5, beta 10, exp_times 8 (the official
setting). "ours" = ``mmwsss.models.refiners.random_walk`` (weights over the 69
neighbours, 256 gather steps); "dense" = the official formulation: the dense
N x N affinity matrix, T = A^beta / colsum, squared exp_times times, x @ T.

Each measurement runs in its own child process (time of the whole
computation incl. building the affinities, peak memory = peak RSS growth
over the process's baseline on CPU, ``torch.cuda.max_memory_allocated`` on
GPU), so one run of this script prints both and their ratio. The dense
reference at 128x128 needs ~3 GiB and ~8 x 8.8e12 FLOP (tens of minutes
on 2 CPU cores): by default it is measured at ``--dense-size`` (64) and
extrapolated to 128 with its exact scaling (time ~ N^3 for the squarings,
memory ~ N^2); ``--dense-size 128`` measures it directly. The sparse result
is also checked against the dense one at the measured size.
``--work-dir`` writes the figures to ``summary.json`` there (``--out``:
another file).

``--smoke``: the same measurements at 16x16 (dense reference at 8x8), one
repeat (seconds; numbers meaningless; summary in
``work_dirs/smoke/random_walk_bench`` unless ``--work-dir`` is given).

Usage::

    python benchmarks/random_walk_bench.py [--size 128] [--dense-size 64]
        [--channels 3] [--repeat 3] [--device cpu|cuda] [--work-dir DIR]
        [--smoke]
"""
import argparse
import multiprocessing as mp
import os
import os.path as osp
import resource
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)


def _rss_mb() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def _inputs(size, channels, seed, device):
    import torch
    g = torch.Generator().manual_seed(seed)
    cam = torch.rand(1, channels, size, size, generator=g)
    edge = torch.rand(1, size, size, generator=g)**4
    edge[:, :, size // 2] = 0.95  # an object boundary
    return cam.to(device), edge.to(device)


def dense_random_walk(cam, edge, beta=10.0, exp_times=8, radius=5):
    """The official dense formulation, vectorised."""
    import torch
    import torch.nn.functional as F

    from mmwsss.models.refiners.random_walk import PathIndex
    _, K, h, w = cam.shape
    n = h * w
    pidx = PathIndex(radius)
    rf = pidx.r_f
    aff = pidx.affinity(F.pad(edge, (rf, rf, 0, rf), value=1.0))[0]
    ys, xs = torch.meshgrid(
        torch.arange(h, device=cam.device),
        torch.arange(w, device=cam.device),
        indexing='ij')
    A = torch.eye(n, device=cam.device, dtype=cam.dtype)
    for k, (dy, dx) in enumerate(pidx.offsets):
        yd, xd = ys + dy, xs + dx
        m = (yd < h) & (xd >= 0) & (xd < w)
        src = (ys * w + xs)[m]
        dst = (yd * w + xd)[m]
        A[src, dst] = aff[k][m]
        A[dst, src] = aff[k][m]
    A = A.pow_(beta)
    T = A / A.sum(dim=0, keepdim=True)
    del A
    for _ in range(exp_times):
        T = T @ T
    x = (cam[0] * (1 - edge[0])).reshape(K, n)
    return (x @ T).reshape(1, K, h, w)


def _child(method, size, channels, device, repeat, queue):
    import torch
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    from mmwsss.models.refiners.random_walk import random_walk
    cam, edge = _inputs(size, channels, 0, device)
    fn = random_walk if method == 'ours' else dense_random_walk
    if device == 'cuda':
        fn(cam[:, :, :16, :16], edge[:, :16, :16])  # warm up kernels
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    base_rss = _rss_mb()
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        with torch.no_grad():
            out = fn(cam, edge)
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    if device == 'cuda':
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        # ru_maxrss: peak RSS of this process in KiB (Linux)
        peak = resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024 - base_rss
    out = out.double().cpu()
    queue.put(
        dict(
            method=method,
            size=size,
            seconds=min(times),
            times=times,
            peak_mb=peak,
            out=(out / out.max()).numpy()))


def measure(method, size, channels, device, repeat):
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(
        target=_child, args=(method, size, channels, device, repeat, q))
    p.start()
    res = q.get()
    p.join()
    return res


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--size',
        type=int,
        default=128,
        help='stride-4 map side (128 = 512x512 input)')
    parser.add_argument(
        '--dense-size',
        type=int,
        default=64,
        help='map side at which the dense reference runs')
    parser.add_argument('--channels', type=int, default=3)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default=None, help='write a JSON summary')
    parser.add_argument(
        '--work-dir',
        default=None,
        help='write summary.json there (unless --out is given)')
    from benchmarks import _smoke
    _smoke.add_smoke_arg(parser)
    args = parser.parse_args()
    args.work_dir = _smoke.work_dir('random_walk_bench', args.work_dir,
                                    args.smoke, None)
    if args.smoke:
        args.size, args.dense_size, args.repeat = 16, 8, 1
    if args.work_dir and not args.out:
        args.out = osp.join(args.work_dir, 'summary.json')
    import numpy as np
    import torch
    print(f'device {args.device}, torch {torch.__version__}, '
          f'{os.cpu_count()} CPUs, load average {os.getloadavg()}')
    ours = measure('ours', args.size, args.channels, args.device, args.repeat)
    ours_small = measure('ours', args.dense_size, args.channels, args.device,
                         args.repeat)
    dense = measure('dense', args.dense_size, args.channels, args.device, 1)
    diff = float(np.abs(ours_small['out'] - dense['out']).max())
    same = float(
        (ours_small['out'].argmax(1) == dense['out'].argmax(1)).mean())
    scale = (args.size / args.dense_size)**2  # N ratio
    dense_t = dense['seconds'] * scale**3 if args.size != args.dense_size \
        else dense['seconds']
    dense_m = dense['peak_mb'] * scale**2 if args.size != args.dense_size \
        else dense['peak_mb']
    rows = [
        ('ours', args.dense_size, ours_small['seconds'], ours_small['peak_mb'],
         'measured'),
        ('dense', args.dense_size, dense['seconds'], dense['peak_mb'],
         'measured'),
        ('ours', args.size, ours['seconds'], ours['peak_mb'], 'measured'),
        ('dense', args.size, dense_t, dense_m,
         'measured' if args.size == args.dense_size else
         f'extrapolated from {args.dense_size} (time x N^3, memory x N^2)'),
    ]
    print(f'\nrandom walk, K={args.channels}, radius 5, beta 10, '
          f'exp_times 8 (256 steps)')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    print(f'{"method":6} {"map":>8} {"time s":>10} {"peak MiB":>10}  note')
    for m, s, t, mem, note in rows:
        print(f'{m:6} {f"{s}x{s}":>8} {t:10.3f} {mem:10.1f}  {note}')
    print(f'\nratio at {args.dense_size}x{args.dense_size} (measured): time '
          f'{ours_small["seconds"] / dense["seconds"]:.4f}x, memory '
          f'{ours_small["peak_mb"] / max(dense["peak_mb"], 1e-9):.4f}x')
    print(f'ratio at {args.size}x{args.size}: time '
          f'{ours["seconds"] / dense_t:.5f}x, memory '
          f'{ours["peak_mb"] / dense_m:.5f}x (targets <= 0.2x, <= 0.25x)')
    print(f'ours vs dense at {args.dense_size}x{args.dense_size}: max |Δ| '
          f'after global max normalisation {diff:.2e}, same argmax on '
          f'{100 * same:.3f} % of pixels')
    if args.out:
        from mmwsss.utils.fileio import atomic_save_json
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        atomic_save_json(
            args.out,
            dict(
                rows=rows,
                max_abs_diff=diff,
                same_argmax=same,
                args=vars(args)))
        print(f'summary: {args.out}')


if __name__ == '__main__':
    main()
