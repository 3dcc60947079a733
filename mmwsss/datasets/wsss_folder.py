"""Generic folder dataset for WSSS benchmarks (camvid_things, synthetic,
converted COCO)."""
import os.path as osp
from typing import List, Optional

import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from mmwsss.utils.fileio import MissingFileError
from .utils import (DataFileError, index_images, labels_to_multihot,
                    mask_labels, read_classes, read_labels_json, read_split,
                    voc_palette, wsss_data_info)

__all__ = ['WSSSFolderDataset']

LABEL_SOURCES = ('json', 'mask', 'none')


@DATASETS.register_module()
class WSSSFolderDataset(BaseSegDataset):
    """A WSSS dataset stored in the mmwsss folder layout.

    .. code-block:: none

        data_root/
          images/<id>.jpg|png
          masks/<id>.png        uint8: 0 background, 1..K classes, 255 ignore
          splits/<split>.txt    one id per line
          classes.txt           background first, then classes 1..K
          labels.json           {"<id>": [present class indices 1..K]}

    Each data info holds ``img_path``, ``seg_map_path`` (None with
    ``with_masks=False``), ``img_labels`` (float32 ``(K,)`` multi-hot over the
    foreground classes; channel ``c`` = mask class ``c + 1``), ``img_id``,
    ``label_map`` (None), ``reduce_zero_label`` (False) and ``seg_fields``.

    The metainfo ``classes`` (K + 1 names, background first) is read from
    ``classes.txt`` unless given; the default palette is the PASCAL VOC one.
    Problems in the files (missing split / image / mask / label entry, label
    index out of range, ...) raise errors that name the file and the fix.

    Args:
        data_root (str): Root folder of the dataset.
        split (str): Split name (reads ``splits/<split>.txt``) or a path to
            a split ``.txt`` file (relative to ``data_root`` or absolute).
            Defaults to 'train'.
        with_masks (bool): Whether masks exist for this split. If False,
            ``seg_map_path`` is None (unlabelled / test-server images).
            Defaults to True.
        label_source (str): Where image labels come from: ``'json'``
            (``labels.json``), ``'mask'`` (unique mask values in 1..K; reads
            every mask once at initialisation) or ``'none'`` (no
            ``img_labels`` key, for images without labels).
            Defaults to 'json'.
        img_dir (str): Image folder under ``data_root``. Defaults to
            'images'.
        mask_dir (str): Mask folder under ``data_root``, e.g. a folder of
            pseudo labels. Defaults to 'masks'.
        labels_file (str): Label JSON under ``data_root``.
            Defaults to 'labels.json'.
        classes_file (str): Class list under ``data_root``.
            Defaults to 'classes.txt'.
        check_files (bool): Check at initialisation that every image (and
            mask) file exists. Defaults to True.
        metainfo (dict, optional): Overrides ``classes`` / ``palette``; the
            number of classes must match ``classes.txt``.
        **kwargs: Other :class:`mmseg.datasets.BaseSegDataset` arguments
            (``pipeline``, ``test_mode``, ``serialize_data``, ``lazy_init``,
            ``indices``, ...). ``ann_file`` / ``data_prefix`` / suffixes are
            derived from the layout and must not be given.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 with_masks: bool = True,
                 label_source: str = 'json',
                 img_dir: str = 'images',
                 mask_dir: str = 'masks',
                 labels_file: str = 'labels.json',
                 classes_file: str = 'classes.txt',
                 check_files: bool = True,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if label_source not in LABEL_SOURCES:
            raise ValueError(f'label_source must be one of {LABEL_SOURCES}, '
                             f'got {label_source!r}.')
        for key in ('ann_file', 'data_prefix', 'img_suffix'):
            if key in kwargs:
                raise TypeError(
                    f'{type(self).__name__} derives {key} from the folder '
                    f'layout; use split / img_dir / mask_dir instead.')
        if data_root is None or not osp.isdir(data_root):
            raise MissingFileError(
                f'Dataset root not found: {data_root}. Point data_root at a '
                f'folder with images/, masks/, splits/, classes.txt and '
                f'labels.json.')
        self.split = split
        self.with_masks = with_masks
        self.label_source = label_source
        self.labels_file = labels_file
        self.check_files = check_files
        metainfo = self._folder_metainfo(
            osp.join(data_root, classes_file), metainfo)
        super().__init__(
            ann_file=self._split_file(split),
            data_root=data_root,
            data_prefix=dict(img_path=img_dir, seg_map_path=mask_dir),
            img_suffix='',
            metainfo=metainfo,
            **kwargs)

    @staticmethod
    def _split_file(split: str) -> str:
        if split.endswith('.txt'):
            return split
        return osp.join('splits', f'{split}.txt')

    def _folder_metainfo(self, classes_file: str,
                         metainfo: Optional[dict]) -> dict:
        """Classes from ``classes.txt`` (or METAINFO) and a VOC palette."""
        metainfo = dict(metainfo or {})
        file_classes = read_classes(classes_file)
        default_classes = self.METAINFO.get('classes') or file_classes
        if len(default_classes) != len(file_classes):
            raise DataFileError(
                f'{classes_file} lists {len(file_classes)} classes but '
                f'{type(self).__name__} expects {len(default_classes)} '
                f'(background + {len(default_classes) - 1}). Use the '
                f'matching dataset class or fix the file.')
        classes = tuple(metainfo.get('classes', default_classes))
        if len(classes) != len(file_classes):
            raise DataFileError(
                f'metainfo gives {len(classes)} classes but {classes_file} '
                f'lists {len(file_classes)}; class subsets are not '
                f'supported (mask values are indices into classes.txt).')
        metainfo['classes'] = classes
        if 'palette' not in metainfo:
            palette = self.METAINFO.get('palette')
            if not palette or len(palette) != len(classes):
                palette = voc_palette(len(classes))
            metainfo['palette'] = [list(c) for c in palette]
        return metainfo

    @classmethod
    def get_label_map(cls, new_classes=None) -> None:
        """WSSS datasets never remap mask values (always None)."""
        return None

    @property
    def num_fg_classes(self) -> int:
        """K, the number of foreground classes."""
        return len(self._metainfo['classes']) - 1

    def load_data_list(self) -> List[dict]:
        """Build the data infos of the split (checks every file name).

        Returns:
            list[dict]: One dict per image id, in split-file order.
        """
        ids = read_split(
            self.ann_file,
            hint=f'Splits are looked up in '
            f'{osp.join(self.data_root or "", "splits")}.')
        img_dir = self.data_prefix['img_path']
        mask_dir = self.data_prefix['seg_map_path']
        images = index_images(img_dir)
        num_classes = self.num_fg_classes
        labels = None
        labels_path = osp.join(self.data_root or '', self.labels_file)
        if self.label_source == 'json':
            labels = read_labels_json(labels_path)
        need_masks = self.with_masks or self.label_source == 'mask'

        data_list = []
        for img_id in ids:
            if img_id not in images:
                raise MissingFileError(
                    f'Split file {self.ann_file} lists "{img_id}" but no '
                    f'image {osp.join(img_dir, img_id)}.jpg/.png exists. Add '
                    f'the image or remove the id from the split file.')
            seg_map_path = osp.join(mask_dir, img_id + self.seg_map_suffix)
            info = wsss_data_info(
                img_id, osp.join(img_dir, images[img_id]), seg_map_path,
                self.with_masks, need_masks and self.check_files,
                self.ann_file,
                "Add the mask, or build the dataset with with_masks=False "
                "(and a label_source other than 'mask') for a split without "
                'masks.')
            if self.label_source == 'json':
                if img_id not in labels:
                    raise DataFileError(
                        f'Image id "{img_id}" (from {self.ann_file}) is '
                        f'missing in {labels_path}. Add '
                        f'"{img_id}": [present classes 1..{num_classes}] '
                        f"(or [] for none), or use label_source='mask'.")
                info['img_labels'] = labels_to_multihot(
                    labels[img_id], num_classes, labels_path, img_id)
            elif self.label_source == 'mask':
                info['img_labels'] = mask_labels(seg_map_path, num_classes,
                                                 self.ignore_index)
            data_list.append(info)
        return data_list

    def get_img_labels(self) -> np.ndarray:
        """All image labels of the split as a float32 array ``(N, K)``."""
        return np.stack([
            self.get_data_info(i).get(
                'img_labels', np.zeros(self.num_fg_classes, np.float32))
            for i in range(len(self))
        ]) if len(self) else np.zeros((0, self.num_fg_classes), np.float32)
