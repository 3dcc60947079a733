"""The network input as images: crop-valid masks and uint8 RGB for the
CPU refiners (dense CRF)."""
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmseg.utils import SampleList
from torch import Tensor, nn

__all__ = [
    'crop_valid_mask', 'downsample_mask', 'denormalize', 'images_u8',
    'restored_image_u8'
]

DENORM_ROUNDING = ('round', 'truncate')


def crop_valid_mask(inputs: Tensor, data_samples: SampleList) -> Tensor:
    """(B, H, W) bool crop-valid mask of the (padded) batch.

    ``gt_valid`` (packed by ``PackWSSSInputs`` after a container crop)
    where present, else the ``img_shape`` region; pixels the data
    preprocessor padded (bottom/right) are invalid.
    """
    B, _, H, W = inputs.shape
    valid = torch.zeros(B, H, W, dtype=torch.bool, device=inputs.device)
    for i, ds in enumerate(data_samples):
        if 'gt_valid' in ds:
            v = ds.gt_valid.data.to(inputs.device)
            v = v.reshape(v.shape[-2:]).bool()[:H, :W]
            valid[i, :v.shape[0], :v.shape[1]] = v
        else:
            h, w = ds.metainfo.get('img_shape', (H, W))[:2]
            valid[i, :h, :w] = True
    return valid


def downsample_mask(mask: Tensor, size: Sequence[int]) -> Tensor:
    """Nearest resampling of a (B, H, W) bool mask to ``size``."""
    size = tuple(int(s) for s in size)
    if tuple(mask.shape[-2:]) == size:
        return mask
    return F.interpolate(mask[:, None].float(), size=size,
                         mode='nearest')[:, 0] > 0.5


def denormalize(inputs: Tensor,
                data_preprocessor: Optional[nn.Module]) -> Tensor:
    """Undo the data preprocessor's normalisation: float32 (B, 3, H, W) in
    the 0-255 range of the loaded images (not clamped or rounded)."""
    x = inputs.float()
    dp = data_preprocessor
    if getattr(dp, '_enable_normalize', False):
        x = x * dp.std.view(1, -1, 1, 1) + dp.mean.view(1, -1, 1, 1)
    return x


def _to_u8(x: Tensor, rounding: str) -> Tensor:
    if rounding not in DENORM_ROUNDING:
        raise ValueError(f'rounding must be one of {DENORM_ROUNDING}, '
                         f'got {rounding!r}.')
    x = x.clamp(0, 255)
    return (x.round() if rounding == 'round' else x.trunc()).byte()


def images_u8(inputs: Tensor,
              data_preprocessor: Optional[nn.Module],
              rounding: str = 'round') -> np.ndarray:
    """The batch as uint8 RGB images (B, H, W, 3) (numpy, C-contiguous).

    Args:
        inputs (Tensor): Normalised (B, 3, H, W).
        data_preprocessor (nn.Module, optional): Its ``mean`` / ``std``.
        rounding (str): ``'round'`` restores an 8-bit image exactly;
            ``'truncate'`` is what the official ``Denormalize`` code does.

    Returns:
        np.ndarray: uint8 (B, H, W, 3).
    """
    x = _to_u8(denormalize(inputs, data_preprocessor), rounding)
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).cpu().numpy())


def restored_image_u8(inputs: Tensor,
                      data_sample,
                      index: int,
                      data_preprocessor: Optional[nn.Module],
                      rounding: str = 'round') -> np.ndarray:
    """uint8 RGB (H, W, 3) of input ``index``, restored like the logits in
    ``BaseSegmentor.postprocess_result`` (padding removed, flip undone,
    resized bilinearly to ``ori_shape``)."""
    x = denormalize(inputs[index:index + 1], data_preprocessor)
    meta = data_sample.metainfo
    if meta:
        H, W = x.shape[-2:]
        pad = meta.get('img_padding_size', meta.get('padding_size', None))
        left, right, top, bottom = pad if pad is not None else [0] * 4
        x = x[:, :, top:H - bottom, left:W - right]
        if meta.get('flip', False):
            dims = (3, ) if meta.get('flip_direction',
                                     'horizontal') == 'horizontal' else (2, )
            x = x.flip(dims=dims)
        if 'ori_shape' in meta and tuple(
                meta['ori_shape'][:2]) != tuple(x.shape[-2:]):
            x = F.interpolate(
                x,
                size=tuple(meta['ori_shape'][:2]),
                mode='bilinear',
                align_corners=False)
    img = _to_u8(x[0], rounding).permute(1, 2, 0)
    return np.ascontiguousarray(img.cpu().numpy())
