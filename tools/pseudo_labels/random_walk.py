#!/usr/bin/env python
"""Random walk of CAMs with a trained boundary network (spec
pseudo_labels.md §4).

For every image: edge map of the boundary network (zero-padded to 512,
image + flip), sparse random walk of the stride-4 CAM (radius 5, β 10,
2**8 steps, 1 - edge weighting; never the dense (HW)^2 matrix), x4 bilinear
upsampling, division by the global maximum. Writes ``<out-dir>/<img_id>.npz``
with ``keys`` and ``rw`` (|P|, H, W). Resumable, atomic writes, progress
bar; runs on the GPU when there is one.

Evaluate the maps with the threshold sweep (spec: 0.05..0.45)::

    python tools/cam/eval_cams.py CONFIG --dataset val --cam-dir RW_DIR \\
        --field rw --thr-start 0.05 --thr-end 0.45

Examples::

    python tools/pseudo_labels/random_walk.py \\
        configs/boundary/boundary_r50_4xb8-990it_voc12aug-512x512.py \\
        work_dirs/boundary_r50_voc/iter_990.pth --dataset train \\
        --cam-dir work_dirs/cam_r50_voc/cams_train_aug \\
        --out-dir work_dirs/rw/train_aug
"""
import argparse
import os.path as osp
import sys
import time
from typing import List, Optional

# run from a checkout without installing the package
_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from mmwsss.utils.cli import (add_checkpoint_args,  # noqa: E402
                              add_dataset_args, check_dataset_args)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Random walk of CAMs with a boundary network.')
    parser.add_argument('config', help='boundary-network config')
    parser.add_argument('checkpoint', help='boundary-network checkpoint')
    parser.add_argument(
        '--cam-dir', required=True, help='folder of <id>.npz CAM files')
    parser.add_argument(
        '--out-dir', required=True, help='output folder for <id>.npz')
    add_dataset_args(parser)
    parser.add_argument(
        '--beta',
        type=float,
        default=None,
        help='affinity power (default: model test_cfg.rw_beta = 10)')
    parser.add_argument(
        '--exp-times',
        type=int,
        default=None,
        help='2**exp_times steps (default: test_cfg.rw_exp_times = 8)')
    parser.add_argument(
        '--radius',
        type=int,
        default=None,
        help='neighbourhood radius (default: test_cfg.rw_radius = 5)')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=1,
        help='images per edge forward / random walk (padded)')
    parser.add_argument(
        '--workers', type=int, default=2, help='image/CAM loader processes')
    parser.add_argument(
        '--rw-dtype', choices=['float32', 'float16'], default='float32')
    parser.add_argument(
        '--device',
        default=None,
        help='device (default: cuda if available, else cpu)')
    parser.add_argument(
        '--overwrite', action='store_true', help='recompute existing files')
    add_checkpoint_args(parser)
    args = parser.parse_args(argv)
    check_dataset_args(parser, args)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import mmwsss  # noqa: F401  isort:skip
    from mmwsss.apis.io import DataFileError
    from mmwsss.apis.pseudo_labels import random_walk_dataset
    from mmwsss.utils.cli import (apply_checkpoint_args, check_files,
                                  load_dataset, load_model)
    apply_checkpoint_args(args)
    check_files(config=args.config, checkpoint=args.checkpoint)
    if not osp.isdir(args.cam_dir):
        raise SystemExit(f'error: CAM folder not found: {args.cam_dir}')
    dataset, cfg = load_dataset(args)
    model = load_model(
        cfg, args.checkpoint, args.device, strict=not args.no_strict)
    if not hasattr(model, 'extract_edge'):
        raise SystemExit(f'error: {type(model).__name__} has no '
                         f'extract_edge(); not a boundary network config.')
    tcfg = model.test_cfg
    beta = tcfg.get('rw_beta', 10.0) if args.beta is None else args.beta
    exp_times = tcfg.get('rw_exp_times', 8) \
        if args.exp_times is None else args.exp_times
    radius = tcfg.get('rw_radius', 5) if args.radius is None else args.radius
    t0 = time.time()
    try:
        stats = random_walk_dataset(
            model,
            dataset,
            args.cam_dir,
            args.out_dir,
            beta=beta,
            exp_times=exp_times,
            radius=radius,
            batch_size=args.batch_size,
            workers=args.workers,
            rw_dtype=args.rw_dtype,
            overwrite=args.overwrite)
    except (DataFileError, ValueError) as e:
        raise SystemExit(f'error: {e}')
    print(f'random-walk maps in {args.out_dir}: {stats["written"]} written, '
          f'{stats["skipped"]} already done, {stats["total"]} total' +
          (f', {stats["tmp_removed"]} stale temp files removed'
           if stats['tmp_removed'] else '') +
          f' (beta={beta}, exp_times={exp_times}, radius={radius}, '
          f'{time.time() - t0:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
