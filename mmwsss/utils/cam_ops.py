# Copyright (c) mmwsss contributors. All rights reserved.
"""The CAM formulas every part of mmwsss shares (one place each).

- sizes: :func:`strided_size` (``⌈H/s⌉``), :func:`scaled_size` (test
  scales), :func:`hr_cam_size` (the padded high-resolution grid);
- :func:`normalise_cam`: per-class max normalisation
  ``relu(x) / (max_{h,w} relu(x) + eps)``;
- :func:`cam_keys`: ``[0] + [c + 1 for c in present]``, the class ids of
  the maps of a CAM file (channel 0 is the background);
- :func:`label_from_maps`: ``keys[argmax(concat([t], maps))]``, the label
  map for a constant background score ``t`` (ties go to the background);
- :func:`bg_gamma_threshold`: the constant ``t`` equivalent to the RS+EPM
  background ``(1 - max_c m_c) ** gamma``.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'strided_size', 'scaled_size', 'hr_cam_size', 'normalise_cam', 'cam_keys',
    'with_background', 'label_from_maps', 'bg_gamma_threshold', 'check_scales'
]


def strided_size(h: int, w: int, stride: int) -> Tuple[int, int]:
    """Size of an ``h x w`` map at ``stride``: ``(⌊(h-1)/s⌋+1, ⌊(w-1)/s⌋+1)``
    = ``(⌈h/s⌉, ⌈w/s⌉)``."""
    return (h - 1) // stride + 1, (w - 1) // stride + 1


def hr_cam_size(h: int, w: int, stride: int = 16) -> Tuple[int, int]:
    """The grid a CAM is upsampled to before cropping to ``h x w``:
    ``(s⌈h/s⌉, s⌈w/s⌉)`` (stride 16: the official high-resolution CAM)."""
    hs, ws = strided_size(h, w, stride)
    return stride * hs, stride * ws


def scaled_size(h: int,
                w: int,
                scale: float,
                rounding: str = 'round') -> Tuple[int, int]:
    """Image size at a test scale, at least 1 pixel.

    Args:
        h (int): Height.
        w (int): Width.
        scale (float): Scale factor.
        rounding (str): ``'round'`` (Python ``round``, Puzzle-CAM) or
            ``'int'`` (truncation, RS+EPM). Defaults to 'round'.

    Returns:
        tuple[int, int]: ``(h_s, w_s)``.
    """
    if rounding == 'round':
        hs, ws = round(h * scale), round(w * scale)
    elif rounding == 'int':
        hs, ws = int(h * scale), int(w * scale)
    else:
        raise ValueError(f"size_rounding must be 'round' or 'int', got "
                         f'{rounding!r}.')
    return max(int(hs), 1), max(int(ws), 1)


def normalise_cam(cam: Tensor, eps: float = 1e-5) -> Tensor:
    """Per-class max normalisation ``relu(x) / (max_{h,w} relu(x) + eps)``.

    Args:
        cam (Tensor): ``(..., h, w)`` maps (dtype kept).
        eps (float): Defaults to 1e-5.

    Returns:
        Tensor: Same shape, values in ``[0, 1)``.
    """
    x = F.relu(cam)
    if x.numel() == 0:
        return x
    return x / (x.flatten(-2).amax(dim=-1)[..., None, None] + eps)


def cam_keys(present: Tensor) -> Tensor:
    """Class ids of the maps of the present classes: ``[0] + [c + 1]``.

    Args:
        present (Tensor): ``(K,)`` bool multi-hot, or 1-D int64 0-based
            foreground indices.

    Returns:
        Tensor: int64 ``(|P| + 1,)`` on ``present``'s device.
    """
    idx = present.nonzero(as_tuple=True)[0] \
        if present.dtype == torch.bool else present.long()
    return torch.cat([idx.new_zeros(1), idx + 1]).to(torch.int64)


def with_background(maps: Tensor, bg: float) -> Tensor:
    """``concat([bg], maps)``: the maps of the present classes under a
    constant background score (the background is index 0).

    Args:
        maps (Tensor): ``(|P|, H, W)`` normalised maps.
        bg (float): Background score.

    Returns:
        Tensor: ``(|P| + 1, H, W)``, ``maps``' dtype and device.
    """
    return torch.cat([maps.new_full((1, ) + maps.shape[1:], float(bg)), maps])


def label_from_maps(maps: Tensor, keys: Optional[Tensor], bg: float) -> Tensor:
    """``keys[argmax(concat([bg], maps))]``: the label of every pixel for a
    constant background score (ties go to the background).

    Args:
        maps (Tensor): ``(|P|, H, W)`` normalised maps (compared in fp32).
        keys (Tensor, optional): int64 ``(|P| + 1,)`` class ids (see
            :func:`cam_keys`); None returns the compact index (0 =
            background, ``i`` = ``maps[i - 1]``).
        bg (float): Background score.

    Returns:
        Tensor: int64 ``(H, W)``.
    """
    maps = maps.float()
    if maps.ndim != 3 or (keys is not None
                          and maps.shape[0] + 1 != keys.numel()):
        raise ValueError(f'maps (|P|, H, W) and keys (|P| + 1,) do not '
                         f'match: {tuple(maps.shape)} vs '
                         f'{None if keys is None else tuple(keys.shape)}.')
    idx = with_background(maps, bg).argmax(0)
    return idx if keys is None else keys.to(maps.device).long()[idx]


def bg_gamma_threshold(bg_gamma: float = 2.0, tol: float = 1e-12) -> float:
    """Constant background threshold equivalent to ``bg = (1 - m) **
    bg_gamma``.

    ``argmax([(1 - m) ** g, seeds])`` picks a foreground class exactly when
    ``m = max seeds > (1 - m) ** g``; the left side increases and the right
    side decreases with ``m``, so this is ``m > t*`` with the unique root
    ``t* = (1 - t*) ** g`` in (0, 1) (0.381966 = (3 - √5) / 2 for g = 2).

    Args:
        bg_gamma (float): Exponent (> 0). Defaults to 2.0.
        tol (float): Bisection tolerance. Defaults to 1e-12.

    Returns:
        float: ``t*``.
    """
    if bg_gamma <= 0:
        raise ValueError(f'bg_gamma must be > 0, got {bg_gamma}.')
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if mid > (1 - mid)**bg_gamma:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def check_scales(scales: Sequence[float]) -> None:
    """Raise unless ``scales`` is a non-empty list of positive numbers."""
    if len(scales) == 0 or any(float(s) <= 0 for s in scales):
        raise ValueError(f'scales must be a non-empty list of numbers > 0, '
                         f'got {list(scales)}.')
