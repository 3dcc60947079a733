"""PASCAL VOC 2012 (+ SBD "aug") for WSSS, with image-level labels."""
import json
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from mmwsss.utils.fileio import MissingFileError
from .utils import (DataFileError, labels_to_multihot, mask_labels, read_split,
                    voc_palette, wsss_data_info)

__all__ = [
    'VOCAugWSSSDataset', 'VOC_CLASSES', 'parse_voc_xml', 'load_cls_label_file'
]

#: VOC 2012 class names, background first (mask value = index).
VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle',
               'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
               'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
               'train', 'tvmonitor')

LABEL_SOURCES = ('xml', 'cls_file', 'mask', 'none')


def _int_coord(text: Optional[str], xml_path: str, tag: str) -> int:
    if text is None:
        raise DataFileError(f'{xml_path}: <{tag}> has no value.')
    try:
        return int(text.strip().split('.')[0])
    except ValueError as e:
        raise DataFileError(
            f'{xml_path}: <{tag}> is not a number: {text!r}.') from e


def parse_voc_xml(xml_path: str,
                  classes: Sequence[str] = VOC_CLASSES,
                  keep_difficult: bool = True) -> List[int]:
    """Present class indices (1..K, sorted) of a VOC XML annotation.

    Follows the Puzzle-CAM label rule: every ``<object>`` counts,
    *difficult* ones included, except boxes of zero area. Coordinates are
    truncated to integers and clipped to ``[0, width-1] x [0, height-1]``;
    a box is skipped when ``xmax - xmin == 0`` or ``ymax - ymin == 0`` after
    clipping. Objects without ``<bndbox>`` count.

    Args:
        xml_path (str): Path of the ``Annotations/<id>.xml`` file.
        classes (Sequence[str]): Class names, background first.
        keep_difficult (bool): Count *difficult* objects. Defaults to True.

    Returns:
        list[int]: Sorted unique present class indices in ``1..K``.

    Raises:
        FileNotFoundError: Missing file.
        DataFileError: Malformed XML or an unknown class name.
    """
    if not osp.isfile(xml_path):
        raise MissingFileError(
            f'VOC annotation not found: {xml_path}. Restore Annotations/ or '
            f"use label_source='cls_file' / 'mask'.")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise DataFileError(
            f'Cannot parse VOC annotation {xml_path} ({e}); restore the '
            f'file.') from e
    size = root.find('size')
    width = height = None
    if size is not None and size.find('width') is not None:
        width = _int_coord(size.findtext('width'), xml_path, 'width')
        height = _int_coord(size.findtext('height'), xml_path, 'height')
    index = {name: i for i, name in enumerate(classes)}
    present = set()
    for obj in root.findall('object'):
        name = (obj.findtext('name') or '').strip()
        if name not in index or index[name] == 0:
            raise DataFileError(
                f'{xml_path}: object class {name!r} is not one of the '
                f'{len(classes) - 1} foreground classes {list(classes[1:])}.')
        if not keep_difficult and (obj.findtext('difficult')
                                   or '0').strip() == '1':
            continue
        box = obj.find('bndbox')
        if box is not None:
            coords = {
                t: _int_coord(box.findtext(t), xml_path, t)
                for t in ('xmin', 'ymin', 'xmax', 'ymax')
            }
            if width is not None and width > 0 and height > 0:
                for t, lim in (('xmin', width), ('xmax', width),
                               ('ymin', height), ('ymax', height)):
                    coords[t] = max(min(coords[t], lim - 1), 0)
            if (coords['xmax'] - coords['xmin'] == 0
                    or coords['ymax'] - coords['ymin'] == 0):
                continue
        present.add(index[name])
    return sorted(present)


