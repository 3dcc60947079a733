# Copyright (c) mmwsss contributors. All rights reserved.
"""Read saved maps (CAM / seed / random-walk files, label PNGs) of a
sample."""
import os.path as osp
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from mmwsss.utils.cam_ops import strided_size
from mmwsss.utils.fileio import DataFileError, load_cam, read_label_png
from ..utils import check_mask_values

__all__ = ['LoadMapFile']


@TRANSFORMS.register_module()
class LoadMapFile(BaseTransform):
    """Load ``<map_dir>/<img_id>.npz`` (or ``.png``) into the results.

    ``.npz`` map files (``keys`` + maps): the arrays named in ``fields`` are
    stored under the result keys they map to (default: ``hr_cam`` ->
    ``pred_cam``, ``keys`` -> ``cam_keys``), which ``PackWSSSInputs``
    packs. With ``suffix='.png'`` the label PNG is stored as
    ``pred_seg_map`` (values checked against the classes). A map whose
    size is not the image's (full-resolution maps) or its stride-4 size
    (``cam``) raises an error naming both files.

    Required keys: ``img_id`` (or ``img_path``), ``ori_shape`` (after an
    image loader; sizes are checked when present). Added keys: the targets
    of ``fields``, or ``pred_seg_map``.

    Args:
        map_dir (str): Folder of the map files.
        fields (dict, optional): File array -> result key. Defaults to
            ``{'hr_cam': 'pred_cam', 'keys': 'cam_keys'}``.
        suffix (str): ``'.npz'`` (map file) or ``'.png'`` (label map).
            Defaults to '.npz'.
        num_classes (int, optional): With ``'.png'``: C (background
            included) for the value check. Defaults to the number of
            ``keys`` classes of the dataset when absent (no check).
    """

    def __init__(self,
                 map_dir: str,
                 fields: Optional[Dict[str, str]] = None,
                 suffix: str = '.npz',
                 num_classes: Optional[int] = None) -> None:
        if suffix not in ('.npz', '.png'):
            raise ValueError(f"suffix must be '.npz' or '.png', got "
                             f'{suffix!r}.')
        self.map_dir = map_dir
        self.fields = dict(fields or {
            'hr_cam': 'pred_cam',
            'keys': 'cam_keys'
        })
        self.suffix = suffix
        self.num_classes = num_classes

    def _path(self, results: dict) -> str:
        img_id = results.get('img_id') or osp.splitext(
            osp.basename(results['img_path']))[0]
        return osp.join(self.map_dir, img_id + self.suffix)

    def transform(self, results: dict) -> dict:
        """Read the map file of ``results``."""
        path = self._path(results)
        size = results.get('ori_shape')
        size = tuple(size[:2]) if size is not None else None
        if self.suffix == '.png':
            label = read_label_png(path, 'label PNG')
            if size is not None and label.shape != size:
                raise DataFileError(
                    f'{path} is {label.shape} but the image '
                    f'{results.get("img_path")} is {size}: the file belongs '
                    f'to another image (wrong folder or split).', path)
            if self.num_classes is not None:
                check_mask_values(label, self.num_classes - 1, path)
            results['pred_seg_map'] = label
            return results
        arrays = load_cam(path, fields=tuple(self.fields))
        for name, key in self.fields.items():
            arr = arrays[name]
            if name != 'keys' and size is not None:
                want = size if name != 'cam' else strided_size(*size, 4)
                if tuple(arr.shape[1:]) != want:
                    raise DataFileError(
                        f'{path}: "{name}" has size {arr.shape[1:]} but the '
                        f'image {results.get("img_path")} needs {want}: the '
                        f'file belongs to another image (wrong folder or '
                        f'split); regenerate it.', path)
                arr = arr.astype(np.float32)
            results[key] = arr
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(map_dir={self.map_dir!r}, '
                f'fields={self.fields}, suffix={self.suffix!r})')
