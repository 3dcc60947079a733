#!/usr/bin/env python
"""Check every image, mask and image label of a config's datasets.

Run it on your own data before a long training. Each split (default: those
of train / val / test the config has) is built by its dataset class without
pipeline, then every image and mask is decoded once. Each bad file is one
stdout line ``error: <what>, <file>: <fix>``, then a summary per split.
Exit status: 0 clean, 1 bad files, 2 nothing checked (bad config, dataset
that cannot be built). Examples::

    python tools/misc/verify_dataset.py CONFIG
    python tools/misc/verify_dataset.py CONFIG --split val --workers 4
"""
import argparse
import functools
import json
import os.path as osp
import re
import sys
from typing import List, Optional, Sequence

import numpy as np

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import mmwsss  # noqa: F401  (mmcv / mmseg fixes, registers the datasets)
from tools.cli_helpers import (add_debug_arg, cli_run, error_message,
                               load_config, one_line)

SPLITS = ('train', 'val', 'test')


def _names(values: Sequence[int], classes: Sequence[str]) -> str:
    """``{car, pole}`` for mask values (class indices)."""
    return '{' + ', '.join(classes[v] if v < len(classes) else str(v)
                           for v in values) + '}'


def _image_error(err: Exception) -> str:
    """What is wrong with an image :func:`load_rgb` refused."""
    from PIL import UnidentifiedImageError

    from mmwsss.utils.fileio import MissingFileError
    cause = err.__cause__
    if isinstance(err, MissingFileError):
        return 'image not found'
    if isinstance(cause, UnidentifiedImageError):
        return 'image cannot be decoded (not an image format Pillow knows)'
    return f'image cannot be decoded ({one_line(cause or err)})'


def _mask_error(err: Exception) -> str:
    """What is wrong with a mask :func:`read_label_png` refused."""
    from mmwsss.utils.fileio import MissingFileError
    if isinstance(err, MissingFileError):
        return 'mask not found'
    if err.__cause__ is not None:
        return f'mask cannot be decoded ({one_line(err.__cause__)})'
    mode = re.search(r'image mode (\S+);', str(err))
    if mode:
        return (f'mask is a colour image (mode {mode.group(1)}), not a '
                f'single-channel label map')
    return 'mask has values above 255'


def check_sample(item: dict, ctx: dict) -> List[str]:
    """Decode one sample and return its problems as ``error:`` lines.

    Args:
        item (dict): ``img_path``, ``seg_map_path``, ``img_id``, ``labels``
            (foreground mask values, or None) and ``labels_file``.
        ctx (dict): ``classes``, ``ignore_index``, ``reduce_zero_label``
            and ``split_file`` of the dataset.

    Returns:
        list[str]: One line per problem (empty when the sample is fine).
    """
    from mmwsss.utils.fileio import load_rgb, read_label_png
    img, mask_path = item['img_path'], item['seg_map_path']
    drop = f'remove "{item["img_id"]}" from {ctx["split_file"]}'
    errors, shape, what = [], None, None
    if osp.isfile(img) and osp.getsize(img) == 0:
        what = 'image file is empty (0 bytes)'
    else:
        try:
            shape = load_rgb(img).shape[:2]
        except Exception as e:  # any decoder failure is a finding
            what = _image_error(e)
    if what:
        errors.append(f'error: {what}, {img}: restore or re-export it, or '
                      f'{drop}')
    if not mask_path:
        return errors
    try:
        mask = read_label_png(mask_path, 'mask')
    except Exception as e:  # any decoder failure is a finding
        return errors + [
            f'error: {_mask_error(e)}, {mask_path}: regenerate it as a '
            f'single-channel PNG of class indices, or {drop}'
        ]
    if shape is not None and mask.shape != shape:
        errors.append(
            f'error: mask is {mask.shape[0]}x{mask.shape[1]} (HxW) but image '
            f'{img} is {shape[0]}x{shape[1]}, {mask_path}: masks must be '
            f'pixel-aligned with their images; regenerate the mask')
    classes, ignore = ctx['classes'], ctx['ignore_index']
    top = len(classes) - (0 if ctx['reduce_zero_label'] else 1)
    values = [int(v) for v in np.unique(mask)]
    bad = [v for v in values if v > top and v != ignore]
    if bad:
        errors.append(
            f'error: mask has values {bad} outside {{0..{top}, {ignore}}} '
            f'(the dataset has {len(classes)} classes; {ignore} = ignore), '
            f'{mask_path}: check that the class list matches the masks, or '
            f'remap the mask values')
    if item['labels'] is not None and not ctx['reduce_zero_label']:
        present = [v for v in values if 1 <= v <= top and v != ignore]
        if present != item['labels']:
            src = item['labels_file'] or 'the image labels'
            errors.append(
                f'error: {osp.basename(src)} says '
                f'{_names(item["labels"], classes)} but the mask has '
                f'{_names(present, classes)}, {mask_path}: correct the entry '
                f'"{item["img_id"]}" in {src}, or the mask')
    return errors