def load_cls_label_file(path: str,
                        num_classes: int = 20) -> Dict[str, np.ndarray]:
    """Load image labels from a ``cls_labels`` file.

    Two formats:

    - ``.npy``: a pickled dict ``{img_id: multi-hot (K,)}`` (the common VOC
      ``cls_labels.npy``);
    - ``.json``: ``{img_id: [present class indices 1..K]}``.

    Returns:
        dict[str, np.ndarray]: img_id -> float32 multi-hot ``(K,)``.
    """
    if not osp.isfile(path):
        raise MissingFileError(
            f'cls_labels file not found: {path}. Create it with '
            f'`python tools/dataset_converters/voc_aug.py <VOC2012 root>` or '
            f"use label_source='xml'.")
    out: Dict[str, np.ndarray] = {}
    if path.endswith('.npy'):
        try:
            data = np.load(path, allow_pickle=True)
            data = data.item() if data.dtype == object else data
        except Exception as e:
            raise DataFileError(
                f'Cannot load {path} as a .npy dict ({e}).') from e
        if not isinstance(data, dict):
            raise DataFileError(
                f'{path} must hold a dict {{img_id: multi-hot ({num_classes}'
                f',)}}, got {type(data).__name__}.')
        for k, v in data.items():
            v = np.asarray(v, dtype=np.float32).reshape(-1)
            if v.shape != (num_classes, ) or not np.isin(v, (0, 1)).all():
                raise DataFileError(
                    f'{path}: entry "{k}" must be a 0/1 vector of length '
                    f'{num_classes}, got {v.tolist()}.')
            out[str(k)] = v
        return out
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except ValueError as e:
        raise DataFileError(f'{path} is not valid JSON ({e}).') from e
    if not isinstance(data, dict):
        raise DataFileError(
            f'{path} must hold {{img_id: [class indices 1..{num_classes}]}}.')
    for k, v in data.items():
        out[str(k)] = labels_to_multihot(v, num_classes, path, k)
    return out


