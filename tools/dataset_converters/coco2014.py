#!/usr/bin/env python
"""Convert COCO 2014 instance annotations to the mmwsss folder layout.

Input (``COCO_ROOT``)::

    annotations/instances_train2014.json   annotations/instances_val2014.json
    train2014/*.jpg                        val2014/*.jpg

Output (``OUT_DIR``, readable by ``COCOWSSSDataset`` / ``WSSSFolderDataset``)::

    images/<id>.jpg        symlink (default), hard link or copy of the image
    masks/<id>.png         uint8: 0 background, 1..80, 255 ignore
    splits/train.txt       (train2014)    splits/val.txt (val2014)
    classes.txt            background + category names in category-id order
    labels.json            {id: [present classes 1..80]}

``<id>`` is the image file stem (``COCO_train2014_000000000009``). Class
``c`` (1..80) is the c-th category in ascending COCO category id.

Rasterisation policy (documented choices):

- ``--crowd ignore`` (default): crowd regions (``iscrowd=1``) are painted 255
  first, then the non-crowd instances are painted over them, so only crowd
  pixels not covered by a regular instance are ignored. ``background``
  drops crowd annotations; ``class`` treats them like normal instances.
- ``--overlap later`` (default): instances are painted in annotation-id order
  and a later instance overwrites an earlier one where they overlap.
  ``smaller``: painted by decreasing area, so smaller instances stay on top.
  ``max``: the larger class index wins.
- ``--label-source mask`` (default): labels = classes visible in the final
  mask (masks and labels agree). ``annotations``: classes of all non-crowd
  annotations (plus crowd ones with ``--crowd class``).

Each file is written atomically (temp file + rename) and existing masks are
reused, so an interrupted conversion resumes where it stopped.

Example::

    python tools/dataset_converters/coco2014.py \
        data/coco2014 data/coco14_wsss \
        --workers 8
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import time
from multiprocessing import Pool
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

try:
    import mmwsss  # noqa: F401
except ImportError:  # running from a source checkout without install
    sys.path.insert(0,
                    osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmwsss.utils.fileio import (atomic_save_json, atomic_save_lines,
                                 read_label_png)
from mmwsss.utils.parallel import exit_with_parent

SPLITS = {'train': 'train2014', 'val': 'val2014'}


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert COCO 2014 instances to VOC-style PNG masks '
        '(81 classes) in the mmwsss folder layout.')
    parser.add_argument(
        'coco_root', help='folder with annotations/, '
        'train2014/, val2014/')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument(
        '--splits',
        nargs='+',
        default=['train', 'val'],
        choices=sorted(SPLITS),
        help='splits to convert (train = train2014, val = val2014)')
    parser.add_argument(
        '--crowd',
        default='ignore',
        choices=['ignore', 'background', 'class'],
        help='crowd regions: 255 (default), dropped, or like instances')
    parser.add_argument(
        '--overlap',
        default='later',
        choices=['later', 'smaller', 'max'],
        help='who wins where instances overlap (default: later annotation)')
    parser.add_argument(
        '--label-source',
        default='mask',
        choices=['mask', 'annotations'],
        help='labels.json from the final mask (default) or annotations')
    parser.add_argument(
        '--image-mode',
        default='symlink',
        choices=['symlink', 'hardlink', 'copy', 'none'],
        help='how images/ is filled (default: absolute symlinks)')
    parser.add_argument('--workers', type=int, default=1, help='processes')
    parser.add_argument(
        '--overwrite', action='store_true', help='rewrite existing masks')
    return parser.parse_args()


def _tmp_path(path: str) -> str:
    return osp.join(
        osp.dirname(path), f'.{osp.basename(path)}.{os.getpid()}.tmp')


def ann_to_mask(segm, h: int, w: int) -> np.ndarray:
    """Binary mask (uint8, H x W) of a COCO polygon / RLE segmentation."""
    from pycocotools import mask as mask_utils
    if isinstance(segm, list):  # polygons
        if not segm:
            return np.zeros((h, w), np.uint8)
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    elif isinstance(segm['counts'], list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(segm, h, w)
    else:  # compressed RLE
        rle = dict(segm)
        if isinstance(rle['counts'], str):
            rle['counts'] = rle['counts'].encode('ascii')
    return mask_utils.decode(rle).astype(np.uint8)


def rasterise(anns: List[dict],
              h: int,
              w: int,
              cat_to_label: Dict[int, int],
              crowd: str = 'ignore',
              overlap: str = 'later') -> np.ndarray:
    """The class mask of one image (see the module docstring for rules)."""
    mask = np.zeros((h, w), np.uint8)
    regular, crowds = [], []
    for ann in anns:
        if ann.get('iscrowd', 0) and crowd != 'class':
            crowds.append(ann)
        else:
            regular.append(ann)
    if crowd == 'ignore':
        for ann in crowds:
            mask[ann_to_mask(ann['segmentation'], h, w) > 0] = 255
    if overlap == 'smaller':
        regular = sorted(regular, key=lambda a: (-a.get('area', 0), a['id']))
    else:
        regular = sorted(regular, key=lambda a: a['id'])
    for ann in regular:
        m = ann_to_mask(ann['segmentation'], h, w) > 0
        label = cat_to_label[ann['category_id']]
        if overlap == 'max':
            cur = mask[m]
            cur = np.where(cur == 255, 0, cur)
            mask[m] = np.maximum(cur, label)
        else:
            mask[m] = label
    return mask


def _convert_image(task: Tuple) -> Tuple[str, List[int]]:
    (stem, src_img, anns, h, w, out_dir, cat_to_label, opts) = task
    mask_path = osp.join(out_dir, 'masks', stem + '.png')
    if not opts['overwrite'] and osp.isfile(mask_path):
        mask = read_label_png(mask_path, 'mask')
    else:
        mask = rasterise(anns, h, w, cat_to_label, opts['crowd'],
                         opts['overlap'])
        tmp = _tmp_path(mask_path) + '.png'
        Image.fromarray(mask, mode='L').save(tmp)
        os.replace(tmp, mask_path)
    _place_image(src_img, osp.join(out_dir, 'images', stem + '.jpg'),
                 opts['image_mode'])
    num = len(cat_to_label)
    if opts['label_source'] == 'mask':
        values = np.unique(mask)
        labels = [int(v) for v in values if 1 <= v <= num]
    else:
        labels = sorted({
            cat_to_label[a['category_id']]
            for a in anns
            if not a.get('iscrowd', 0) or opts['crowd'] == 'class'
        })
    return stem, labels


def _place_image(src: str, dst: str, mode: str) -> None:
    if mode == 'none' or osp.lexists(dst):
        return
    if not osp.isfile(src):
        raise FileNotFoundError(f'COCO image not found: {src}')
    tmp = _tmp_path(dst)
    if osp.lexists(tmp):
        os.remove(tmp)
    if mode == 'symlink':
        os.symlink(osp.abspath(src), tmp)
    elif mode == 'hardlink':
        os.link(src, tmp)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def load_coco(ann_file: str) -> Tuple[dict, List[dict], Dict]:
    """Categories (sorted by id), images and annotations per image."""
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'COCO annotation file not found: {ann_file}')
    with open(ann_file) as f:
        data = json.load(f)
    cats = sorted(data['categories'], key=lambda c: c['id'])
    per_image: Dict[int, List[dict]] = {}
    for ann in data.get('annotations', []):
        per_image.setdefault(ann['image_id'], []).append(ann)
    return cats, sorted(data['images'], key=lambda i: i['id']), per_image


def convert_split(coco_root: str,
                  out_dir: str,
                  split: str,
                  opts: dict,
                  workers: int = 1) -> Tuple[List[str], Dict, List[str]]:
    """Convert one split; returns ids, labels and the class names."""
    folder = SPLITS[split]
    cats, images, per_image = load_coco(
        osp.join(coco_root, 'annotations', f'instances_{folder}.json'))
    cat_to_label = {c['id']: i + 1 for i, c in enumerate(cats)}
    classes = ['background'] + [c['name'] for c in cats]
    tasks = []
    for img in images:
        stem = osp.splitext(img['file_name'])[0]
        tasks.append(
            (stem, osp.join(coco_root, folder,
                            img['file_name']), per_image.get(img['id'], []),
             img['height'], img['width'], out_dir, cat_to_label, opts))
    labels: Dict[str, List[int]] = {}
    total, start = len(tasks), time.time()
    step = max(1, total // 100)

    def report(k):
        if (k + 1) % step == 0 or k + 1 == total:
            rate = (k + 1) / max(time.time() - start, 1e-6)
            print(
                f'[{split}] {k + 1}/{total} images ({rate:.0f}/s)', flush=True)

    if workers > 1:
        # the workers die with this process (even kill -9)
        with Pool(workers, initializer=exit_with_parent) as pool:
            for k, (stem, lab) in enumerate(
                    pool.imap_unordered(_convert_image, tasks, chunksize=32)):
                labels[stem] = lab
                report(k)
    else:
        for k, task in enumerate(tasks):
            stem, lab = _convert_image(task)
            labels[stem] = lab
            report(k)
    ids = [t[0] for t in tasks]
    return ids, labels, classes


def main():
    args = parse_args()
    opts = dict(
        crowd=args.crowd,
        overlap=args.overlap,
        label_source=args.label_source,
        image_mode=args.image_mode,
        overwrite=args.overwrite)
    for sub in ('images', 'masks', 'splits'):
        os.makedirs(osp.join(args.out_dir, sub), exist_ok=True)
    labels_file = osp.join(args.out_dir, 'labels.json')
    classes_file = osp.join(args.out_dir, 'classes.txt')
    all_labels: Dict[str, List[int]] = {}
    if osp.isfile(labels_file):  # keep labels of splits converted earlier
        with open(labels_file) as f:
            all_labels = json.load(f)
    classes = None
    for split in args.splits:
        ids, labels, split_classes = convert_split(args.coco_root,
                                                   args.out_dir, split, opts,
                                                   args.workers)
        if classes is not None and split_classes != classes:
            raise ValueError('train2014 and val2014 have different '
                             'categories.')
        classes = split_classes
        if osp.isfile(classes_file):
            with open(classes_file) as f:
                old = [line.strip() for line in f if line.strip()]
            if old != classes:
                raise ValueError(
                    f'{classes_file} lists other classes than the COCO '
                    f'annotations; use a fresh out_dir.')
        atomic_save_lines(classes_file, classes)
        all_labels.update(labels)
        atomic_save_json(
            labels_file, {k: all_labels[k]
                          for k in sorted(all_labels)},
            one_key_per_line=True)
        atomic_save_lines(
            osp.join(args.out_dir, 'splits', f'{split}.txt'), ids)
        print(f'[{split}] done: {len(ids)} images')
    print(f'wrote {args.out_dir}')


if __name__ == '__main__':
    main()
