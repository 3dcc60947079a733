#!/usr/bin/env python
"""Benchmark: dense-CRF stage throughput with a process pool.

Refines ``--num`` generated VOC-sized images (500x375, 1-3 objects, noisy
label maps, 3 labels) with a `DenseCRF` preset through
:meth:`mmwsss.models.refiners.DenseCRF.map` (the pool used by the
pseudo-label tools), once per worker count, and prints images/s and the
speed-up over 1 worker (in-process). Identical outputs are checked. The
machine's load average is printed: other jobs on the same cores lower the
speed-up. ``--work-dir`` also writes the figures to ``summary.json`` there.

``--smoke``: the same measurement on 4 images, one repeat (a few seconds;
numbers meaningless; summary in ``work_dirs/smoke/crf_throughput_bench``
unless ``--work-dir`` is given).

Usage::

    python benchmarks/crf_throughput_bench.py [--num 32] [--workers 1 2]
        [--preset label] [--iters 10] [--work-dir DIR] [--smoke]
"""
import argparse
import os
import os.path as osp
import sys
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_items(num, size=(375, 500), seed=0):
    import cv2
    rng = np.random.default_rng(seed)
    h, w = size
    items = []
    for _ in range(num):
        img = np.empty((h, w, 3), np.float32)
        img[:] = rng.uniform(40, 200, 3)
        lab = np.zeros((h, w), np.uint8)
        for c in (1, 2)[:int(rng.integers(1, 3))]:
            cx, cy = int(rng.integers(80,
                                      w - 80)), int(rng.integers(60, h - 60))
            ax, ay = int(rng.integers(30, 90)), int(rng.integers(30, 70))
            cv2.ellipse(lab, (cx, cy), (ax, ay), 0, 0, 360, c, -1)
            img[lab == c] = rng.uniform(0, 255, 3)
        img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255)
        noisy = cv2.dilate(lab, np.ones((9, 9), np.uint8))
        items.append((img.astype(np.uint8), noisy, [0, 3, 7]))
    # label ids 0, 1, 2 -> classes 0, 3, 7 (compact set of 3)
    return [(im, np.array([0, 3, 7])[lab], keys) for im, lab, keys in items]


def _probs(lab, keys):
    onehot = np.stack([lab == k for k in keys]).astype(np.float32)
    p = 0.2 + 0.6 * onehot
    return p / p.sum(0, keepdims=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=32)
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--preset', default='label')
    parser.add_argument('--iters', type=int, default=None)
    parser.add_argument('--repeat', type=int, default=2)
    parser.add_argument(
        '--work-dir',
        default=None,
        help='write summary.json there (default: no file)')
    from benchmarks import _smoke
    _smoke.add_smoke_arg(parser)
    args = parser.parse_args()
    args.work_dir = _smoke.work_dir('crf_throughput_bench', args.work_dir,
                                    args.smoke, None)
    if args.smoke:
        args.num, args.repeat = 4, 1
        print(_smoke.SMOKE_NOTE)
    from mmwsss.models.refiners.dense_crf import DenseCRF
    kw = {} if args.iters is None else dict(iters=args.iters)
    crf = DenseCRF(args.preset, **kw)
    items = make_items(args.num)
    if crf.params['unary'] == 'softmax':
        # softmax unary: uncertain probabilities from the noisy labels
        items = [(im, _probs(lab, keys), keys) for im, lab, keys in items]
    print(f'{args.num} images 500x375, {crf}')
    print(f'{os.cpu_count()} CPUs, load average before: {os.getloadavg()}')
    base, ref = None, None
    rows = []
    for workers in args.workers:
        best = float('inf')
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = crf.map(items, workers=workers)
            best = min(best, time.perf_counter() - t)
        if ref is None:
            ref = out
        else:
            assert all(np.array_equal(a, b) for a, b in zip(ref, out))
        ips = args.num / best
        base = base or ips
        print(f'workers {workers}: {best:7.2f} s, {ips:6.2f} images/s, '
              f'speed-up {ips / base:.2f}x')
        rows.append(
            dict(
                workers=workers,
                seconds=best,
                images_per_s=ips,
                speed_up=ips / base))
    print(f'load average after: {os.getloadavg()}')
    if args.work_dir:
        from mmwsss.utils.fileio import atomic_save_json
        os.makedirs(args.work_dir, exist_ok=True)
        out = osp.join(args.work_dir, 'summary.json')
        atomic_save_json(out, dict(rows=rows, crf=str(crf), args=vars(args)))
        print(f'summary: {out}')


if __name__ == '__main__':
    main()
