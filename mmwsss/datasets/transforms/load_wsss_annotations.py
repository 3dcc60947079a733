"""Mask loading that names the file and checks the mask values."""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from mmwsss.utils.fileio import MissingFileError
from ..utils import DataFileError, check_mask_values

__all__ = ['LoadWSSSAnnotations']


@TRANSFORMS.register_module()
class LoadWSSSAnnotations(LoadAnnotations):
    """MMSeg ``LoadAnnotations`` with checks and errors naming the mask.

    Raises :class:`FileNotFoundError` / :class:`DataFileError` whose
    message contains ``seg_map_path`` when the mask is missing, cannot be
    decoded, is not a single-channel label map, does not match the image
    size (``check_shape``), or holds values outside ``{0..K, ignore_index}``
    (``check_values``). K is ``num_classes`` when given, else the length of
    ``results['img_labels']``; without either the value check is skipped.
    Masks are decoded with Pillow by default, which keeps the indices of
    palette PNGs (VOC ``SegmentationClass``).

    Args:
        check_values (bool): Check the raw mask values. Defaults to True.
        num_classes (int, optional): Number of foreground classes K.
            Defaults to None (taken from ``img_labels``).
        check_shape (bool): Check that the mask has the image size
            (``ori_shape``, when an image was loaded before). Defaults to
            True.
        ignore_index (int): The ignore value. Defaults to 255.
        reduce_zero_label (bool, optional): See mmseg ``LoadAnnotations``.
        backend_args (dict, optional): File backend arguments.
        imdecode_backend (str): Decoder backend. Defaults to 'pillow'.
    """

    def __init__(self,
                 check_values: bool = True,
                 num_classes: Optional[int] = None,
                 check_shape: bool = True,
                 ignore_index: int = 255,
                 reduce_zero_label: Optional[bool] = None,
                 backend_args: Optional[dict] = None,
                 imdecode_backend: str = 'pillow') -> None:
        super().__init__(
            reduce_zero_label=reduce_zero_label,
            backend_args=backend_args,
            imdecode_backend=imdecode_backend)
        self.check_values = check_values
        self.num_classes = num_classes
        self.check_shape = check_shape
        self.ignore_index = ignore_index

    def _read(self, path: Optional[str]) -> np.ndarray:
        if path is None:
            raise DataFileError(
                'seg_map_path is None: this sample has no mask (dataset '
                'built with with_masks=False). Remove LoadWSSSAnnotations '
                'from the pipeline or build the dataset with masks.')
        try:
            if self.file_client_args is not None:
                client = fileio.FileClient.infer_client(
                    self.file_client_args, path)
                img_bytes = client.get(path)
            else:
                img_bytes = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise MissingFileError(
                f'Mask file not found: {path}. Restore it, or build the '
                f'dataset with with_masks=False if this split has no '
                f'masks.') from e
        error: Optional[Exception] = None
        mask = None
        if img_bytes:
            try:
                mask = mmcv.imfrombytes(
                    img_bytes, flag='unchanged', backend=self.imdecode_backend)
            except Exception as e:  # decoders raise many error types
                error = e
        if mask is None or mask.size == 0:
            reason = 'empty file' if not img_bytes else (
                f'{type(error).__name__}: {error}'
                if error is not None else 'decoder returned nothing')
            raise DataFileError(
                f'Cannot decode mask {path} ({reason}). The file is corrupt '
                f'or not a PNG: regenerate or replace it.') from error
        mask = mask.squeeze()
        if mask.ndim != 2:
            raise DataFileError(
                f'Mask {path} has shape {mask.shape}; masks must be '
                f'single-channel label maps (0 background, 1..K classes, '
                f'{self.ignore_index} ignore). Convert colour masks to class '
                f'indices.')
        return mask

    def _load_seg_map(self, results: dict) -> None:
        """Load, check and (optionally) remap the mask of ``results``."""
        path = results.get('seg_map_path')
        raw = self._read(path)
        if self.check_shape and 'ori_shape' in results and tuple(
                results['ori_shape'][:2]) != raw.shape:
            raise DataFileError(
                f'Mask {path} has size {raw.shape} but the image '
                f'{results.get("img_path")} has size '
                f'{tuple(results["ori_shape"][:2])}; masks must be pixel-'
                f'aligned with their images.')
        if self.check_values:
            num_classes = self.num_classes
            if num_classes is None and results.get('img_labels') is not None:
                num_classes = len(results['img_labels'])
            if num_classes is not None:
                check_mask_values(raw, num_classes, path, self.ignore_index)
        gt = raw.astype(np.uint8)

        if self.reduce_zero_label is None:
            self.reduce_zero_label = results.get('reduce_zero_label', False)
        if self.reduce_zero_label != results.get('reduce_zero_label', False):
            raise ValueError(
                'Dataset built with reduce_zero_label='
                f'{results.get("reduce_zero_label")} but the loader uses '
                f'{self.reduce_zero_label}; use the same value.')
        if self.reduce_zero_label:
            gt[gt == 0] = 255
            gt = gt - 1
            gt[gt == 254] = 255
        if results.get('label_map', None) is not None:
            copy = gt.copy()
            for old_id, new_id in results['label_map'].items():
                gt[copy == old_id] = new_id
        results['gt_seg_map'] = gt
        results.setdefault('seg_fields', []).append('gt_seg_map')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(check_values={self.check_values}, '
                f'num_classes={self.num_classes}, '
                f'check_shape={self.check_shape}, '
                f'ignore_index={self.ignore_index}, '
                f"imdecode_backend='{self.imdecode_backend}')")
