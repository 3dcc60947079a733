"""Rescale by a random factor of the image's own size."""
from typing import Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

__all__ = ['RandomRescale']


@TRANSFORMS.register_module()
class RandomRescale(BaseTransform):
    """Resize to ``int(h s) x int(w s)`` with ``s ~ U(ratio_range)`` drawn
    per image (the RRM / PSA scale augmentation; mmcv's ``RandomResize``
    scales a fixed target size instead of the image's own).

    The image uses ``interpolation`` (cv2 backend), the masks of
    ``seg_fields`` nearest. Modified keys: ``img``, ``img_shape``,
    ``scale_factor``, the ``seg_fields``.

    Args:
        ratio_range (Sequence[float]): ``(low, high)``, ``0 < low <=
            high``.
        interpolation (str): Image interpolation. Defaults to
            ``'bilinear'``.
    """

    def __init__(self,
                 ratio_range: Sequence[float] = (0.7, 1.3),
                 interpolation: str = 'bilinear') -> None:
        super().__init__()
        low, high = (float(r) for r in ratio_range)
        if not 0 < low <= high:
            raise ValueError('ratio_range must be (low, high) with 0 < low '
                             f'<= high, got {tuple(ratio_range)}')
        self.ratio_range = (low, high)
        self.interpolation = interpolation

    @cache_randomness
    def _ratio(self) -> float:
        return float(np.random.uniform(*self.ratio_range))

    def transform(self, results: dict) -> dict:
        """Rescale ``results`` in place and return it."""
        s = self._ratio()
        img = results['img']
        h, w = img.shape[:2]
        size = (max(1, int(w * s)), max(1, int(h * s)))  # (w, h) for mmcv
        results['img'] = mmcv.imresize(
            img, size, interpolation=self.interpolation, backend='cv2')
        for key in results.get('seg_fields', []):
            results[key] = mmcv.imresize(
                results[key], size, interpolation='nearest', backend='cv2')
        results['img_shape'] = results['img'].shape[:2]
        results['scale_factor'] = (size[0] / w, size[1] / h)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ratio_range={self.ratio_range}, '
                f'interpolation={self.interpolation!r})')
