#!/usr/bin/env python
"""Benchmark: Puzzle-CAM vs the CAM baseline (EfficientNet-Lite0) on
camvid_things, with the same budget.

1. Step time (``--step-time``, a few minutes): the Puzzle-CAM and the CAM
   baseline models of the two camvid configs are built in ONE process and
   ``model.train_step`` is timed on the SAME training batch (batch 16 of the
   camvid train split), interleaved (A B, then B A in the next round,
   so drifts of a shared machine cancel; the ratio is the median of the
   per-round ratios): ``--warmup`` untimed + ``--steps`` timed steps
   each. Two settings are printed:

   - ``configs``: the configs as they are (crop 176; Puzzle-CAM cuts its
     tiles from the crop padded to 192, so the ideal ratio is
     1 + (192/176)^2 = 2.19);
   - ``divisible``: both models get the same batch padded to 192x192 by the
     data pre-processor and Puzzle-CAM runs in strict mode: the tiles exactly
     double the FLOPs (ideal ratio 2.0; target <= 2.1).

   A third timing (plain CAM on the tile batch alone) separates the
   backbone's lower efficiency on small tiles from the overhead of the
   puzzle code. ``--keep-freed-memory`` stops glibc from returning the
   (two-graph) peak memory to the OS after every step in this process
   (:func:`mmwsss.utils.tune_cpu_malloc`, which the tools of the training
   part apply by default on CPU); ``--threads`` fixes torch's thread count.

2. CAM mIoU (``--train``, about 50 min on 2 CPU cores): trains the
   Puzzle-CAM config with ``tools/train.py``, writes multi-scale x flip CAMs
   of ``test`` and sweeps the background threshold
   (:func:`tools.cam_pipeline.run_cam_pipeline`), and prints the
   result next to the CAM baseline's
   (``work_dirs/bench_cam_camvid/cam_eval_test.json`` of
   ``benchmarks/cam_camvid_things.py``) when that report exists.
   Resumable: rerun the same command after an interruption.

Without ``--step-time`` / ``--train`` both parts run.

``--smoke``: both parts (or the ones asked for) on a tiny set generated
into the work dir (default ``work_dirs/smoke/puzzlecam_camvid_things``):
batch 2, 1 warm-up + 2 timed steps, 2 training iterations; the CAM
baseline report is made there the same way (2 iterations) unless
``--baseline-report`` is given. Numbers meaningless.

Usage::

    python benchmarks/puzzlecam_camvid_things.py [--step-time] [--train]
        [--keep-freed-memory] [--data-root ../shared/data/camvid_things]
        [--work-dir work_dirs/bench_puzzlecam_camvid] [--smoke]
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
CONFIG = osp.join(
    ROOT, 'configs', 'puzzlecam',
    'puzzlecam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
BASELINE_CONFIG = osp.join(
    ROOT, 'configs', 'cam',
    'cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
BASELINE_REPORT = osp.join(ROOT, 'work_dirs', 'bench_cam_camvid',
                           'cam_eval_test.json')
#: training batch of a smoke run (step time and training)
SMOKE_BATCH = 2


def parse_args():
    from benchmarks import _smoke
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--baseline-config', default=BASELINE_CONFIG)
    parser.add_argument(
        '--baseline-report',
        default=None,
        help='default: work_dirs/bench_cam_camvid/cam_eval_test.json (with '
        '--smoke: made in the work dir)')
    parser.add_argument(
        '--data-root',
        default=osp.join(ROOT, '..', 'shared', 'data', 'camvid_things'))
    parser.add_argument(
        '--work-dir',
        default=None,
        help='default: work_dirs/bench_puzzlecam_camvid')
    parser.add_argument(
        '--step-time', action='store_true', help='run the step-time part')
    parser.add_argument(
        '--train', action='store_true', help='run the CAM mIoU part')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument(
        '--settings',
        nargs='+',
        default=['configs', 'divisible'],
        choices=['configs', 'divisible'])
    parser.add_argument(
        '--keep-freed-memory',
        action='store_true',
        help='glibc keeps freed memory (no per-step page faults of the '
        'two-graph peak) in the step-time part (the tools of the training '
        'part do it by default on CPU; MMWSSS_TUNE_MALLOC=0 turns it off)')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch threads of the step-time part (default: torch default)')
    parser.add_argument('--max-iters', type=int, default=None)
    parser.add_argument('--workers', type=int, default=2)
    _smoke.add_smoke_arg(parser)
    args = parser.parse_args()
    args.work_dir = _smoke.work_dir(
        'puzzlecam_camvid_things', args.work_dir, args.smoke,
        osp.join(ROOT, 'work_dirs', 'bench_puzzlecam_camvid'))
    if args.smoke:
        args.warmup, args.steps = 1, 2
        args.max_iters = args.max_iters or 2
    elif args.baseline_report is None:
        args.baseline_report = BASELINE_REPORT
    return args


def _build(config, size=None, strict=False):
    """Model and optimiser wrapper of a config (weights are not loaded:
    the step time does not depend on them)."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    cfg = Config.fromfile(config)
    if size is not None:
        cfg.model.data_preprocessor.size = size
    if strict:
        cfg.model.puzzle_size_mode = 'strict'
    model = MODELS.build(cfg.model).train()
    return cfg, model, build_optim_wrapper(model, cfg.optim_wrapper)


