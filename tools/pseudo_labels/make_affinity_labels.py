#!/usr/bin/env python
"""Affinity labels (IRN style) from CAM files.

For every image: ``fg = argmax([0.40, hr_cam])`` and ``bg = argmax([0.10,
hr_cam])``, each refined by the label-CRF (gt_prob 0.7, 3/3, 50/5/10, 10
iterations), then ``aff = fg_conf``, 255 where ``fg_conf`` is background,
0 where both are background. Writes ``<out-dir>/<img_id>.png`` (uint8,
values 0..K and 255, VOC palette), the training targets of the boundary
network (``configs/boundary/``: point the dataset's ``mask_dir`` at it).

Resumable (existing PNGs are skipped), atomic writes, ``--workers`` CRF
processes, progress bar.

Examples::

    python tools/pseudo_labels/make_affinity_labels.py \\
        configs/cam_r50_voc.py --dataset train \\
        --cam-dir work_dirs/cam_r50_voc/cams_train_aug \\
        --out-dir data/VOCdevkit/VOC2012/aff_labels --workers 8
    python tools/pseudo_labels/make_affinity_labels.py \\
        --data-root ../shared/data/camvid_things --split train \\
        --cam-dir cams/train --out-dir ../work/aff_labels --workers 2
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

from tools.cli_helpers import (add_dataset_args, add_png_output_args,
                               check_dataset_args, cli_run, images_dataset)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Affinity-label PNGs from CAM files (IRN style).')
    parser.add_argument(
        'config', nargs='?', default=None, help='config giving the images')
    parser.add_argument(
        '--cam-dir', required=True, help='folder of <id>.npz CAM files')
    parser.add_argument(
        '--out-dir', required=True, help='output folder for <id>.png')
    add_dataset_args(parser)
    parser.add_argument(
        '--fg-th',
        type=float,
        default=0.40,
        help='foreground threshold (official README 0.40; argparse 0.30)')
    parser.add_argument(
        '--bg-th',
        type=float,
        default=0.10,
        help='background threshold (official README 0.10; argparse 0.05)')
    parser.add_argument(
        '--crf-iters', type=int, default=10, help='label-CRF iterations')
    add_png_output_args(parser, 'CRF processes')
    args = parser.parse_args(argv)
    check_dataset_args(parser, args)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import mmwsss  # noqa: F401  isort:skip
    from mmwsss.apis.pseudo_labels import make_affinity_labels
    if not osp.isdir(args.cam_dir):
        raise SystemExit(
            f'error: CAM folder not found, --cam-dir {args.cam_dir}: give '
            f'the --out-dir of tools/cam/infer_cams.py (or '
            f'tools/rsepm/infer_seeds.py)')
    dataset = images_dataset(args)
    t0 = time.time()
    stats = make_affinity_labels(
        dataset,
        args.cam_dir,
        args.out_dir,
        fg_th=args.fg_th,
        bg_th=args.bg_th,
        crf_iters=args.crf_iters,
        palette=None if args.palette == 'none' else args.palette,
        workers=args.workers,
        overwrite=args.overwrite)
    print(f'affinity labels in {args.out_dir}: {stats["written"]} written, '
          f'{stats["skipped"]} already done, {stats["total"]} total' +
          (f', {stats["tmp_removed"]} stale temp files removed'
           if stats['tmp_removed'] else '') + f' ({time.time() - t0:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
