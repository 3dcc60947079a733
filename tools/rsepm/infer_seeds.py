#!/usr/bin/env python
"""RS+EPM seeds of a dataset as CAM files (spec rs_epm.md §8 without CRF,
§9 step 1: the multi-stage pipeline starts from these seeds).

Runs ``RSEPM.predict_seed`` (mean over ``model.test_cfg.scales`` x flip of
the softmax decoder map, present classes = GT image labels or ``mean
sigmoid(z) >= conf_th``, each class divided by its max + 1e-5) and writes
``<out-dir>/<img_id>.npz`` with ``keys``, ``cam`` (stride 4) and ``hr_cam``
(full resolution) in the format of ``tools/cam/infer_cams.py``, so
``tools/cam/eval_cams.py`` and the pseudo-label tools read them unchanged.
Resumable (existing files are skipped, every file is written atomically),
``--workers`` decoding processes, progress bar.

The seed of spec §8 uses bg = (1 - max)^bg_gamma; with bg_gamma = 2 that is
the constant threshold 0.382 of ``eval_cams.py`` (printed at the end).

Examples::

    # train_aug seeds with the GT labels (multi-stage input)
    python tools/rsepm/infer_seeds.py configs/rsepm_r50_voc.py \\
        work_dirs/rsepm_r50_voc/iter_13220.pth --dataset train \\
        --out-dir work_dirs/rsepm_r50_voc/seeds_train_aug --workers 4
    # seed mIoU on VOC train (the config's val split)
    python tools/rsepm/infer_seeds.py configs/rsepm_r50_voc.py CKPT \\
        --dataset val --out-dir seeds_train
    python tools/cam/eval_cams.py configs/rsepm_r50_voc.py --dataset val \\
        --cam-dir seeds_train --thr-start 0.381966 --thr-end 0.381966
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
        description='RS+EPM seeds (predict_seed, multi-scale x flip) as '
        'CAM files <id>.npz.')
    parser.add_argument('config', help='RSEPM config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-dir', required=True, help='output folder for <id>.npz')
    add_dataset_args(parser)
    parser.add_argument(
        '--scales',
        type=float,
        nargs='+',
        default=None,
        help='test scales (default: model.test_cfg.scales, spec '
        '1.0 0.5 1.5 2.0)')
    parser.add_argument(
        '--no-flip',
        action='store_true',
        help='disable the flip pass (default: model.test_cfg.flip)')
    parser.add_argument(
        '--use-pred-labels',
        action='store_true',
        help='present classes from mean sigmoid(z) >= conf-th (val/test '
        'without labels) instead of the GT image labels')
    parser.add_argument(
        '--conf-th',
        type=float,
        default=None,
        help='with --use-pred-labels (default: model.test_cfg.conf_th, '
        'spec 0.34)')
    parser.add_argument(
        '--cam-resize',
        choices=['area', 'bilinear', 'nearest'],
        default='area',
        help='resize of the seed to the stride-4 "cam" array')
    add_map_output_args(parser)
    add_checkpoint_args(parser)
    args = parser.parse_args(argv)
    check_dataset_args(parser, args)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import mmwsss  # noqa: F401  isort:skip  (shim + registration)
    from mmwsss.apis import (DataFileError, bg_gamma_threshold,
                             infer_dataset_seeds)
    from mmwsss.utils.cli import (apply_checkpoint_args, check_files,
                                  load_dataset, load_model)

    apply_checkpoint_args(args)
    check_files(config=args.config, checkpoint=args.checkpoint)
    dataset, cfg = load_dataset(args, need_labels=not args.use_pred_labels)
    model = load_model(
        cfg, args.checkpoint, args.device, strict=not args.no_strict)
    if not hasattr(model, 'predict_seed'):
        raise SystemExit(f'error: model {type(model).__name__} has no '
                         f'predict_seed(); use an RSEPM config (CAMs of other '
                         f'models: tools/cam/infer_cams.py).')
    try:
        stats = infer_dataset_seeds(
            model,
            dataset,
            args.out_dir,
            scales=args.scales,
            flip=False if args.no_flip else None,
            use_gt_labels=not args.use_pred_labels,
            conf_th=args.conf_th,
            cam_resize=args.cam_resize,
            workers=args.workers,
            batch_size=args.batch_size,
            hr_dtype=args.hr_dtype,
            amp=args.amp,
            skip_existing=not args.overwrite,
            compress=args.compress,
            progress=True)
    except DataFileError as e:
        raise SystemExit(f'error: {e}')
    gamma = float(model.test_cfg.get('bg_gamma', 2.0))
    print(f'seeds in {args.out_dir}: {stats["written"]} written, '
          f'{stats["skipped"]} already done, {stats["total"]} total' +
          (f', {stats["no_class"]} without a present class'
           if stats['no_class'] else '') +
          (f', {stats["tmp_removed"]} stale temp files removed'
           if stats['tmp_removed'] else ''))
    t = bg_gamma_threshold(gamma)
    print(f'seed mIoU of spec §8 (bg = (1 - max)^{gamma:g}, no CRF): '
          f'tools/cam/eval_cams.py ... --cam-dir {args.out_dir} '
          f'--thr-start {t:.6f} --thr-end {t:.6f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