def _batch(cfg, data_root, batch_size=None):
    """The first batch of the config's train loader (``batch_size``: another
    batch size)."""
    import copy

    from mmengine.runner import Runner
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.dataset.data_root = data_root
    if batch_size:
        loader_cfg.batch_size = batch_size
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    return next(iter(Runner.build_dataloader(loader_cfg, seed=0)))


def _tile_batch(batch, side, num_pieces=4):
    """The tiles of a data batch as a data batch of their own (n^2 B images
    of side/n px, the crops zero-padded to side x side first)."""
    import copy

    import torch
    import torch.nn.functional as F

    from mmwsss.models.utils import tile_pieces
    imgs = torch.stack([
        F.pad(x, (0, side - x.shape[-1], 0, side - x.shape[-2]))
        for x in batch['inputs']
    ])
    tiles = tile_pieces(imgs, num_pieces)
    samples = [
        copy.deepcopy(batch['data_samples'][i % len(imgs)])
        for i in range(len(tiles))
    ]
    return dict(inputs=list(tiles), data_samples=samples)


def step_time(args, data_root):
    """Interleaved train_step timing of both models on the same batch.

    A third, attribution-only timing runs a plain CAM ``train_step`` on the
    tile batch alone (n^2 B images of the tile size): ``CAM + CAM(tiles)``
    is what two plain passes cost with this backbone on this machine, so
    ``Puzzle-CAM / (CAM + CAM(tiles))`` isolates the overhead of the puzzle
    code (tiling, merging, losses) from the backbone's efficiency at the
    tile size.
    """
    import torch
    from mmengine.registry import init_default_scope

    from mmwsss.utils import tune_cpu_malloc
    init_default_scope('mmseg')
    if args.threads:
        torch.set_num_threads(args.threads)
    kept = args.keep_freed_memory and tune_cpu_malloc()
    print(
        f'torch threads: {torch.get_num_threads()}; glibc keeps freed '
        f'memory: {kept}',
        flush=True)
    results = {}
    batch = None
    for setting in args.settings:
        size = (192, 192) if setting == 'divisible' else None
        cfg_p, puzzle, wrap_p = _build(
            args.config, size, strict=setting == 'divisible')
        _, cam, wrap_c = _build(args.baseline_config, size)
        side = 192  # both settings: tiles of the crop padded to 192
        _, cam_t, wrap_t = _build(args.baseline_config, (side // 2, ) * 2)
        if batch is None:
            batch = _batch(cfg_p, data_root,
                           SMOKE_BATCH if args.smoke else None)
        tiles = _tile_batch(batch, side)
        n_img = len(batch['inputs'])
        shape = tuple(batch['inputs'][0].shape[-2:])
        models = {
            'cam': (cam, wrap_c, batch),
            'puzzle': (puzzle, wrap_p, batch),
            'cam_tiles': (cam_t, wrap_t, tiles)
        }
        times = {k: [] for k in models}
        puzzle.set_alpha(4.0)
        names = list(models)
        for i in range(args.warmup + args.steps):
            # rotate the order every round so drifts of a shared machine
            # hit every model alike
            for name in names[i % 3:] + names[:i % 3]:
                model, wrapper, data = models[name]
                t = time.perf_counter()
                model.train_step(data, wrapper)
                dt = time.perf_counter() - t
                if i >= args.warmup:
                    times[name].append(dt)
        med = {k: statistics.median(v) for k, v in times.items()}
        best = {k: min(v) for k, v in times.items()}
        # ratios of the steps of the same round
        paired = [p / c for p, c in zip(times['puzzle'], times['cam'])]
        two = [(c + t) / c for c, t in zip(times['cam'], times['cam_tiles'])]
        over = [
            p / (c + t) for p, c, t in zip(times['puzzle'], times['cam'],
                                           times['cam_tiles'])
        ]
        results[setting] = dict(
            median_s=med,
            min_s=best,
            ratio_paired_median=statistics.median(paired),
            ratio_of_medians=med['puzzle'] / med['cam'],
            ratio_of_mins=best['puzzle'] / best['cam'],
            two_plain_passes_ratio=statistics.median(two),
            puzzle_overhead=statistics.median(over))
        r = results[setting]
        ideal = '2.19' if setting == 'configs' else '2.00'
        print(
            f'[{setting}] batch {n_img} x {shape} (model input '
            f'{size or cfg_p.model.data_preprocessor.size}), {args.steps} '
            f'timed steps each: CAM median {med["cam"]:.3f} s, Puzzle-CAM '
            f'median {med["puzzle"]:.3f} s, CAM on the {4 * n_img} tiles '
            f'alone {med["cam_tiles"]:.3f} s; ratio Puzzle-CAM / CAM: '
            f'paired median {r["ratio_paired_median"]:.3f}, of medians '
            f'{r["ratio_of_medians"]:.3f}, of minima '
            f'{r["ratio_of_mins"]:.3f} (FLOP ideal {ideal}); '
            f'(CAM + CAM(tiles)) / CAM {r["two_plain_passes_ratio"]:.3f}; '
            f'Puzzle-CAM / (CAM + CAM(tiles)) {r["puzzle_overhead"]:.3f}',
            flush=True)
    return results


def _smoke_options(args):
    """``--cfg-options`` of a smoke run's tools (none in a real run)."""
    if not args.smoke:
        return []
    from benchmarks import _smoke
    return (_smoke.train_options(SMOKE_BATCH) +
            _smoke.log_options(args.work_dir))


def train_and_eval(args, data_root):
    import mmwsss  # noqa: F401
    from tools.cam_pipeline import run_cam_pipeline
    opts = _smoke_options(args) + [
        f'{k}_dataloader.dataset.data_root={data_root}'
        for k in ('train', 'val', 'test')
    ]
    res = run_cam_pipeline(
        args.config,
        args.work_dir,
        split='test',
        max_iters=args.max_iters,
        workers=args.workers,
        cfg_options=opts)
    if args.smoke and args.baseline_report is None:
        from benchmarks import _smoke
        args.baseline_report = _smoke.cam_baseline_report(
            args.baseline_config, args.work_dir, data_root, args.workers,
            SMOKE_BATCH)
    return res


def main() -> int:
    args = parse_args()
    from benchmarks import _smoke
    if args.smoke:
        args.data_root = _smoke.make_data(args.work_dir)
    data_root = osp.abspath(args.data_root)
    if not osp.isdir(data_root):
        sys.exit(f'error: {data_root} not found: pass --data-root pointing at '
                 'a camvid_things copy (images/, masks/, splits/, ...)')
    import mmwsss  # noqa: F401
    both = not (args.step_time or args.train)
    t0 = time.time()
    timing = step_time(args, data_root) if (both or args.step_time) else None
    res = train_and_eval(args, data_root) if (both or args.train) else None

    print('\n=== benchmark: Puzzle-CAM vs CAM, EfficientNet-Lite0, '
          'camvid_things ===')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    print(f'config  : {osp.relpath(args.config, ROOT)}')
    print(f'baseline: {osp.relpath(args.baseline_config, ROOT)}')
    if timing:
        for setting, r in timing.items():
            print(f'step-time ratio Puzzle-CAM / CAM [{setting}]: '
                  f'{r["ratio_paired_median"]:.3f} (median of the paired '
                  f'per-round ratios; of minima {r["ratio_of_mins"]:.3f}); '
                  f'two plain CAM passes (full + tiles) '
                  f'{r["two_plain_passes_ratio"]:.3f}; puzzle overhead '
                  f'{r["puzzle_overhead"]:.3f}')
    if res is not None:
        s = res['summary']
        print(f'Puzzle-CAM CAM mIoU (test, sweep best): '
              f'{s["mIoU"] * 100:.2f} % at t={s["best_thr"]:.2f} '
              f'(FP {s["FP"]:.4f}, FN {s["FN"]:.4f})')
        if osp.isfile(args.baseline_report):
            with open(args.baseline_report) as f:
                b = json.load(f)
            print(f'CAM baseline mIoU (test, sweep best)   : '
                  f'{b["mIoU"] * 100:.2f} % at t={b["best_thr"]:.2f} '
                  f'(FP {b["FP"]:.4f}, FN {b["FN"]:.4f})')
            print(f'difference                             : '
                  f'{(s["mIoU"] - b["mIoU"]) * 100:+.2f} points')
        else:
            print(f'CAM baseline report not found ({args.baseline_report}):'
                  ' run benchmarks/cam_camvid_things.py')
        print('seconds: ' + ', '.join(f'{k} {v:.0f}'
                                      for k, v in res['seconds'].items()))
    print(f'total seconds: {time.time() - t0:.0f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
