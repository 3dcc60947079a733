#!/usr/bin/env python
"""Multi-scale x flip CAM inference for a dataset (spec cam_and_eval.md §2).

Writes ``<out-dir>/<img_id>.npz`` with ``keys``, ``cam`` (stride 4) and
``hr_cam`` (full resolution), both max-normalised per present class. The job
is resumable: existing files are skipped, every file is written atomically.

Examples::

    python tools/cam/infer_cams.py CONFIG CHECKPOINT --dataset train \\
        --out-dir work_dirs/cams/train_aug --workers 4 --batch-size 4
    python tools/cam/infer_cams.py CONFIG CHECKPOINT --split-cfg \\
        val_dataloader --use-pred-labels --conf-th 0.5 --out-dir cams/val
    python tools/cam/infer_cams.py CONFIG CHECKPOINT --data-root \\
        data/camvid_things --split train --out-dir cams/train
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

# run from a checkout without installing the package
_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmwsss.utils.cli import (add_checkpoint_args, add_dataset_args,
                                  add_map_output_args, check_dataset_args)
    parser = argparse.ArgumentParser(
        description='Multi-scale x flip CAM inference (writes <id>.npz).')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-dir', required=True, help='output folder for <id>.npz')
    add_dataset_args(parser)
    parser.add_argument(
        '--scales',
        type=float,
        nargs='+',
        default=[0.5, 1.0, 1.5, 2.0],
        help='test scales (default 0.5 1.0 1.5 2.0)')
    parser.add_argument(
        '--no-flip', action='store_true', help='disable the flip pass')
    parser.add_argument(
        '--resize-backend',
        choices=['pil', 'torch'],
        default='pil',
        help='pil: bicubic on uint8 (Puzzle-CAM); torch: bilinear on the '
        'normalised tensor (RS+EPM)')
    parser.add_argument(
        '--size-rounding',
        choices=['round', 'int'],
        default='round',
        help='scaled size rounding (round: Puzzle-CAM, int: RS+EPM)')
    parser.add_argument(
        '--use-pred-labels',
        action='store_true',
        help='present classes from predictions (val/test without labels)')
    parser.add_argument(
        '--conf-th',
        type=float,
        default=0.5,
        help='probability threshold with --use-pred-labels')
    add_map_output_args(parser)
    add_checkpoint_args(parser)
    args = parser.parse_args(argv)
    check_dataset_args(parser, args)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import mmwsss  # noqa: F401  isort:skip  (shim + registration)
    from mmwsss.apis import DataFileError, infer_dataset_cams
    from mmwsss.utils.cli import (apply_checkpoint_args, check_files,
                                  load_dataset, load_model)

    apply_checkpoint_args(args)
    check_files(config=args.config, checkpoint=args.checkpoint)
    dataset, cfg = load_dataset(args, need_labels=not args.use_pred_labels)
    model = load_model(
        cfg, args.checkpoint, args.device, strict=not args.no_strict)
    if not hasattr(model, 'extract_cam'):
        raise SystemExit(f'error: model {type(model).__name__} has no '
                         f'extract_cam(); not a CAM model.')

    try:
        stats = infer_dataset_cams(
            model,
            dataset,
            args.out_dir,
            scales=tuple(args.scales),
            flip=not args.no_flip,
            resize_backend=args.resize_backend,
            size_rounding=args.size_rounding,
            amp=args.amp,
            workers=args.workers,
            batch_size=args.batch_size,
            hr_dtype=args.hr_dtype,
            use_gt_labels=not args.use_pred_labels,
            conf_th=args.conf_th,
            skip_existing=not args.overwrite,
            compress=args.compress,
            progress=True)
    except DataFileError as e:
        raise SystemExit(f'error: {e}')
    print(f'CAMs in {args.out_dir}: {stats["written"]} written, '
          f'{stats["skipped"]} already done, {stats["total"]} total' +
          (f', {stats["tmp_removed"]} stale temp files removed'
           if stats['tmp_removed'] else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
