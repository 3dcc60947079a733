# Copyright (c) mmwsss contributors. All rights reserved.
"""Dense energy loss L_energy of RRM (exact Gaussian kernel)."""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from mmwsss.models.utils.gaussian_filter import (FILTER_BACKENDS, KEOPS_HINT,
                                                 bilateral_gaussian_filter,
                                                 keops_available)
from mmwsss.utils.checks import check_choices

__all__ = ['DenseEnergyLoss', 'dense_energy_loss', 'energy_grid_size']

NORMALIZE_MODES = ('z', 'none')
GRAD_MODES = ('autograd', 'official')
#: loss weight per ``normalize`` when none is given
DEFAULT_WEIGHTS = {'z': 2.0, 'none': 5.8e-8}


def energy_grid_size(height: int, width: int, scale: float) -> Tuple[int, int]:
    """The grid of the energy, ``round(H * scale) x round(W * scale)``
    (halves rounded up: a 321 crop at 0.5 gives 161 x 161, at least 1)."""
    return (max(1, int(math.floor(height * scale + 0.5))),
            max(1, int(math.floor(width * scale + 0.5))))


class _ShortcutGrad(torch.autograd.Function):
    """Returns ``value`` and sends ``grad_x * grad_output`` to ``x`` (the
    ``grad_mode='official'`` gradient, in place of the true one)."""

    @staticmethod
    def forward(ctx, value: Tensor, x: Tensor, grad_x: Tensor) -> Tensor:
        ctx.save_for_backward(grad_x)
        return value.detach().clone()

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        grad_x, = ctx.saved_tensors
        return None, grad_out * grad_x, None


def _as_bhw(x: Tensor, name: str, shape: Tuple[int, int, int]) -> Tensor:
    """``x`` as (B, H, W) (a (B, 1, H, W) input is squeezed)."""
    if x.dim() == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f'{name} {tuple(x.shape)} must be (B, H, W) = '
                         f'{tuple(shape)} (the image size)')
    return x


