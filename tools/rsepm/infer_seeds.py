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
    parser = argparse.ArgumentParser(
        description='RS+EPM seeds (predict_seed, multi-scale x flip) as '
        'CAM files <id>.npz.')
    parser.add_argument('config', help='RSEPM config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-dir', required=True, help='output folder for <id>.npz')
    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        '--dataset',
        choices=['train', 'val', 'test'],
        default=None,
        help='use cfg.<dataset>_dataloader.dataset (default: train)')
    src.add_argument(
        '--split-cfg',
        default=None,
        help='config key of a dataloader or a dataset')
    src.add_argument(
        '--data-root',
        default=None,
        help='folder dataset (images/, splits/, classes.txt, labels.json) '
        'instead of a config dataset; needs --split')
    parser.add_argument(
        '--split', default=None, help='split name with --data-root')
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
    parser.add_argument(
        '--workers', type=int, default=2, help='image decoding workers')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=1,
        help='same-size images per predict_seed call')
    parser.add_argument(
        '--hr-dtype',
        choices=['float32', 'float16'],
        default='float32',
        help='dtype of hr_cam (float16 halves the disk size)')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision forward')
    parser.add_argument(
        '--device',
        default=None,
        help='device (default: cuda if available, else cpu)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='recompute files that already exist')
    parser.add_argument(
        '--compress', action='store_true', help='np.savez_compressed')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=None,
        help='override config settings, key=value (mmengine DictAction)')
    args = parser.parse_args(argv)
    if args.data_root is not None and args.split is None:
        parser.error('--data-root needs --split')
    if args.split is not None and args.data_root is None:
        parser.error('--split is only used with --data-root')
    return args


def _cfg_options(items: Optional[List[str]]) -> Optional[dict]:
    if not items:
        return None
    from mmengine.config import DictAction
    ns = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, ns, items)
    return ns.opts


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import mmwsss  # noqa: F401  isort:skip  (shim + registration)
    import torch
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS

    from mmwsss.apis import (DataFileError, bg_gamma_threshold,
                             infer_dataset_seeds)
    from mmwsss.apis.pseudo_labels import resolve_dataset

    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            raise SystemExit(f'error: {what} file not found: {path}')
    opts = _cfg_options(args.cfg_options)
    try:
        if args.data_root is not None:
            # the config only gives the model
            _, cfg = resolve_dataset(args.config, cfg_options=opts)
            dataset, _ = resolve_dataset(
                data_root=args.data_root,
                split=args.split,
                need_labels=not args.use_pred_labels)
        else:
            dataset, cfg = resolve_dataset(
                args.config, args.dataset, args.split_cfg, cfg_options=opts)
    except (DataFileError, ValueError) as e:
        raise SystemExit(f'error: {e}')

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(device).eval()
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
            device=device,
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
