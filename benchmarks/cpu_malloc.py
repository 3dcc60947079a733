#!/usr/bin/env python
"""Benchmark: the tools' glibc allocator setting on a CPU training.

Runs ``tools/train.py CONFIG`` for ``--iters`` iterations twice in a row,
once with ``MMWSSS_TUNE_MALLOC=0`` (glibc defaults: every allocation above
32 MiB is a fresh ``mmap``, page-faulted in on each step) and once as the
tools run by default (:func:`mmwsss.utils.tune_cpu_malloc`: freed memory is
kept and reused), and prints per run the median logged step time (the
first ``--skip`` logged steps left out), the user and system CPU time,
minor page faults and peak memory of the training process and its loader
workers (``os.wait4``), and the ratios tuned / default. ``--rounds R``
alternates the two R times (the medians over rounds are printed). The
figures are also written to ``<work-dir>/summary.json``.

Default: the camvid Puzzle-CAM config at output stride 8 (the config whose
training showed the system time). Measure on an otherwise idle machine.

``--smoke``: 3 iterations of batch 2 on a tiny generated set (numbers
meaningless).

Usage::

    python benchmarks/cpu_malloc.py [--config CFG] [--iters 14] [--skip 2]
        [--rounds 1] [--data-root ../shared/data/camvid_things]
        [--work-dir work_dirs/bench_cpu_malloc] [--smoke]
"""
import argparse
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

CONFIG = ('configs/puzzlecam/'
          'puzzlecam_effnet-lite0-os8_1xb16-1200it_camvid-things-176x176.py')
MODES = (('default glibc', '0'), ('tuned', '1'))


def parse_args(argv=None):
    from benchmarks import _smoke
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--iters', type=int, default=14)
    p.add_argument(
        '--skip',
        type=int,
        default=2,
        help='logged steps (logger interval 2) left out of the median')
    p.add_argument('--rounds', type=int, default=1)
    p.add_argument('--data-root', default='../shared/data/camvid_things')
    p.add_argument('--work-dir', default=None)
    _smoke.add_smoke_arg(p)
    args = p.parse_args(argv)
    args.work_dir = _smoke.work_dir('cpu_malloc', args.work_dir, args.smoke,
                                    'work_dirs/bench_cpu_malloc')
    if args.smoke:
        args.iters, args.skip, args.rounds = 3, 0, 1
    return args


def step_times(log: str) -> list:
    """The ``time:`` values of the ``Iter(train)`` lines of a log."""
    return [
        float(m.group(1))
        for m in re.finditer(r'Iter\(train\).*?\btime: ([0-9.]+)', log)
    ]


def run_once(args, opts, tune: str, out: str) -> dict:
    """One training run; figures of the process and its waited children."""
    env = dict(os.environ, MMWSSS_TUNE_MALLOC=tune)
    cmd = [
        sys.executable, 'tools/train.py', args.config, '--work-dir', out,
        '--cfg-options'
    ] + opts
    log_path = out + '.log'
    t0 = time.time()
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    with open(log_path) as f:
        text = f.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f'error: tools/train.py failed, see {log_path}')
    times = step_times(text)[args.skip:]
    return dict(
        step=statistics.median(times) if times else float('nan'),
        user=ru.ru_utime,
        sys=ru.ru_stime,
        faults=ru.ru_minflt,
        rss_gib=ru.ru_maxrss / 2**20,
        wall=wall)


def main(argv=None) -> int:
    args = parse_args(argv)
    from benchmarks import _smoke
    os.makedirs(args.work_dir, exist_ok=True)
    data_root = (
        _smoke.make_data(args.work_dir)
        if args.smoke else osp.abspath(args.data_root))
    opts = [
        f'train_cfg.max_iters={args.iters}', 'default_hooks.logger.interval=2',
        'default_hooks.checkpoint.interval=100000'
    ] + [
        f'{k}_dataloader.dataset.data_root={data_root}'
        for k in ('train', 'val', 'test')
    ]
    if args.smoke:
        opts += _smoke.train_options()
        print(_smoke.SMOKE_NOTE)
    print(f'{args.config}: {args.iters} iterations, {args.rounds} round(s), '
          f'load average {os.getloadavg()[0]:.2f}')
    runs = {name: [] for name, _ in MODES}
    for r in range(args.rounds):
        for name, tune in MODES:
            out = osp.join(args.work_dir, f'{tune}_{r}')
            runs[name].append(run_once(args, opts, tune, out))
            print(
                f'  round {r} {name}: ' +
                ', '.join(f'{k} {v:.3g}' for k, v in runs[name][-1].items()),
                flush=True)
    keys = ('step', 'user', 'sys', 'faults', 'rss_gib', 'wall')
    med = {
        name: {
            k: statistics.median(x[k] for x in rs)
            for k in keys
        }
        for name, rs in runs.items()
    }
    base, tuned = med['default glibc'], med['tuned']
    print('\n| | step s | user s | system s | minor faults | peak GiB |')
    print('|---|---|---|---|---|---|')
    for name in runs:
        m = med[name]
        print(f'| {name} | {m["step"]:.3f} | {m["user"]:.1f} | '
              f'{m["sys"]:.1f} | {m["faults"]:.3g} | {m["rss_gib"]:.2f} |')
    print(f'| tuned / default | {tuned["step"] / base["step"]:.3f} | '
          f'{tuned["user"] / base["user"]:.3f} | '
          f'{tuned["sys"] / max(base["sys"], 1e-9):.3f} | '
          f'{tuned["faults"] / max(base["faults"], 1):.3f} | '
          f'{tuned["rss_gib"] / base["rss_gib"]:.3f} |')
    from mmwsss.utils.fileio import atomic_save_json
    atomic_save_json(
        osp.join(args.work_dir, 'summary.json'),
        dict(config=args.config, iters=args.iters, runs=runs, medians=med))
    return 0


if __name__ == '__main__':
    sys.exit(main())
