"""Tiny generated datasets for tests (no network, no shared data).

- :func:`make_voc_fixture`: VOC 2012 layout (JPEGImages, SegmentationClass
  palette PNGs, SegmentationClassAug, Annotations XML, ImageSets splits,
  cls_labels.json), readable by :class:`VOCAugWSSSDataset`.
- :func:`make_folder_fixture`: mmwsss folder layout, readable by
  :class:`WSSSFolderDataset`.
- :func:`make_coco_fixture`: a COCO-2014-style root (``annotations/
  instances_<split>2014.json`` with polygon, RLE and crowd annotations, and
  the images) for ``tools/dataset_converters/coco2014.py``.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from mmwsss.utils.fileio import atomic_save_json, atomic_save_lines
from .utils import voc_palette
from .voc_aug import VOC_CLASSES

__all__ = ['make_voc_fixture', 'make_folder_fixture', 'make_coco_fixture']


def _save_palette_png(path: str, mask: np.ndarray) -> None:
    im = Image.fromarray(mask.astype(np.uint8), mode='P')
    pal = voc_palette(256)
    pal[255] = [224, 224, 192]  # VOC boundary colour
    im.putpalette([c for rgb in pal for c in rgb])
    im.save(path)


def _draw_objects(
    rng: np.random.Generator, h: int, w: int, classes: List[int]
) -> Tuple[np.ndarray, np.ndarray, List[Tuple[int, ...]]]:
    """Draw one object per class in its own vertical band (no overlap).

    Returns the BGR image, the mask and the 0-based inclusive boxes
    (xmin, ymin, xmax, ymax) of the objects.
    """
    img = np.empty((h, w, 3), np.float32)
    img[:] = rng.uniform(40, 215, size=3)
    img += rng.normal(0, 8, size=img.shape)
    mask = np.zeros((h, w), np.uint8)
    boxes = []
    band = w // len(classes)
    pal = voc_palette(256)
    for i, cls in enumerate(classes):
        x0 = i * band + int(rng.integers(1, max(2, band // 4)))
        x1 = (i + 1) * band - int(rng.integers(2, max(3, band // 4)))
        y0 = int(rng.integers(1, h // 3))
        y1 = int(rng.integers(2 * h // 3, h - 1))
        obj = np.zeros((h, w), np.uint8)
        if rng.uniform() < 0.5:
            obj[y0:y1 + 1, x0:x1 + 1] = 1
        else:
            cv2.ellipse(obj, ((x0 + x1) // 2, (y0 + y1) // 2),
                        ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, 1, -1)
        ys, xs = np.nonzero(obj)
        boxes.append(
            (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())))
        img[obj > 0] = np.asarray(pal[cls][::-1], np.float32) * 0.8 + 30
        mask[obj > 0] = cls
    img = np.clip(img + rng.normal(0, 6, size=img.shape), 0, 255)
    return img.astype(np.uint8), mask, boxes


def _voc_xml(img_id: str, h: int, w: int, objects: Sequence[Dict]) -> str:
    parts = [
        '<annotation>', '\t<folder>VOC2012</folder>',
        f'\t<filename>{img_id}.jpg</filename>', '\t<size>',
        f'\t\t<width>{w}</width>', f'\t\t<height>{h}</height>',
        '\t\t<depth>3</depth>', '\t</size>', '\t<segmented>1</segmented>'
    ]
    for o in objects:
        parts += [
            '\t<object>', f'\t\t<name>{o["name"]}</name>',
            '\t\t<pose>Unspecified</pose>', '\t\t<truncated>0</truncated>',
            f'\t\t<difficult>{int(o.get("difficult", 0))}</difficult>',
            '\t\t<bndbox>', f'\t\t\t<xmin>{o["box"][0]}</xmin>',
            f'\t\t\t<ymin>{o["box"][1]}</ymin>',
            f'\t\t\t<xmax>{o["box"][2]}</xmax>',
            f'\t\t\t<ymax>{o["box"][3]}</ymax>', '\t\t</bndbox>', '\t</object>'
        ]
    parts.append('</annotation>')
    return '\n'.join(parts) + '\n'


def make_voc_fixture(root: str,
                     n: int = 8,
                     size: Tuple[int, int] = (64, 80),
                     seed: int = 0) -> str:
    """Write a tiny PASCAL VOC 2012-layout dataset into ``root``.

    Each image (id ``2012_<6 digits>``) shows 1-2 objects of random VOC
    classes in separate vertical bands (no occlusion), with a 1-pixel 255
    boundary band in the masks like VOC. Every second image marks its first
    object *difficult*, and every third image carries an extra zero-area box
    of an absent class (which the XML label rule skips), so XML labels,
    ``cls_labels.json`` and mask labels all agree.

    Layout written::

        root/JPEGImages/<id>.jpg
        root/SegmentationClass/<id>.png      palette PNG (VOC style)
        root/SegmentationClassAug/<id>.png   grey PNG, same values
        root/Annotations/<id>.xml
        root/ImageSets/Segmentation/{train_aug,train,val}.txt
        root/cls_labels.json                 {id: [classes 1..20]}

    ``val`` is the last ``max(1, n // 4)`` ids, ``train_aug`` the others and
    ``train`` every second id of ``train_aug`` (at least one).

    Args:
        root (str): Output folder (created).
        n (int): Number of images (>= 2). Defaults to 8.
        size (tuple[int, int]): Image size (H, W). Defaults to (64, 80).
        seed (int): Seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    if n < 2:
        raise ValueError('make_voc_fixture needs n >= 2.')
    h, w = size
    rng = np.random.default_rng(seed)
    for sub in ('JPEGImages', 'SegmentationClass', 'SegmentationClassAug',
                'Annotations', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    ids, labels = [], {}
    kernel = np.ones((3, 3), np.uint8)
    for i in range(n):
        img_id = f'2012_{i:06d}'
        num = int(rng.integers(1, 3))
        classes = sorted(rng.choice(np.arange(1, 21), num, replace=False))
        classes = [int(c) for c in classes]
        img, mask, boxes = _draw_objects(rng, h, w, classes)
        band = cv2.dilate(mask, kernel) != cv2.erode(mask, kernel)
        mask[band] = 255
        objects = [
            dict(
                name=VOC_CLASSES[c],
                box=[b + 1 for b in box],
                difficult=(j == 0 and i % 2 == 1))
            for j, (c, box) in enumerate(zip(classes, boxes))
        ]
        if i % 3 == 2:
            absent = [c for c in range(1, 21) if c not in classes]
            c = int(rng.choice(absent))
            objects.append(dict(name=VOC_CLASSES[c], box=[5, 5, 5, 9]))
        cv2.imwrite(osp.join(root, 'JPEGImages', img_id + '.jpg'), img)
        _save_palette_png(
            osp.join(root, 'SegmentationClass', img_id + '.png'), mask)
        cv2.imwrite(
            osp.join(root, 'SegmentationClassAug', img_id + '.png'), mask)
        with open(osp.join(root, 'Annotations', img_id + '.xml'), 'w') as f:
            f.write(_voc_xml(img_id, h, w, objects))
        ids.append(img_id)
        labels[img_id] = classes
    n_val = max(1, n // 4)
    val, train_aug = ids[-n_val:], ids[:-n_val]
    train = train_aug[::2] or train_aug[:1]
    seg = osp.join(root, 'ImageSets', 'Segmentation')
    atomic_save_lines(osp.join(seg, 'train_aug.txt'), train_aug)
    atomic_save_lines(osp.join(seg, 'train.txt'), train)
    atomic_save_lines(osp.join(seg, 'val.txt'), val)
    atomic_save_json(
        osp.join(root, 'cls_labels.json'), labels, one_key_per_line=True)
    return root


def make_folder_fixture(root: str,
                        splits: Dict[str, int] = None,
                        num_classes: int = 3,
                        size: Tuple[int, int] = (48, 64),
                        seed: int = 0) -> str:
    """Write a tiny dataset in the mmwsss folder layout.

    Images alternate between ``.jpg`` and ``.png``; masks hold 1-2 objects
    (class values 1..K) with a few 255 pixels; ``labels.json`` lists the
    classes present in each mask; ``classes.txt`` is ``background``,
    ``class1`` .. ``classK``.

    Args:
        root (str): Output folder (created).
        splits (dict[str, int], optional): Split name -> number of images.
            Defaults to ``{'train': 6, 'val': 3}``.
        num_classes (int): K. Defaults to 3.
        size (tuple[int, int]): (H, W). Defaults to (48, 64).
        seed (int): Seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    splits = splits or {'train': 6, 'val': 3}
    h, w = size
    rng = np.random.default_rng(seed)
    for sub in ('images', 'masks', 'splits'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    labels: Dict[str, List[int]] = {}
    k = 0
    for split, num in splits.items():
        ids = []
        for _ in range(num):
            img_id = f'{split}_{k:04d}'
            count = int(rng.integers(1, min(2, num_classes) + 1))
            classes = sorted(
                int(c) for c in rng.choice(
                    np.arange(1, num_classes + 1), count, replace=False))
            img, mask, _ = _draw_objects(rng, h, w, classes)
            mask[0, :2] = 255
            ext = '.jpg' if k % 2 == 0 else '.png'
            cv2.imwrite(osp.join(root, 'images', img_id + ext), img)
            cv2.imwrite(osp.join(root, 'masks', img_id + '.png'), mask)
            labels[img_id] = classes
            ids.append(img_id)
            k += 1
        atomic_save_lines(osp.join(root, 'splits', f'{split}.txt'), ids)
    atomic_save_lines(
        osp.join(root, 'classes.txt'),
        ['background'] + [f'class{i}' for i in range(1, num_classes + 1)])
    atomic_save_json(
        osp.join(root, 'labels.json'), labels, one_key_per_line=True)
    return root


def make_coco_fixture(root: str, split: str = 'val2014') -> Dict:
    """Write a tiny COCO-2014-style dataset (3 images, 3 categories).

    Category ids are 1, 3 and 90 (non-contiguous, like COCO), mapped by the
    converter to mask values 1, 2 and 3. Geometry (images are H=20 x W=30):

    - ``img 1`` (``COCO_<split>_000000000001``): a polygon rectangle of
      category 3 covering ``[y 2:10, x 3:13]``, then (annotated later, id 12)
      a polygon rectangle of category 1 covering ``[y 6:14, x 8:20]``; a crowd
      RLE of category 90 covering ``[y 15:20, x 0:30]``.
    - ``img 2``: an uncompressed-RLE annotation of category 90 covering
      ``[y 0:5, x 0:4]`` and a compressed-RLE annotation of category 1
      covering ``[y 10:20, x 20:30]``.
    - ``img 3``: no annotation (background only).

    Args:
        root (str): COCO root; writes ``annotations/instances_<split>.json``
            and ``<split>/*.jpg``.
        split (str): Split folder name. Defaults to 'val2014'.

    Returns:
        dict: The COCO JSON that was written.
    """
    from pycocotools import mask as mask_utils
    h, w = 20, 30
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    os.makedirs(osp.join(root, split), exist_ok=True)
    images = []
    for i in (1, 2, 3):
        name = f'COCO_{split}_{i:012d}.jpg'
        images.append(dict(id=i, file_name=name, height=h, width=w))
        img = np.full((h, w, 3), 40 * i, np.uint8)
        cv2.imwrite(osp.join(root, split, name), img)

    def rect_poly(y0, y1, x0, x1):
        return [[x0, y0, x1, y0, x1, y1, x0, y1]]

    def rle_of(y0, y1, x0, x1, compressed):
        m = np.zeros((h, w), np.uint8, order='F')
        m[y0:y1, x0:x1] = 1
        rle = mask_utils.encode(np.asfortranarray(m))
        if compressed:
            rle['counts'] = rle['counts'].decode('ascii')
            return rle
        # uncompressed: column-major run lengths starting with zeros
        flat = m.flatten(order='F')
        counts, cur, run = [], 0, 0
        for v in flat:
            if v == cur:
                run += 1
            else:
                counts.append(run)
                cur, run = v, 1
        counts.append(run)
        return dict(size=[h, w], counts=counts)

    #: id, image_id, category_id, iscrowd, area, bbox, segmentation
    rows = (
        (11, 1, 3, 0, 80.0, [3, 2, 10, 8], rect_poly(2, 10, 3, 13)),
        (12, 1, 1, 0, 96.0, [8, 6, 12, 8], rect_poly(6, 14, 8, 20)),
        (13, 1, 90, 1, 150.0, [0, 15, 30, 5], rle_of(15, 20, 0, 30, False)),
        (21, 2, 90, 0, 20.0, [0, 0, 4, 5], rle_of(0, 5, 0, 4, False)),
        (22, 2, 1, 0, 100.0, [20, 10, 10, 10], rle_of(10, 20, 20, 30, True)),
    )  # yapf: disable
    keys = ('id', 'image_id', 'category_id', 'iscrowd', 'area', 'bbox',
            'segmentation')
    anns = [dict(zip(keys, row)) for row in rows]
    cats = [
        dict(id=1, name='person', supercategory='person'),
        dict(id=3, name='car', supercategory='vehicle'),
        dict(id=90, name='toothbrush', supercategory='indoor'),
    ]
    data = dict(images=images, annotations=anns, categories=cats)
    with open(osp.join(root, 'annotations', f'instances_{split}.json'),
              'w') as f:
        json.dump(data, f)
    return data
