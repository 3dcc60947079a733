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
    parser = argparse.ArgumentParser(
        description='Multi-scale x flip CAM inference (writes <id>.npz).')
    parser.add_argument('config', help='model config file')
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
        help='config key of a dataloader (e.g. val_dataloader) or a '
        'dataset (e.g. cam_dataset); its .dataset is used if present')
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
        '--workers', type=int, default=2, help='image decoding workers')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=1,
        help='same-size images per forward (x2 with flip)')
    parser.add_argument(
        '--hr-dtype',
        choices=['float32', 'float16'],
        default='float32',
        help='dtype of hr_cam (float16 halves the disk size)')
    parser.add_argument(
        '--use-pred-labels',
        action='store_true',
        help='present classes from predictions (val/test without labels)')
    parser.add_argument(
        '--conf-th',
        type=float,
        default=0.5,
        help='probability threshold with --use-pred-labels')
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


def _dataset_cfg(cfg, args):
    key = args.split_cfg or f'{args.dataset or "train"}_dataloader'
    node = cfg
    for part in key.split('.'):
        if part not in node:
            raise SystemExit(f'error: config has no "{key}" (from '
                             f'--dataset/--split-cfg).')
        node = node[part]
    if node is None:
        raise SystemExit(f'error: config "{key}" is None.')
    if 'dataset' in node:
        node = node['dataset']
    return node


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import mmwsss  # noqa: F401  isort:skip  (shim + registration)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS

    from mmwsss.apis import DataFileError, infer_dataset_cams
    from mmwsss.apis.io import read_folder_split

    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            raise SystemExit(f'error: {what} file not found: {path}')
    cfg = Config.fromfile(args.config)
    opts = _cfg_options(args.cfg_options)
    if opts:
        cfg.merge_from_dict(opts)
    init_default_scope(cfg.get('default_scope', 'mmseg'))

    if args.data_root is not None:
        try:
            dataset, _ = read_folder_split(
                args.data_root,
                args.split,
                need_labels=not args.use_pred_labels)
        except DataFileError as e:
            raise SystemExit(f'error: {e}')
    else:
        dataset = _dataset_cfg(cfg, args)

    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(device).eval()
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
            device=device,
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
