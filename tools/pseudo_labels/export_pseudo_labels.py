#!/usr/bin/env python
"""Pseudo-label PNGs from CAM or random-walk files.

``label = keys[argmax(concat([bg_th], maps))]`` -> optional dense CRF ->
uint8 PNG ``<out-dir>/<img_id>.png`` at the original size (mode P with the
VOC palette by default, or ``--palette none`` for mode L). The defaults are
the final random-walk labels of Puzzle-CAM: ``--bg-th 0.35``, label-CRF with
1 iteration. For CAM files pass the best threshold of
``tools/cam/eval_cams.py`` and e.g. ``--crf none``.

Resumable (existing PNGs are skipped; a killed run leaves no partial PNG,
stale temp files are removed at restart), ``--workers`` processes, progress
bar. Evaluate the PNGs against GT with
``tools/cam/eval_cams.py ... --png-dir OUT_DIR``.

Examples::

    python tools/pseudo_labels/export_pseudo_labels.py \\
        configs/cam_r50_voc.py --dataset train \\
        --map-dir work_dirs/rw/train_aug \\
        --out-dir data/VOCdevkit/VOC2012/pseudo_labels --workers 8
    python tools/pseudo_labels/export_pseudo_labels.py \\
        --data-root ../shared/data/camvid_things --split train \\
        --map-dir cams/train --field hr_cam --bg-th 0.25 --crf none \\
        --out-dir pl_cam
    # RW maps, but the classes 2..5 from the seeds the walk started from
    python tools/pseudo_labels/export_pseudo_labels.py \\
        --data-root ../shared/data/camvid_things --split train \\
        --map-dir rw_train --field rw --bg-th 0.45 \\
        --cam-dir seeds_train --cam-classes 2 3 4 5 --out-dir pl_mixed
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

CRF_CHOICES = ['none', 'label', 'softmax', 'rsepm', 'rrm_test']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pseudo-label PNGs from CAM / random-walk files.')
    parser.add_argument(
        'config', nargs='?', default=None, help='config giving the images')
    parser.add_argument(
        '--map-dir',
        required=True,
        help='folder of <id>.npz (random-walk "rw" or CAM "hr_cam")')
    parser.add_argument(
        '--out-dir', required=True, help='output folder for <id>.png')
    add_dataset_args(parser)
    parser.add_argument(
        '--field',
        choices=['auto', 'rw', 'hr_cam'],
        default='auto',
        help='map array to use (auto: rw if present, else hr_cam)')
    parser.add_argument(
        '--bg-th',
        type=float,
        default=0.35,
        help='background threshold (0.35 = official value for RW maps)')
    parser.add_argument(
        '--crf',
        choices=CRF_CHOICES,
        default='label',
        help='dense-CRF preset (default label = the official label-CRF)')
    parser.add_argument(
        '--crf-iters',
        type=int,
        default=None,
        help='CRF iterations (default: 1 with --crf label, the official value '
        'for RW labels; the preset value otherwise)')
    parser.add_argument(
        '--ignore-margin',
        type=float,
        default=0.0,
        help='label 255 the pixels whose two best scores of [bg-th, maps] '
        'differ by less than this (low confidence; the segmentation stage '
        'ignores them). Default 0: off')
    parser.add_argument(
        '--cam-classes',
        type=int,
        nargs='+',
        default=[],
        metavar='ID',
        help='class ids whose maps come from the CAM / seed files of '
        '--cam-dir instead of --map-dir (e.g. the thin classes a random walk '
        'erodes). Default: none')
    parser.add_argument(
        '--cam-dir',
        default=None,
        help='folder of the CAM / seed files (hr_cam) the random walk of '
        '--map-dir started from; needed with --cam-classes')
    add_png_output_args(parser, 'processes')
    args = parser.parse_args(argv)
    check_dataset_args(parser, args)
    if args.cam_classes and not args.cam_dir:
        parser.error('--cam-classes needs --cam-dir (the CAM / seed files '
                     'the maps of --map-dir were made from)')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import mmwsss  # noqa: F401  isort:skip
    from mmwsss.apis.pseudo_labels import export_pseudo_labels
    if not osp.isdir(args.map_dir):
        raise SystemExit(
            f'error: map folder not found, --map-dir {args.map_dir}: give '
            f'the --out-dir of tools/pseudo_labels/random_walk.py or of '
            f'tools/cam/infer_cams.py')
    if args.cam_classes and not osp.isdir(args.cam_dir):
        raise SystemExit(
            f'error: CAM folder not found, --cam-dir {args.cam_dir}: give '
            f'the --cam-dir the random walk of --map-dir used')
    crf = None if args.crf == 'none' else args.crf
    iters = args.crf_iters
    if iters is None and crf == 'label':
        iters = 1
    dataset = images_dataset(args)
    t0 = time.time()
    stats = export_pseudo_labels(
        dataset,
        args.map_dir,
        args.out_dir,
        bg_th=args.bg_th,
        field=args.field,
        crf=crf,
        crf_iters=iters,
        ignore_margin=args.ignore_margin,
        cam_dir=args.cam_dir,
        cam_classes=args.cam_classes,
        palette=None if args.palette == 'none' else args.palette,
        workers=args.workers,
        overwrite=args.overwrite)
    print(f'pseudo labels in {args.out_dir}: {stats["written"]} written, '
          f'{stats["skipped"]} already done, {stats["total"]} total' +
          (f', {stats["tmp_removed"]} stale temp files removed'
           if stats['tmp_removed'] else '') + f' ({time.time() - t0:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
