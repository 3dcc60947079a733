#!/usr/bin/env python
"""Prepare PASCAL VOC 2012 (+ SBD) for WSSS.

Writes into ``VOC_ROOT`` (``VOCdevkit/VOC2012``):

1. ``cls_labels.json``: ``{img_id: [present classes 1..20]}`` for every XML in
   ``Annotations/`` (all objects incl. difficult, zero-area boxes skipped;
   the rule of ``mmwsss.datasets.parse_voc_xml``).
2. ``SegmentationClassAug/<id>.png`` (grey uint8): SBD ``cls/<id>.mat``
   masks (needs scipy) for SBD train+val, then the VOC ``SegmentationClass``
   GT (palette indices) for every VOC id, which takes precedence.
3. ``ImageSets/Segmentation/train_aug.txt`` = (VOC train ∪ SBD train ∪ SBD
   val) − VOC val (10,582 ids with the full data). Without ``--sbd-root``
   it is VOC train, and an existing ``train_aug.txt`` is left untouched.

Mask files are written atomically (temp file + rename) and existing ones are
skipped, so an interrupted run can be resumed.

Example::

    python tools/dataset_converters/voc_aug.py data/VOCdevkit/VOC2012 \
        --sbd-root data/benchmark_RELEASE/dataset --nproc 8
"""
import argparse
import os
import os.path as osp
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image

try:
    import mmwsss  # noqa: F401