def _nearest(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """Nearest resampling of (B, C, H, W) (a no-op at the same size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='nearest')


def dense_energy_loss(probs: Tensor,
                      image: Tensor,
                      roi: Optional[Tensor] = None,
                      label: Optional[Tensor] = None,
                      normalize: str = 'z',
                      include_self: Optional[bool] = None,
                      grad_mode: str = 'autograd',
                      energy_scale: float = 0.5,
                      sigma_xy: float = 100.0,
                      sigma_rgb: float = 15.0,
                      ignore_index: int = 255,
                      chunk: Optional[int] = None,
                      backend: str = 'torch') -> Tensor:
    """Unweighted dense energy of RRM (paper eqs. 10-14).

    Everything is resampled to the :func:`energy_grid_size` grid of
    ``energy_scale`` (image, ROI and label nearest, P bilinear with
    ``align_corners=False``); there ``σ_xy = sigma_xy * energy_scale``,
    σ_rgb stays on the 0-255 scale and G is the exact Gaussian kernel
    (:func:`~mmwsss.models.utils.bilateral_gaussian_filter`)::

        Gate(i) = max(0, ROI(i) - max_c P_c(i))  labelled i,
                  1                              label(i) == ignore_index
        (no gradient), Ω = {ROI > 0}

    - ``normalize='z'`` (the recommended normalised form, values in
      [0, 1])::

          Z_i = Σ_{j∈Ω, j≠i} G_ij,  Ĝ = G / Z
          L = (1/B) Σ_b (1/|Ω_b|) Σ_{i∈Ω_b} Gate(i)·[1 - Σ_c P_c(i)
              Σ_{j∈Ω, j≠i} Ĝ_ij P_c(j)]

      A pixel with ``Z_i = 0`` (no neighbour in Ω, or float32 underflow
      of all its kernel values) has no pairs and adds 0; an image with an
      empty Ω adds 0.
    - ``normalize='none'`` (the official scale, raw values about
      -1e6...-1e7)::

          Ŝ_c = P_c ⊙ ROI,
          E_off = -(1/B) Σ_b Σ_c Σ_i Gate(i)·Ŝ_c(i)·[G Ŝ_c](i)

    ``include_self`` (None: False for ``'z'``, True for ``'none'``) keeps
    the j = i terms (including ``G_ii = 1`` in Z).

    ``grad_mode='autograd'``: the true gradient, through the i and the j
    side. ``'official'``: the value is the same, but the gradient w.r.t.
    the resampled P is replaced by the official shortcut (computed without
    building a graph through the filter, and handed on by a custom
    autograd function): ``-2·Gate(i)·[Ĝ P_c](i) / (B |Ω_b|)`` for ``'z'``
    and ``-2·Gate(i)·[G Ŝ_c](i) / B`` for ``'none'``, masked by the ROI.
    It drops ``Ĝᵀ(Gate ⊙ P)`` in favour of ``Gate ⊙ Ĝ P``; this is exact
    only with ``'none'`` and Gate ≡ 1 (G symmetric).

    Args:
        probs (Tensor): (B, C, h, w) softmax probabilities P of the
            segmentation output (any size; resampled bilinearly).
        image (Tensor): (B, 3, H, W) RGB, 0-255 floats (no gradient).
        roi (Tensor, optional): (B, H, W) or (B, 1, H, W) crop-valid mask
            (nonzero = valid). None: all valid.
        label (Tensor, optional): (B, H, W) or (B, 1, H, W) labels,
            ``ignore_index`` = unlabelled. None: all unlabelled (Gate 1).
        normalize (str): ``'z'`` (default) or ``'none'``.
        include_self (bool, optional): See above.
        grad_mode (str): ``'autograd'`` (default) or ``'official'``.
        energy_scale (float): Grid scale. Defaults to 0.5.
        sigma_xy (float): Spatial σ at full resolution (multiplied by
            ``energy_scale``). Defaults to 100.
        sigma_rgb (float): Colour σ. Defaults to 15.
        ignore_index (int): Unlabelled value. Defaults to 255.
        chunk (int, optional): Rows per kernel tile of the filter (None:
            tiles of the device's TILE_BYTES: ~200 MB on GPUs, 16 MiB
            on CPUs).
        backend (str): ``'torch'`` (default) or ``'keops'``.

    Returns:
        Tensor: Scalar (float32; float64 for float64 ``probs``).
    """
    check_choices(
        normalize=(normalize, NORMALIZE_MODES),
        grad_mode=(grad_mode, GRAD_MODES),
        backend=(backend, FILTER_BACKENDS))
    if probs.dim() != 4 or image.dim() != 4 or image.shape[1] != 3 or \
            probs.shape[0] != image.shape[0]:
        raise ValueError(f'probs {tuple(probs.shape)} and image '
                         f'{tuple(image.shape)} must be (B, C, h, w) and '
                         '(B, 3, H, W) with the same B')
    if include_self is None:
        include_self = normalize == 'none'
    b, _, h_img, w_img = image.shape
    size = energy_grid_size(h_img, w_img, energy_scale)
    dtype = torch.promote_types(probs.dtype, torch.float32)
    device = probs.device

    p = probs.to(dtype)
    if tuple(p.shape[-2:]) != size:
        p = F.interpolate(p, size=size, mode='bilinear', align_corners=False)
    img = _nearest(image.detach().to(device=device, dtype=dtype), size)
    if roi is None:
        roi_s = p.new_ones((b, ) + size)
    else:
        roi = _as_bhw(roi.detach(), 'roi', (b, h_img, w_img))
        roi_s = _nearest((roi != 0).to(device=device, dtype=dtype)[:, None],
                         size)[:, 0]
    with torch.no_grad():
        gate = (roi_s - p.max(dim=1).values).clamp(min=0)
        if label is not None:
            label = _as_bhw(label.detach(), 'label', (b, h_img, w_img))
            lab = _nearest(
                label.to(device=device, dtype=dtype)[:, None], size)[:, 0]
            gate = torch.where(lab == ignore_index, torch.ones_like(gate),
                               gate)
        else:
            gate = torch.ones_like(gate)

    sigma = float(sigma_xy) * float(energy_scale)
    official = grad_mode == 'official'

    def filt(values: Tensor) -> Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not official):
            return bilateral_gaussian_filter(
                values,
                img,
                sigma,
                sigma_rgb,
                roi=roi_s,
                include_self=include_self,
                chunk=chunk,
                backend=backend)

    if normalize == 'z':
        out = filt(torch.cat([roi_s[:, None], p], dim=1))
        z = out[:, 0].detach()
        has_pairs = z > torch.finfo(dtype).tiny
        z_safe = torch.where(has_pairs, z, torch.ones_like(z))
        n_omega = roi_s.flatten(1).sum(dim=1).clamp(min=1)
        coef = gate * roi_s * has_pairs.to(dtype) / (
            b * n_omega[:, None, None])
        q = (p * out[:, 1:]).sum(dim=1) / z_safe
        value = (coef * (1 - q)).sum()
        if official:
            grad_p = -2 * coef[:, None] * out[:, 1:] / z_safe[:, None]
    else:
        s_hat = p * roi_s[:, None]
        out = filt(s_hat)
        value = -(gate[:, None] * s_hat * out).sum() / b
        if official:
            grad_p = (-2 / b) * (gate * roi_s)[:, None] * out
    if official:
        value = _ShortcutGrad.apply(value, p, grad_p)
    return value


@MODELS.register_module()
class DenseEnergyLoss(nn.Module):
    """RRM's dense energy loss L_energy (paper eqs. 10-14).

    ``loss_weight * dense_energy_loss(softmax(seg_logits), image, roi,
    label)``, see :func:`dense_energy_loss` for the two formulations and
    the gradient modes. The Gaussian kernel is exact (chunked, never
    N x N) instead of the official permutohedral lattice, which gives
    about 0.58 x the exact sum (hence the 5.8e-8 = 0.58 x 1e-7 weight of
    ``normalize='none'``).

    Called from an mmseg decode head (``loss_decode``), it gets the logits
    upsampled to the label size and the label; the image and the ROI come
    from the data samples that :func:`~mmwsss.models.utils.
    losses_see_samples` hands to it (``uses_data_samples``): ``gt_rgb``
    (float 0-255 RGB crop) and ``gt_valid`` (crop-valid mask; missing =
    all valid). They can also be passed directly (``img``, ``roi``).

    Args:
        normalize (str): ``'z'`` (default, the recommended normalised form)
            or ``'none'`` (official scale).
        loss_weight (float, optional): ``w_n`` / the official weight; None
            gives 2.0 for ``'z'`` and 5.8e-8 for ``'none'``.
        energy_scale (float): Grid scale of the energy. Defaults to 0.5.
        sigma_xy (float): Spatial σ at full resolution (x energy_scale on
            the grid). Defaults to 100.
        sigma_rgb (float): Colour σ (0-255 RGB). Defaults to 15.
        include_self (bool, optional): Keep the j = i terms; None: False
            for ``'z'``, True for ``'none'``.
        grad_mode (str): ``'autograd'`` (default, true gradient) or
            ``'official'`` (the official -2·Gate·ĜP shortcut).
        backend (str): ``'torch'`` (default, CPU / CUDA) or ``'keops'``
            (needs ``pykeops``).
        use_softmax (bool): The first input is logits (softmax applied
            here, as an mmseg decode head passes them). False: it is
            already the probabilities P. Defaults to True.
        chunk (int, optional): Rows per kernel tile (None: ~200 MB tiles
            on GPUs, 16 MiB on CPUs).
        ignore_index (int): Unlabelled value when the caller gives none.
            Defaults to 255.
        loss_name (str): Key in the loss dict. Defaults to
            ``'loss_energy'``.
    """

    #: gets the data samples of the call (``losses_see_samples``)
    uses_data_samples = True

    def __init__(self,
                 normalize: str = 'z',
                 loss_weight: Optional[float] = None,
                 energy_scale: float = 0.5,
                 sigma_xy: float = 100.0,
                 sigma_rgb: float = 15.0,
                 include_self: Optional[bool] = None,
                 grad_mode: str = 'autograd',
                 backend: str = 'torch',
                 use_softmax: bool = True,
                 chunk: Optional[int] = None,
                 ignore_index: int = 255,
                 loss_name: str = 'loss_energy') -> None:
        super().__init__()
        check_choices(
            normalize=(normalize, NORMALIZE_MODES),
            grad_mode=(grad_mode, GRAD_MODES),
            backend=(backend, FILTER_BACKENDS),
            include_self=(include_self, (None, True, False)))
        for key, val in (('energy_scale', energy_scale),
                         ('sigma_xy', sigma_xy), ('sigma_rgb', sigma_rgb)):
            if not val > 0:
                raise ValueError(f'{key} must be > 0, got {val!r}.')
        if chunk is not None and (not isinstance(chunk, int) or chunk < 1):
            raise ValueError(f'chunk must be None or an int >= 1, got '
                             f'{chunk!r}.')
        if backend == 'keops' and not keops_available():
            raise ImportError(KEOPS_HINT)
        self.normalize = normalize
        self.loss_weight = float(DEFAULT_WEIGHTS[normalize] if loss_weight is
                                 None else loss_weight)
        self.energy_scale = float(energy_scale)
        self.sigma_xy = float(sigma_xy)
        self.sigma_rgb = float(sigma_rgb)
        self.include_self = (
            normalize == 'none' if include_self is None else include_self)
        self.grad_mode = grad_mode
        self.backend = backend
        self.use_softmax = bool(use_softmax)
        self.chunk = chunk
        self.ignore_index = int(ignore_index)
        self._loss_name = loss_name
        self.data_samples = None

    def _from_samples(self, field: str) -> Optional[Tensor]:
        """``data_sample.<field>.data`` stacked over the handed samples;
        None without samples or when a sample lacks it."""
        samples = self.data_samples
        if not samples or any(field not in ds for ds in samples):
            return None
        return torch.stack([getattr(ds, field).data for ds in samples])

    def forward(self,
                seg_logits: Tensor,
                seg_label: Optional[Tensor] = None,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = None,
                img: Optional[Tensor] = None,
                roi: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        """Weighted L_energy.

        Args:
            seg_logits (Tensor): (B, C, h, w) segmentation logits (the
                upsampled output), or the probabilities P with
                ``use_softmax=False``.
            seg_label (Tensor, optional): (B, H, W) labels (ignore =
                unlabelled). None: all unlabelled.
            weight (Tensor, optional): Pixel weights: not supported, must
                be None.
            ignore_index (int, optional): Overrides ``self.ignore_index``.
            img (Tensor, optional): (B, 3, H, W) RGB 0-255; None takes the
                data samples' ``gt_rgb``.
            roi (Tensor, optional): (B, H, W) crop-valid mask; None takes
                the data samples' ``gt_valid`` (all valid without it).

        Returns:
            Tensor: Scalar loss.
        """
        if weight is not None:
            raise ValueError('DenseEnergyLoss takes no pixel weight '
                             '(weight must be None)')
        if img is None:
            img = self._from_samples('gt_rgb')
            if img is None:
                raise ValueError(
                    'DenseEnergyLoss needs the RGB image: pass img= or run '
                    'the head loss inside losses_see_samples with data '
                    'samples carrying gt_rgb')
        if roi is None:
            roi = self._from_samples('gt_valid')
        probs = seg_logits.float().softmax(dim=1) if self.use_softmax \
            else seg_logits
        return self.loss_weight * dense_energy_loss(
            probs,
            img.to(seg_logits.device),
            roi=None if roi is None else roi.to(seg_logits.device),
            label=seg_label,
            normalize=self.normalize,
            include_self=self.include_self,
            grad_mode=self.grad_mode,
            energy_scale=self.energy_scale,
            sigma_xy=self.sigma_xy,
            sigma_rgb=self.sigma_rgb,
            ignore_index=self.ignore_index
            if ignore_index is None else ignore_index,
            chunk=self.chunk,
            backend=self.backend)

    @property
    def loss_name(self) -> str:
        """Loss name, used as the key of the log dict."""
        return self._loss_name

    def extra_repr(self) -> str:
        return (f'normalize={self.normalize!r}, loss_weight='
                f'{self.loss_weight}, include_self={self.include_self}, '
                f'grad_mode={self.grad_mode!r}, backend={self.backend!r}, '
                f'energy_scale={self.energy_scale}')
