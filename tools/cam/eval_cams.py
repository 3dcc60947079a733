#!/usr/bin/env python
"""Evaluate CAM files (threshold sweep) or label PNGs against GT masks.

Spec cam_and_eval.md §3: for every background threshold t in
``--thr-start .. --thr-end`` (inclusive, step ``--thr-step``) the label is
``keys[argmax(concat([t], hr_cam))]``; int64 confusion matrices are summed
over the split. Prints the best mIoU (%), its threshold, per-class IoU (%),
FP / FN / FP_BG / FP_FG (fractions) and the mIoU(t) curve; ``--out`` writes
the same as JSON. ``--field rw`` sweeps random-walk maps
(``tools/pseudo_labels/random_walk.py``) instead of ``hr_cam``.
``--png-dir`` evaluates label PNGs (pseudo labels, segmentation outputs)
without a sweep.

Examples::

    python tools/cam/eval_cams.py CONFIG --dataset val --cam-dir cams/train
    python tools/cam/eval_cams.py --data-root data/voc --split train \\
        --cam-dir cams/train --thr-start 0.05 --thr-end 0.45 --over-under
    python tools/cam/eval_cams.py --data-root data/voc --split train \\
        --png-dir pseudo_labels --out pl.json
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import numpy as np

# run from a checkout without installing the package
_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate CAMs (threshold sweep) or label PNGs.')
    parser.add_argument(
        'config',
        nargs='?',
        default=None,
        help='config whose dataset gives the GT masks (or use --data-root)')
    pred = parser.add_mutually_exclusive_group(required=True)
    pred.add_argument('--cam-dir', help='folder of <id>.npz CAM files')
    pred.add_argument('--png-dir', help='folder of <id>.png label maps')
    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        '--dataset',
        choices=['train', 'val', 'test'],
        default=None,
        help='with CONFIG: use cfg.<dataset>_dataloader.dataset '
        '(default: val)')
    src.add_argument(
        '--split-cfg',
        default=None,
        help='with CONFIG: config key of a dataloader / dataset')
    parser.add_argument(
        '--data-root',
        default=None,
        help='folder dataset root (masks/, splits/, classes.txt)')
    parser.add_argument(
        '--split', default=None, help='split name with --data-root')
    parser.add_argument(
        '--mask-dir',
        default='masks',
        help='GT folder under --data-root (default: masks)')
    parser.add_argument(
        '--field',
        choices=['hr_cam', 'rw'],
        default='hr_cam',
        help='sweep mode: map array of the .npz files (rw: random-walk '
        'maps of tools/pseudo_labels/random_walk.py; sweep them with '
        '--thr-start 0.05 --thr-end 0.45)')
    parser.add_argument('--thr-start', type=float, default=0.05)
    parser.add_argument('--thr-end', type=float, default=0.75)
    parser.add_argument('--thr-step', type=float, default=0.05)
    parser.add_argument(
        '--average',
        choices=['mean', 'nanmean'],
        default='mean',
        help='mIoU over all classes (mean, official) or classes present '
        'in GT or prediction (nanmean)')
    parser.add_argument(
        '--over-under',
        action='store_true',
        help='also report thresholds with FP closest to 1.6x / 0.6x '
        'FP(best)')
    parser.add_argument(
        '--pred-ignore',
        choices=['miss', 'skip'],
        default='miss',
        help='png mode: predicted 255 counts as a miss (default) or is '
        'skipped')
    parser.add_argument(
        '--workers', type=int, default=2, help='loader processes')
    parser.add_argument(
        '--device',
        default='cpu',
        help='device for the confusion matrices (cpu computes in the '
        'workers)')
    parser.add_argument('--out', default=None, help='write a JSON summary')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=None,
        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.config is None and args.data_root is None:
        parser.error('give a CONFIG or --data-root/--split')
    if args.config is not None and args.data_root is not None:
        parser.error('CONFIG and --data-root are exclusive')
    if args.data_root is not None and args.split is None:
        parser.error('--data-root needs --split')
    if args.data_root is None and args.split is not None:
        parser.error('--split is only used with --data-root')
    if args.data_root is not None and (args.dataset or args.split_cfg):
        parser.error('--dataset/--split-cfg select a CONFIG dataset; they '
                     'cannot be used with --data-root')
    return args


class _EvalItems:
    """Loads (and on CPU, evaluates) one image; errors are returned."""

    def __init__(self, items, mode, thresholds, num_classes, pred_ignore,
                 compute, field='hr_cam'):
        self.items = items
        self.field = field
        self.mode = mode
        self.thresholds = thresholds
        self.num_classes = num_classes
        self.pred_ignore = pred_ignore
        self.compute = compute

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        from mmwsss.apis.io import DataFileError
        img_id, pred_path, gt_path = self.items[i]
        try:
            return dict(error=None, **self.load_eval(pred_path, gt_path))
        except DataFileError as e:
            return dict(error=str(e))
        except ValueError as e:
            return dict(error=f'{pred_path} vs GT {gt_path}: {e}')

    def load_eval(self, pred_path, gt_path):
        from mmwsss.apis.io import load_cam, read_label_png
        gt = read_label_png(gt_path, 'GT mask')
        if self.mode == 'sweep':
            arrs = load_cam(pred_path, fields=('keys', self.field))
            pred = (arrs[self.field], arrs['keys'])
            size = arrs[self.field].shape[1:]
        else:
            pred = read_label_png(pred_path, 'label PNG')
            size = pred.shape
        if tuple(size) != gt.shape:
            raise ValueError(f'size {tuple(size)} of {pred_path} does not '
                             f'match GT {gt_path} size {gt.shape}')
        if not self.compute:
            return dict(pred=pred, gt=gt)
        return dict(
            conf=compute_conf(pred, gt, self.mode, self.thresholds,
                              self.num_classes, self.pred_ignore))


def compute_conf(pred,
                 gt,
                 mode,
                 thresholds,
                 num_classes,
                 pred_ignore,
                 device='cpu'):
    import torch

    from mmwsss.evaluation import label_confusion, sweep_confusion
    gt_t = torch.from_numpy(np.ascontiguousarray(gt)).to(device)
    if mode == 'sweep':
        hr_cam, keys = pred
        cam_t = torch.from_numpy(np.ascontiguousarray(hr_cam)).to(device)
        return sweep_confusion(cam_t, torch.from_numpy(keys), gt_t, thresholds,
                               num_classes).cpu()
    pred_t = torch.from_numpy(np.ascontiguousarray(pred)).to(device)
    return label_confusion(
        pred_t, gt_t, num_classes, pred_ignore=pred_ignore).cpu()


def _no_collate(x):
    return x


def _gt_from_config(args):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from mmwsss.apis import dataset_infos
    if not osp.isfile(args.config):
        raise SystemExit(f'error: config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        from mmengine.config import DictAction
        ns = argparse.Namespace()
        DictAction(option_strings=[], dest='opts')(None, ns, args.cfg_options)
        cfg.merge_from_dict(ns.opts)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    key = args.split_cfg or f'{args.dataset or "val"}_dataloader'
    node = cfg
    for part in key.split('.'):
        if part not in node:
            raise SystemExit(f'error: config has no "{key}".')
        node = node[part]
    if 'dataset' in node:
        node = node['dataset']
    node = node.copy()
    node['pipeline'] = []
    dataset = DATASETS.build(node)
    classes = list(dataset.metainfo.get('classes', []))
    if not classes:
        raise SystemExit(f'error: dataset of "{key}" has no metainfo '
                         f'classes.')
    infos = dataset_infos(dataset)
    return [(i['img_id'], i.get('seg_map_path')) for i in infos], classes


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    mode = 'sweep' if args.cam_dir else 'png'
    pred_dir = args.cam_dir or args.png_dir
    if not osp.isdir(pred_dir):
        raise SystemExit(f'error: prediction folder not found: {pred_dir}')
    import torch

    import mmwsss  # noqa: F401
    from mmwsss.apis.io import DataFileError, read_folder_split
    from mmwsss.evaluation import (format_report, summarize_confusion,
                                   thresholds_from)

    try:
        if args.data_root is not None:
            infos, classes = read_folder_split(
                args.data_root,
                args.split,
                mask_dir=args.mask_dir,
                need_images=False,
                need_labels=False)
            gt_list = [(i['img_id'], i['seg_map_path']) for i in infos]
        else:
            gt_list, classes = _gt_from_config(args)
    except DataFileError as e:
        raise SystemExit(f'error: {e}')
    if not gt_list:
        raise SystemExit('error: the split is empty.')
    num_classes = len(classes)
    thresholds = thresholds_from(args.thr_start, args.thr_end,
                                 args.thr_step) if mode == 'sweep' else None

    ext = '.npz' if mode == 'sweep' else '.png'
    items, no_gt, missing_gt, missing_pred = [], [], [], []
    for img_id, gt_path in gt_list:
        pred_path = osp.join(pred_dir, img_id + ext)
        if not gt_path:
            no_gt.append(img_id)
        elif not osp.isfile(gt_path):
            missing_gt.append(gt_path)
        if not osp.isfile(pred_path):
            missing_pred.append(pred_path)
        items.append((img_id, pred_path, gt_path))

    def _fail(what, names):
        shown = ', '.join(names[:5]) + (' ...' if len(names) > 5 else '')
        raise SystemExit(f'error: {len(names)} {what}: {shown}')

    if no_gt:
        _fail('images have no GT mask in the dataset (seg_map_path None)',
              no_gt)
    if missing_gt:
        _fail('GT mask files not found', missing_gt)
    if missing_pred:
        kind, tool = ('label PNGs',
                      'tools/pseudo_labels/export_pseudo_labels.py')
        if mode == 'sweep':
            kind, tool = (('random-walk files',
                           'tools/pseudo_labels/random_walk.py')
                          if args.field == 'rw' else
                          ('CAM files', 'tools/cam/infer_cams.py'))
        _fail(f'{kind} not found (run {tool} for them)', missing_pred)

    device = torch.device(args.device)
    compute_in_worker = device.type == 'cpu'
    loader = torch.utils.data.DataLoader(
        _EvalItems(items, mode, thresholds, num_classes, args.pred_ignore,
                   compute_in_worker, args.field),
        batch_size=None,
        shuffle=False,
        num_workers=max(0, args.workers),
        collate_fn=_no_collate)
    from mmengine.utils import ProgressBar
    bar = ProgressBar(len(items)) if sys.stdout.isatty() else None
    total = None
    for res in loader:
        if res['error'] is not None:
            raise SystemExit(f'error: {res["error"]}')
        conf = res['conf'] if compute_in_worker else compute_conf(
            res['pred'], res['gt'], mode, thresholds, num_classes,
            args.pred_ignore, device)
        total = conf if total is None else total + conf
        if bar is not None:
            bar.update()
    if bar is not None:
        print()

    summary = summarize_confusion(
        total,
        thresholds=thresholds,
        class_names=classes,
        average=args.average,
        over_under=args.over_under and mode == 'sweep')
    print(f'{mode} evaluation of {pred_dir} on {len(items)} images '
          f'({num_classes} classes, {args.average})')
    print(format_report(summary))
    if args.out:
        summary = dict(
            summary,
            pred_dir=pred_dir,
            num_images=len(items),
            average=args.average,
            pred_ignore=args.pred_ignore if mode == 'png' else None)
        from mmwsss.apis.io import atomic_save_json
        atomic_save_json(args.out, summary, allow_nan=False)
        print(f'summary written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