except ImportError:  # running from a source checkout without install
    sys.path.insert(0,
                    osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmwsss.datasets.utils import read_split
from mmwsss.datasets.voc_aug import VOC_CLASSES, parse_voc_xml
from mmwsss.utils.fileio import atomic_save_json, atomic_save_lines
from mmwsss.utils.parallel import exit_with_parent


def parse_args():
    parser = argparse.ArgumentParser(
        description='Write cls_labels.json, SegmentationClassAug and '
        'train_aug.txt for PASCAL VOC 2012 (+ SBD).')
    parser.add_argument('voc_root', help='VOCdevkit/VOC2012 folder')
    parser.add_argument(
        '--sbd-root',
        default=None,
        help='SBD "dataset" folder (benchmark_RELEASE/dataset) with cls/, '
        'train.txt and val.txt; omit to use VOC only')
    parser.add_argument(
        '--cls-out',
        default=None,
        help='label file to write (default VOC_ROOT/cls_labels.json)')
    parser.add_argument(
        '--mask-out',
        default='SegmentationClassAug',
        help='mask folder under VOC_ROOT (default SegmentationClassAug)')
    parser.add_argument(
        '--skip-masks',
        action='store_true',
        help='only write cls_labels.json and train_aug.txt')
    parser.add_argument(
        '--overwrite', action='store_true', help='rewrite existing masks')
    parser.add_argument('--nproc', type=int, default=1, help='processes')
    return parser.parse_args()


def _save_png_atomic(mask: np.ndarray, path: str) -> None:
    tmp = osp.join(
        osp.dirname(path), f'.{osp.basename(path)}.{os.getpid()}.tmp.png')
    Image.fromarray(mask.astype(np.uint8), mode='L').save(tmp)
    os.replace(tmp, path)


def load_sbd_mat(path: str) -> np.ndarray:
    """Class mask of an SBD ``cls/<id>.mat`` file (uint8, H x W)."""
    try:
        from scipy.io import loadmat
    except ImportError as e:
        raise ImportError('Converting SBD .mat files needs scipy: '
                          '`pip install scipy`.') from e
    try:
        data = loadmat(path)
        return data['GTcls'][0]['Segmentation'][0].astype(np.uint8)
    except Exception as e:
        raise ValueError(f'Cannot read SBD mask {path} ({e}).') from e


def _convert_one(task):
    kind, src, dst, overwrite = task
    if not overwrite and osp.isfile(dst):
        return 0
    if kind == 'mat':
        mask = load_sbd_mat(src)
    else:
        with Image.open(src) as im:
            mask = np.asarray(im)  # palette indices
        if mask.ndim != 2:
            raise ValueError(f'{src} is not a palette/grey VOC mask.')
    _save_png_atomic(mask, dst)
    return 1


def write_cls_labels(voc_root: str, out_file: str) -> dict:
    """Parse every XML of ``Annotations/`` into ``out_file``."""
    ann_dir = osp.join(voc_root, 'Annotations')
    if not osp.isdir(ann_dir):
        raise FileNotFoundError(f'{ann_dir} not found; is {voc_root} a '
                                f'VOC2012 folder?')
    labels = {}
    for name in sorted(os.listdir(ann_dir)):
        if name.endswith('.xml'):
            labels[name[:-4]] = parse_voc_xml(
                osp.join(ann_dir, name), VOC_CLASSES)
    atomic_save_json(out_file, labels, one_key_per_line=True)
    return labels


def build_train_aug(voc_root: str, sbd_root: str = None) -> list:
    """(VOC train ∪ SBD train ∪ SBD val) − VOC val, sorted."""
    seg = osp.join(voc_root, 'ImageSets', 'Segmentation')
    ids = set(read_split(osp.join(seg, 'train.txt')))
    val = set(read_split(osp.join(seg, 'val.txt')))
    if sbd_root:
        for name in ('train.txt', 'val.txt'):
            ids |= set(read_split(osp.join(sbd_root, name)))
    return sorted(ids - val)


def convert_masks(voc_root: str,
                  sbd_root: str = None,
                  mask_out: str = 'SegmentationClassAug',
                  overwrite: bool = False,
                  nproc: int = 1) -> int:
    """Write SBD and VOC masks into ``voc_root/mask_out``; return count."""
    out_dir = osp.join(voc_root, mask_out)
    os.makedirs(out_dir, exist_ok=True)
    voc_dir = osp.join(voc_root, 'SegmentationClass')
    voc_ids = set()
    if osp.isdir(voc_dir):
        voc_ids = {n[:-4] for n in os.listdir(voc_dir) if n.endswith('.png')}
    tasks = []
    if sbd_root:
        sbd_ids = set()
        for name in ('train.txt', 'val.txt'):
            sbd_ids |= set(read_split(osp.join(sbd_root, name)))
        # VOC GT takes precedence: SBD masks only for ids VOC lacks
        for i in sorted(sbd_ids - voc_ids):
            tasks.append(('mat', osp.join(sbd_root, 'cls', i + '.mat'),
                          osp.join(out_dir, i + '.png'), overwrite))
    for i in sorted(voc_ids):
        tasks.append(('png', osp.join(voc_dir, i + '.png'),
                      osp.join(out_dir, i + '.png'), overwrite))
    written = 0
    total = len(tasks)
    step = max(1, total // 20)
    if nproc > 1:
        # the workers die with this process (even kill -9)
        with Pool(nproc, initializer=exit_with_parent) as pool:
            for k, n in enumerate(
                    pool.imap_unordered(_convert_one, tasks, chunksize=16)):
                written += n
                if (k + 1) % step == 0 or k + 1 == total:
                    print(f'masks {k + 1}/{total}', flush=True)
    else:
        for k, task in enumerate(tasks):
            written += _convert_one(task)
            if (k + 1) % step == 0 or k + 1 == total:
                print(f'masks {k + 1}/{total}', flush=True)
    return written


def main():
    args = parse_args()
    voc_root = args.voc_root
    cls_out = args.cls_out or osp.join(voc_root, 'cls_labels.json')
    labels = write_cls_labels(voc_root, cls_out)
    print(f'{cls_out}: labels of {len(labels)} images')
    if not args.skip_masks:
        n = convert_masks(voc_root, args.sbd_root, args.mask_out,
                          args.overwrite, args.nproc)
        print(f'{osp.join(voc_root, args.mask_out)}: {n} masks written')
    out = osp.join(voc_root, 'ImageSets', 'Segmentation', 'train_aug.txt')
    if not args.sbd_root and osp.isfile(out):
        print(f'{out} exists and no --sbd-root was given: kept as is')
        return
    train_aug = build_train_aug(voc_root, args.sbd_root)
    atomic_save_lines(out, train_aug)
    print(f'{out}: {len(train_aug)} ids')
    if not args.sbd_root:
        print('note: no --sbd-root given, train_aug = VOC train only')


if __name__ == '__main__':
    main()
