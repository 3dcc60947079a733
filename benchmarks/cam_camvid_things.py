#!/usr/bin/env python
"""Benchmark: CAM baseline (EfficientNet-Lite0) on camvid_things.

Trains on the ``train`` split (image labels only), writes multi-scale x flip
CAMs of the ``test`` split and prints the CAM mIoU of the background-threshold
sweep (best threshold), FP/FN, and the prior-only baseline. Resumable: rerun
the same command after an interruption.

``--smoke``: the same pipeline on a tiny set generated into the work dir
(default ``work_dirs/smoke/cam_camvid_things``), 2 iterations of batch 2;
well under a minute, numbers meaningless.

Usage::

    python benchmarks/cam_camvid_things.py \
        [--data-root ../shared/data/camvid_things]
        [--work-dir work_dirs/bench_cam_camvid] [--max-iters N] [--smoke]
"""
import argparse
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
CONFIG = osp.join(ROOT, 'configs', 'cam',
                  'cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')


def parse_args():
    from benchmarks import _smoke
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument(
        '--data-root',
        default=osp.join(ROOT, '..', 'shared', 'data', 'camvid_things'))
    parser.add_argument(
        '--work-dir', default=None, help='default: work_dirs/bench_cam_camvid')
    parser.add_argument('--max-iters', type=int, default=None)
    parser.add_argument('--workers', type=int, default=2)
    _smoke.add_smoke_arg(parser)
    args = parser.parse_args()
    args.work_dir = _smoke.work_dir(
        'cam_camvid_things', args.work_dir, args.smoke,
        osp.join(ROOT, 'work_dirs', 'bench_cam_camvid'))
    return args


def main() -> int:
    args = parse_args()
    from benchmarks import _smoke
    opts = []
    if args.smoke:
        args.data_root = _smoke.make_data(args.work_dir)
        args.max_iters = args.max_iters or 2
        opts = _smoke.train_options() + _smoke.log_options(args.work_dir)
    data_root = osp.abspath(args.data_root)
    if not osp.isdir(data_root):
        sys.exit(f'error: {data_root} not found: pass --data-root pointing at '
                 'a camvid_things copy (images/, masks/, splits/, ...)')
    import mmwsss  # noqa: F401  (the mmcv-lite shims before any mmseg import)
    # isort: split
    from mmengine.config import Config
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules

    from tools.cam_pipeline import prior_only_miou, run_cam_pipeline
    opts += [
        f'{k}_dataloader.dataset.data_root={data_root}'
        for k in ('train', 'val', 'test')
    ]
    t0 = time.time()
    res = run_cam_pipeline(
        args.config,
        args.work_dir,
        split='test',
        max_iters=args.max_iters,
        workers=args.workers,
        cfg_options=opts)
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict({'test_dataloader.dataset.data_root': data_root})
    prior = prior_only_miou(DATASETS.build(cfg.test_dataloader.dataset))
    s = res['summary']
    print('\n=== benchmark: CAM baseline, EfficientNet-Lite0, camvid_things '
          'test ===')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    print(f'config: {osp.relpath(args.config, ROOT)}')
    print(f'CAM mIoU (sweep best) : {s["mIoU"] * 100:.2f} % at t='
          f'{s["best_thr"]:.2f}')
    print(f'FP / FN               : {s["FP"]:.4f} / {s["FN"]:.4f} '
          f'(FP_BG {s["FP_BG"]:.4f}, FP_FG {s["FP_FG"]:.4f})')
    print(f'prior-only baseline   : {prior * 100:.2f} %')
    print('seconds               : ' +
          ', '.join(f'{k} {v:.0f}' for k, v in res['seconds'].items()) +
          f', total {time.time() - t0:.0f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