def _labels_file(ds, img_id: str) -> Optional[str]:
    """The file the image labels of ``img_id`` come from (mmwsss datasets),
    None when they are read from the mask itself."""
    source, root = getattr(ds, 'label_source', None), ds.data_root or ''
    if source == 'json':
        return osp.join(root, ds.labels_file)
    if source == 'xml':
        return osp.join(root, ds.xml_dir, img_id + '.xml')
    if source == 'cls_file':
        return ds.resolve_cls_file()
    return None if source == 'mask' else ''


def build_dataset(cfg, split: str, debug: bool):
    """The dataset of ``cfg.<split>_dataloader`` without its pipeline, and
    its config as JSON (to skip a split that repeats another)."""
    from mmseg.registry import DATASETS

    from mmwsss.apis.export import split_dataset
    ds_cfg = split_dataset(cfg, split)
    while isinstance(ds_cfg.get('dataset'), dict):  # RepeatDataset & co.
        ds_cfg = ds_cfg['dataset']
    ds_cfg.update(pipeline=[], lazy_init=False)
    try:
        return DATASETS.build(ds_cfg), json.dumps(
            ds_cfg, sort_keys=True, default=str)
    except Exception as e:
        if debug:
            raise
        raise SystemExit(f'error: the {split} dataset of {cfg.filename} '
                         f'cannot be built: {error_message(e)}')


def verify_split(ds, split: str, workers: int) -> int:
    """Check every sample of ``ds``; print its error lines and summary.

    Returns:
        int: The number of errors.
    """
    from mmwsss.utils.parallel import imap_pool
    ctx = dict(
        classes=tuple(ds.metainfo['classes']),
        ignore_index=getattr(ds, 'ignore_index', 255),
        reduce_zero_label=bool(getattr(ds, 'reduce_zero_label', False)),
        split_file=ds.ann_file or split)
    items = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        img_id = info.get('img_id') or osp.basename(info['img_path'])
        hot, src = info.get('img_labels'), _labels_file(ds, img_id)
        items.append(
            dict(
                img_path=info['img_path'],
                seg_map_path=info.get('seg_map_path'),
                img_id=img_id,
                labels=None if hot is None or src is None else
                [int(c) + 1 for c in np.flatnonzero(np.asarray(hot) > 0)],
                labels_file=src))
    fn = functools.partial(check_sample, ctx=ctx)
    results = list(
        imap_pool(fn, items, workers, sys.stdout.isatty(), chunksize=8))
    lines = [line for res in results for line in res]
    for line in lines:
        print(line)
    masks = sum(1 for it in items if it['seg_map_path'])
    n = len(lines)
    print(f'{split}: {len(items)} images, {masks} masks checked, {n} '
          f'error{"" if n == 1 else "s"}')
    return len(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Verify the datasets of a config; returns the exit status."""
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__)
    p.add_argument('config', help='config whose datasets are checked')
    p.add_argument('--split', nargs='+', choices=SPLITS, help='default: all')
    p.add_argument('--cfg-options', nargs='+', help='key=value overrides')
    p.add_argument('--workers', type=int, default=2, help='0: no pool')
    add_debug_arg(p)
    args = p.parse_args(argv)
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = load_config(args.config, args.cfg_options)
    splits = args.split or [
        s for s in SPLITS if (cfg.get(f'{s}_dataloader') or {}).get('dataset')
    ]
    if not splits:
        raise SystemExit(f'error: {args.config} has no train_dataloader, '
                         f'val_dataloader or test_dataloader dataset')
    datasets = {s: build_dataset(cfg, s, args.debug) for s in splits}
    errors, seen = 0, {}
    for split, (ds, key) in datasets.items():
        if key in seen:
            print(f'{split}: same dataset as {seen[key]}, not checked again')
            continue
        seen[key] = split
        errors += verify_split(ds, split, args.workers)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
