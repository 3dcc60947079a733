"""Packing of WSSS samples: image labels and the crop-valid mask."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import to_tensor
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

__all__ = ['PackWSSSInputs', 'MAP_KEYS']

#: Map fields packed as :class:`PixelData` ``(C, h, w)`` when present.
MAP_KEYS = ('pred_cam', 'pred_cam_s4', 'pred_rw')


@TRANSFORMS.register_module()
class PackWSSSInputs(PackSegInputs):
    """MMSeg ``PackSegInputs`` plus image-level labels and the valid mask.

    On top of what :class:`mmseg.datasets.transforms.PackSegInputs` packs:

    - ``results['img_labels']`` (``np.ndarray`` float32 ``(K,)``, multi-hot
      over the foreground classes, channel ``c`` = mask class ``c + 1``)
      becomes ``data_sample.gt_img_labels``, a float32 tensor ``(K,)``. It is
      a *data* field of the :class:`SegDataSample`, so
      ``SegDataPreProcessor`` moves it to the model device with the batch.
    - ``results['valid']`` (uint8 ``(H, W)``, 1 on real image pixels, 0 on
      crop padding) becomes ``data_sample.gt_valid`` (:class:`PixelData`
      with ``data`` uint8 ``(1, H, W)``). ``SegDataPreProcessor`` pads only
      ``gt_sem_seg``; when it pads a batch to a larger size, consumers must
      treat the missing bottom/right part of ``gt_valid`` as 0.
    - ``img_id`` is kept in the metainfo (added to the default ``meta_keys``).
    - Saved predictions read by ``LoadMapFile``: the maps ``pred_cam``,
      ``pred_cam_s4``, ``pred_rw`` (``(C, h, w)`` arrays) become
      :class:`PixelData` fields, ``cam_keys`` an int64 tensor, and a label
      map ``pred_seg_map`` (``(H, W)``) becomes ``pred_sem_seg``.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo of the data
            sample. Defaults to mmseg's keys plus ``'img_id'``.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('img_path', 'seg_map_path', 'ori_shape',
                                    'img_shape', 'pad_shape', 'scale_factor',
                                    'flip', 'flip_direction',
                                    'reduce_zero_label', 'img_id')
    ) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack image, masks, image labels and valid mask.

        Args:
            results (dict): Result dict from the data pipeline.

        Returns:
            dict: ``inputs`` (``torch.Tensor`` (C, H, W)) and
            ``data_samples`` (:class:`SegDataSample`).
        """
        packed = super().transform(results)
        data_sample = packed['data_samples']
        if results.get('img_labels') is not None:
            labels = np.asarray(results['img_labels'], dtype=np.float32)
            if labels.ndim != 1:
                raise ValueError(
                    f'img_labels of {results.get("img_path")} must be a 1-D '
                    f'multi-hot vector (K,), got shape {labels.shape}.')
            data_sample.set_data(
                dict(gt_img_labels=torch.from_numpy(labels.copy())))
        if results.get('valid') is not None:
            valid = np.asarray(results['valid'])
            if valid.ndim != 2:
                raise ValueError(
                    f'valid mask of {results.get("img_path")} must be '
                    f'(H, W), got shape {valid.shape}.')
            data = to_tensor(
                np.ascontiguousarray(valid[None].astype(np.uint8)))
            data_sample.set_data(dict(gt_valid=PixelData(data=data)))
        for key in MAP_KEYS:  # maps read from files (LoadMapFile)
            if results.get(key) is not None:
                data_sample.set_data({
                    key:
                    PixelData(
                        data=torch.from_numpy(
                            np.ascontiguousarray(results[key])))
                })
        if results.get('cam_keys') is not None:
            data_sample.set_data(
                dict(
                    cam_keys=torch.from_numpy(
                        np.asarray(results['cam_keys'], np.int64))))
        if results.get('pred_seg_map') is not None:
            data = to_tensor(
                np.ascontiguousarray(
                    np.asarray(results['pred_seg_map'])[None].astype(
                        np.int64)))
            data_sample.set_data(dict(pred_sem_seg=PixelData(data=data)))
        return packed
