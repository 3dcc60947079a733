"""The "container" random crop used by every official WSSS pipeline."""
from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

__all__ = ['RandomContainerCrop']


@TRANSFORMS.register_module()
class RandomContainerCrop(BaseTransform):
    """Crop to exactly ``crop_size``, placing small images in a canvas.

    Per axis: when the image is larger than the crop a random window is cut;
    when it is smaller, the whole image is placed at a random offset inside
    a canvas filled with ``img_pad_val`` (the mean colour, i.e. 0 after
    normalisation) and ``seg_pad_val`` (255) for masks.
    ``results['valid']`` (uint8, 1 on real pixels) is added so that it
    travels with the sample (``PackWSSSInputs`` packs it as ``gt_valid``).

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``, every key
    of ``seg_fields``. Added keys: ``valid``, ``crop_box``
    (y0, y1, x0, x1 of the real pixels inside the crop).

    Args:
        crop_size (int | tuple[int, int]): (h, w) of the output.
        img_pad_val (float | sequence): Canvas colour in the image's channel
            order. Defaults to the ImageNet mean in BGR (mmcv loads BGR).
        seg_pad_val (int): Canvas value of masks. Defaults to 255.
    """

    def __init__(self,
                 crop_size: Union[int, Tuple[int, int]],
                 img_pad_val: Union[float, Sequence[float]] = (103.53, 116.28,
                                                               123.675),
                 seg_pad_val: int = 255) -> None:
        super().__init__()
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        if min(crop_size) <= 0:
            raise ValueError(f'crop_size must be positive, got {crop_size}')
        self.crop_size = tuple(crop_size)
        self.img_pad_val = img_pad_val
        self.seg_pad_val = seg_pad_val

    @staticmethod
    def _axis(size: int, crop: int) -> Tuple[int, int, int]:
        """(src_start, dst_start, length) along one axis."""
        if size >= crop:
            return np.random.randint(0, size - crop + 1), 0, crop
        return 0, np.random.randint(0, crop - size + 1), size

    @cache_randomness
    def _offsets(self, h: int, w: int):
        return self._axis(h, self.crop_size[0]), self._axis(
            w, self.crop_size[1])

    def _place(self, arr: np.ndarray, pad_val, ys, xs) -> np.ndarray:
        (sy, dy, ly), (sx, dx, lx) = ys, xs
        out = np.empty(self.crop_size + arr.shape[2:], dtype=arr.dtype)
        out[...] = np.asarray(pad_val, dtype=arr.dtype) if np.ndim(
            pad_val) == 0 or arr.ndim == 3 else pad_val
        out[dy:dy + ly, dx:dx + lx] = arr[sy:sy + ly, sx:sx + lx]
        return out

    def transform(self, results: dict) -> dict:
        img = results['img']
        ys, xs = self._offsets(*img.shape[:2])
        results['img'] = self._place(img, self.img_pad_val, ys, xs)
        for key in results.get('seg_fields', []):
            results[key] = self._place(results[key], self.seg_pad_val, ys,
                                       xs)
        valid = self._place(
            np.ones(img.shape[:2], np.uint8), 0, ys, xs)
        if 'valid' in results:  # compose with an earlier valid mask
            valid &= self._place(results['valid'], 0, ys, xs)
        results['valid'] = valid
        results['crop_box'] = (ys[1], ys[1] + ys[2], xs[1], xs[1] + xs[2])
        results['img_shape'] = self.crop_size
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'img_pad_val={self.img_pad_val}, '
                f'seg_pad_val={self.seg_pad_val})')