@DATASETS.register_module()
class VOCAugWSSSDataset(BaseSegDataset):
    """PASCAL VOC 2012 / SBD-aug dataset with image-level labels.

    .. code-block:: none

        data_root/                       (VOCdevkit/VOC2012)
          JPEGImages/<id>.jpg
          SegmentationClass/<id>.png     VOC GT (palette PNG, 255 boundary)
          SegmentationClassAug/<id>.png  VOC + SBD masks (train_aug)
          Annotations/<id>.xml
          ImageSets/Segmentation/{train_aug,train,val,test}.txt
          cls_labels.json | cls_labels.npy   (optional)

    Data infos carry ``img_path``, ``seg_map_path`` (None with
    ``with_masks=False``), ``img_labels`` (float32 ``(20,)``), ``img_id``,
    ``label_map`` (None), ``reduce_zero_label`` (False), ``seg_fields``.

    Args:
        data_root (str): The ``VOC2012`` folder.
        split (str): Split name in ``ImageSets/Segmentation`` (``train_aug``,
            ``train``, ``val``, ``test``) or a path to a split ``.txt``.
            Defaults to 'train_aug'.
        with_masks (bool): Whether the split has masks (False for training
            from image labels without the SBD masks, and for ``test``).
            Defaults to True.
        label_source (str): ``'xml'`` (default, Puzzle-CAM: all objects incl.
            difficult, zero-area boxes skipped), ``'cls_file'``
            (``cls_label_file``), ``'mask'`` (unique mask values 1..20) or
            ``'none'`` (no labels, e.g. the test split).
        cls_label_file (str, optional): ``.npy`` / ``.json`` label file for
            ``label_source='cls_file'`` (relative to ``data_root`` or
            absolute). Defaults to ``cls_labels.json`` or, if that is absent,
            ``cls_labels.npy`` in ``data_root``.
        img_dir (str): Defaults to 'JPEGImages'.
        mask_dir (str, optional): Mask folder. Defaults to
            'SegmentationClassAug' for splits whose name contains 'aug' and
            'SegmentationClass' otherwise.
        ann_dir (str): XML folder. Defaults to 'Annotations'.
        split_dir (str): Defaults to 'ImageSets/Segmentation'.
        check_files (bool): Check that images / masks exist. Defaults to
            True.
        **kwargs: Other ``BaseSegDataset`` arguments (``pipeline``,
            ``test_mode``, ``serialize_data``, ``lazy_init``, ...).
    """

    METAINFO = dict(classes=VOC_CLASSES, palette=voc_palette(21))

    def __init__(self,
                 data_root: str,
                 split: str = 'train_aug',
                 with_masks: bool = True,
                 label_source: str = 'xml',
                 cls_label_file: Optional[str] = None,
                 img_dir: str = 'JPEGImages',
                 mask_dir: Optional[str] = None,
                 ann_dir: str = 'Annotations',
                 split_dir: str = 'ImageSets/Segmentation',
                 check_files: bool = True,
                 **kwargs) -> None:
        if label_source not in LABEL_SOURCES:
            raise ValueError(f'label_source must be one of {LABEL_SOURCES}, '
                             f'got {label_source!r}.')
        for key in ('ann_file', 'data_prefix'):
            if key in kwargs:
                raise TypeError(f'{type(self).__name__} derives {key} from '
                                f'split / img_dir / mask_dir.')
        if data_root is None or not osp.isdir(data_root):
            raise MissingFileError(
                f'VOC root not found: {data_root}. Point data_root at '
                f'VOCdevkit/VOC2012.')
        meta = kwargs.get('metainfo') or {}
        if 'classes' in meta and tuple(meta['classes']) != VOC_CLASSES:
            raise ValueError('VOCAugWSSSDataset does not support class '
                             'subsets; use the 21 VOC classes.')
        if mask_dir is None:
            name = osp.basename(split)
            mask_dir = ('SegmentationClassAug'
                        if 'aug' in name.lower() else 'SegmentationClass')
        self.split = split
        self.with_masks = with_masks
        self.label_source = label_source
        self.cls_label_file = cls_label_file
        self.xml_dir = ann_dir
        self.check_files = check_files
        ann_file = split if split.endswith('.txt') else osp.join(
            split_dir, f'{split}.txt')
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(img_path=img_dir, seg_map_path=mask_dir),
            img_suffix='.jpg',
            seg_map_suffix='.png',
            **kwargs)

    @classmethod
    def get_label_map(cls, new_classes=None) -> None:
        """WSSS datasets never remap mask values (always None)."""
        return None

    def resolve_cls_file(self) -> str:
        """The path of the class-label file (``cls_label_file`` resolved
        against ``data_root``)."""
        root = self.data_root or ''
        if self.cls_label_file:
            return (self.cls_label_file if osp.isabs(self.cls_label_file) else
                    osp.join(root, self.cls_label_file))
        for name in ('cls_labels.json', 'cls_labels.npy'):
            if osp.isfile(osp.join(root, name)):
                return osp.join(root, name)
        return osp.join(root, 'cls_labels.json')

    def load_data_list(self) -> List[dict]:
        """Build the data infos of the split.

        Returns:
            list[dict]: One dict per image id, in split-file order.
        """
        ids = read_split(self.ann_file)
        img_dir = self.data_prefix['img_path']
        mask_dir = self.data_prefix['seg_map_path']
        num_classes = len(VOC_CLASSES) - 1
        xml_dir = osp.join(self.data_root or '', self.xml_dir)
        cls_labels = cls_file = None
        if self.label_source == 'cls_file':
            cls_file = self.resolve_cls_file()
            cls_labels = load_cls_label_file(cls_file, num_classes)
        need_masks = self.with_masks or self.label_source == 'mask'
        data_list = []
        for img_id in ids:
            img_path = osp.join(img_dir, img_id + self.img_suffix)
            if self.check_files and not osp.isfile(img_path):
                raise MissingFileError(
                    f'Split file {self.ann_file} lists "{img_id}" but the '
                    f'image {img_path} does not exist. Restore it or remove '
                    f'the id from the split file.')
            seg_map_path = osp.join(mask_dir, img_id + self.seg_map_suffix)
            info = wsss_data_info(
                img_id, img_path, seg_map_path, self.with_masks, need_masks
                and self.check_files, self.ann_file,
                'Build SegmentationClassAug with tools/dataset_converters/'
                'voc_aug.py, pass mask_dir, or set with_masks=False to train '
                'from image labels only.')
            if self.label_source == 'xml':
                present = parse_voc_xml(
                    osp.join(xml_dir, img_id + '.xml'), VOC_CLASSES)
                info['img_labels'] = labels_to_multihot(present, num_classes)
            elif self.label_source == 'cls_file':
                if img_id not in cls_labels:
                    raise DataFileError(
                        f'Image id "{img_id}" (from {self.ann_file}) is '
                        f'missing in {cls_file}. Regenerate the file with '
                        f"tools/dataset_converters/voc_aug.py or use "
                        f"label_source='xml'.")
                info['img_labels'] = cls_labels[img_id].copy()
            elif self.label_source == 'mask':
                info['img_labels'] = mask_labels(seg_map_path, num_classes,
                                                 self.ignore_index)
            data_list.append(info)
        return data_list
