# Copyright (c) mmwsss contributors. All rights reserved.
"""Exact bilateral Gaussian filter in row chunks (RRM dense energy loss).

``[G v](i) = Σ_j exp(-‖xy_i - xy_j‖² / (2 σ_xy²) - ‖rgb_i - rgb_j‖² /
(2 σ_rgb²)) · v_j`` over every pixel pair of an image, computed exactly
(no lattice / downsampling approximation) without ever allocating the
N x N kernel: the rows are processed in chunks, one ``B x chunk x N`` kernel
tile at a time (squared 5-D distances by one small matmul, ``exp``, then a
matmul with the ``N x K`` value matrix). Runs on CPU and CUDA tensors; the
gradient w.r.t. the values reuses the same (symmetric) filter.
"""
import contextlib
import math
from typing import Iterator, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.utils.checks import check_choices

__all__ = [
    'FILTER_BACKENDS', 'TILE_BYTES', 'auto_chunk', 'bilateral_features',
    'bilateral_gaussian_filter', 'keops_available'
]

FILTER_BACKENDS = ('torch', 'keops')

#: Default size of one kernel tile (``B x chunk x N`` values) per device
#: type: ~200 MB on GPUs; 16 MiB on CPUs, where tiles that stay in the
#: caches are about 2x faster (other device types use the ``'cuda'`` one).
TILE_BYTES = {'cuda': 200 * 2**20, 'cpu': 16 * 2**20}

#: kernel values below ``exp(_CUTOFF_SCALE * log(finfo.tiny))`` (about
#: 3e-27 in float32, a pair more than ~11 σ apart) count as 0
_CUTOFF_SCALE = 0.7

KEOPS_HINT = ("backend='keops' needs the pykeops package "
              '(pip install pykeops); use the default backend=\'torch\'')


def keops_available() -> bool:
    """Whether ``pykeops.torch`` imports (for ``backend='keops'``)."""
    try:
        import pykeops.torch  # noqa: F401
    except Exception:  # ImportError or a broken install
        return False
    return True


def auto_chunk(batch: int,
               num_pixels: int,
               element_size: int = 4,
               device: Union[str, torch.device] = 'cuda',
               tile_bytes: Optional[int] = None) -> int:
    """Rows per chunk so that a ``batch x chunk x num_pixels`` tile takes at
    most ``tile_bytes`` (at least one row).

    Args:
        batch (int): Images filtered together (B).
        num_pixels (int): Pixels per image (N).
        element_size (int): Bytes per kernel value (4 for float32).
        device (str | torch.device): Where the tile lives (picks the
            :data:`TILE_BYTES` budget). Defaults to ``'cuda'``.
        tile_bytes (int, optional): Budget of one tile; overrides the
            device default.

    Returns:
        int: Rows per chunk, in [1, num_pixels].
    """
    if tile_bytes is None:
        kind = torch.device(device).type
        tile_bytes = TILE_BYTES.get(kind, TILE_BYTES['cuda'])
    rows = tile_bytes // max(1, batch * num_pixels * element_size)
    return int(min(max(1, num_pixels), max(1, rows)))


def bilateral_features(image: Tensor, sigma_xy: float,
                       sigma_rgb: float) -> Tensor:
    """Per-pixel 5-D features ``(x / σ_xy, y / σ_xy, rgb / σ_rgb)``, so that
    ``G_ij = exp(-‖f_i - f_j‖² / 2)``.

    The features are centred per image (the mean over its pixels is
    subtracted, which leaves every distance unchanged) to keep the float32
    expansion ``‖f_i‖² + ‖f_j‖² - 2 f_i·f_j`` accurate.

    Args:
        image (Tensor): (B, 3, H, W) RGB, 0-255 floats.
        sigma_xy (float): Spatial standard deviation, in pixels of this grid.
        sigma_rgb (float): Colour standard deviation, in RGB units.

    Returns:
        Tensor: (B, H * W, 5) float features (row-major pixel order; x is
        the column index, y the row index).
    """
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f'image {tuple(image.shape)} must be (B, 3, H, W)')
    b, _, h, w = image.shape
    dtype = torch.promote_types(image.dtype, torch.float32)
    ys, xs = torch.meshgrid(
        torch.arange(h, device=image.device, dtype=dtype),
        torch.arange(w, device=image.device, dtype=dtype),
        indexing='ij')
    xy = torch.stack([xs, ys]).reshape(1, 2, h * w).expand(b, -1, -1)
    rgb = image.detach().to(dtype).reshape(b, 3, h * w)
    feats = torch.cat([xy / float(sigma_xy), rgb / float(sigma_rgb)], dim=1)
    feats = feats - feats.mean(dim=2, keepdim=True)
    return feats.transpose(1, 2).contiguous()


@contextlib.contextmanager
def _full_precision(device: torch.device) -> Iterator[None]:
    """Exact float32 arithmetic inside the block: autocast off, IEEE
    float32 matmuls (no TF32 on CUDA, no bf16 in oneDNN on CPU, whose short
    mantissas would ruin the distance expansion); the previous settings are
    restored afterwards."""
    with contextlib.ExitStack() as stack:
        if device.type in ('cuda', 'cpu'):
            stack.enter_context(torch.autocast(device.type, enabled=False))
        backend = {
            'cuda': torch.backends.cuda,
            'cpu': torch.backends.mkldnn
        }.get(device.type)
        mm = getattr(backend, 'matmul', None)
        if mm is not None and hasattr(mm, 'fp32_precision'):  # torch >= 2.9
            saved = mm.fp32_precision
            mm.fp32_precision = 'ieee'
            stack.callback(setattr, mm, 'fp32_precision', saved)
        elif device.type == 'cuda':
            saved = torch.backends.cuda.matmul.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = False
            stack.callback(setattr, torch.backends.cuda.matmul, 'allow_tf32',
                           saved)
        yield


def _filter_torch(values: Tensor, feats: Tensor, include_self: bool,
                  chunk: Optional[int]) -> Tensor:
    """``G @ values`` per image in row chunks (values already masked).

    Args:
        values (Tensor): (B, N, K).
        feats (Tensor): (B, N, 5), same dtype.
        include_self (bool): Keep the diagonal ``G_ii = 1``.
        chunk (int, optional): Rows per tile; None = :func:`auto_chunk`.

    Returns:
        Tensor: (B, N, K).
    """
    b, n, _ = values.shape
    if chunk is None:
        chunk = auto_chunk(b, n, values.element_size(), values.device)
    chunk = int(min(max(1, chunk), n))
    # G_ij = exp(f_i·f_j - |f_i|²/2 - |f_j|²/2) = exp(lhs_i · rhs_j)
    sq = 0.5 * (feats * feats).sum(dim=2, keepdim=True)
    ones = torch.ones_like(sq)
    lhs = torch.cat([feats, -sq, -ones], dim=2)  # (B, N, 7)
    rhs = torch.cat([feats, ones, sq], dim=2).transpose(1, 2)  # (B, 7, N)
    cut = _CUTOFF_SCALE * math.log(torch.finfo(values.dtype).tiny)
    zero_below = math.exp(cut) * 1.01
    out = values.new_empty(values.shape)
    buf = values.new_empty(b * chunk * n)  # one reused tile
    with _full_precision(values.device):
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            rows = stop - start
            tile = buf[:b * rows * n].view(b, rows, n)
            torch.bmm(lhs[:, start:stop], rhs, out=tile)
            # the exponent is -‖f_i - f_j‖²/2 <= 0 (rounding may exceed
            # 0). Far pairs would give subnormals, which make exp and the
            # matmul ~10x slower on CPUs: kernel values below exp(cut) are
            # set to 0 (float32 would underflow at exp(-103) anyway)
            tile.clamp_(min=cut, max=0.0).exp_()
            F.threshold_(tile, zero_below, 0.0)
            if not include_self:
                tile.diagonal(offset=start, dim1=1, dim2=2).zero_()
            out[:, start:stop] = torch.bmm(tile, values)
    return out


def _filter_keops(values: Tensor, feats: Tensor, include_self: bool) -> Tensor:
    """``G @ values`` with a KeOps symbolic (never materialised) kernel."""
    try:
        from pykeops.torch import LazyTensor
    except Exception as e:
        raise ImportError(KEOPS_HINT) from e
    f_i = LazyTensor(feats[:, :, None, :].contiguous())
    f_j = LazyTensor(feats[:, None, :, :].contiguous())
    v_j = LazyTensor(values[:, None, :, :].contiguous())
    kernel = (-0.5 * ((f_i - f_j)**2).sum(-1)).exp()
    out = (kernel * v_j).sum(dim=2)
    if not include_self:
        out = out - values  # G_ii = exp(0) = 1 exactly
    return out


def _apply(values: Tensor, feats: Tensor, mask: Optional[Tensor],
           include_self: bool, chunk: Optional[int], backend: str) -> Tensor:
    """``M G' M v`` with ``M = diag(mask)`` and ``G'`` = G with or without
    its diagonal; values (B, N, K), mask (B, N, 1) or None."""
    if mask is not None:
        values = values * mask
    if backend == 'keops':
        out = _filter_keops(values, feats, include_self)
    else:
        out = _filter_torch(values, feats, include_self, chunk)
    if mask is not None:
        out = out * mask
    return out


class _BilateralGaussianFn(torch.autograd.Function):
    """Autograd of ``out = M G' M v``: ``dL/dv = M G' M dL/dout`` (G is
    symmetric), i.e. the same filter on the incoming gradient. No gradient
    reaches the features (the image) or the mask."""

    @staticmethod
    def forward(ctx, values: Tensor, feats: Tensor, mask: Optional[Tensor],
                include_self: bool, chunk: Optional[int],
                backend: str) -> Tensor:
        ctx.save_for_backward(feats, mask)
        ctx.options = (include_self, chunk, backend)
        return _apply(values, feats, mask, include_self, chunk, backend)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        feats, mask = ctx.saved_tensors
        grad = None
        if ctx.needs_input_grad[0]:
            grad = _apply(grad_out.contiguous(), feats, mask, *ctx.options)
        return grad, None, None, None, None, None


def bilateral_gaussian_filter(values: Tensor,
                              image: Tensor,
                              sigma_xy: float,
                              sigma_rgb: float,
                              roi: Optional[Tensor] = None,
                              include_self: bool = True,
                              chunk: Optional[int] = None,
                              backend: str = 'torch') -> Tensor:
    """Exact bilateral Gaussian filter ``[G v](i) = Σ_j G_ij v_j``.

    ``G_ij = exp(-‖xy_i - xy_j‖² / (2 σ_xy²) - ‖rgb_i - rgb_j‖² /
    (2 σ_rgb²))`` over all pixel pairs of each image (xy in pixels of this
    grid). With ``roi``, only j ∈ Ω contribute and pixels outside Ω receive
    0; ``include_self=False`` drops j = i (``G_ii = 1``).

    The sum is exact: the rows are processed in chunks of ``B x chunk x N``
    kernel tiles (never an N x N tensor), in float32 (float64 for float64
    values), with autocast off and IEEE float32 matmuls (no TF32 / bf16).
    Kernel values below ~3e-27 (float32; pairs more than ~11 σ apart in
    the joint space) count as 0, where float32 would underflow at ~1e-45
    anyway: this keeps subnormals, which are ~10x slower on CPUs, out of
    the tiles. Differentiable w.r.t. ``values`` (the backward pass is the
    same filter on the incoming gradient); the image gets no gradient.

    Args:
        values (Tensor): (B, K, H, W) value maps v.
        image (Tensor): (B, 3, H, W) RGB, 0-255 floats.
        sigma_xy (float): Spatial standard deviation (pixels of this grid).
        sigma_rgb (float): Colour standard deviation (RGB units).
        roi (Tensor, optional): (B, H, W) mask of Ω (nonzero = inside).
            None means the whole image.
        include_self (bool): Include the j = i term. Defaults to True.
        chunk (int, optional): Rows per kernel tile; None sizes a
            ``B x chunk x N`` tile to :data:`TILE_BYTES` of the device
            (~200 MB on GPUs, 16 MiB on CPUs; :func:`auto_chunk`). Only
            used by the torch backend.
        backend (str): ``'torch'`` (default, batched torch, CPU / CUDA) or
            ``'keops'`` (``pykeops`` symbolic kernel, if installed).

    Returns:
        Tensor: (B, K, H, W) ``[G v]``, in the computation dtype (float32
        unless ``values`` is float64).
    """
    check_choices(backend=(backend, FILTER_BACKENDS))
    if backend == 'keops' and not keops_available():
        raise ImportError(KEOPS_HINT)
    if values.dim() != 4 or image.dim() != 4 or \
            values.shape[0] != image.shape[0] or \
            values.shape[-2:] != image.shape[-2:]:
        raise ValueError(f'values {tuple(values.shape)} and image '
                         f'{tuple(image.shape)} must be (B, K, H, W) and '
                         '(B, 3, H, W) with the same B, H, W')
    if sigma_xy <= 0 or sigma_rgb <= 0:
        raise ValueError(f'sigma_xy ({sigma_xy}) and sigma_rgb ({sigma_rgb}) '
                         'must be > 0')
    b, k, h, w = values.shape
    dtype = torch.promote_types(values.dtype, torch.float32)
    feats = bilateral_features(image.to(values.device), sigma_xy,
                               sigma_rgb).to(dtype)
    mask = None
    if roi is not None:
        if roi.shape != (b, h, w):
            raise ValueError(f'roi {tuple(roi.shape)} must be (B, H, W) = '
                             f'{(b, h, w)}')
        mask = (roi.detach() != 0).to(
            device=values.device, dtype=dtype).reshape(b, h * w, 1)
    v = values.to(dtype).reshape(b, k, h * w).transpose(1, 2).contiguous()
    out = _BilateralGaussianFn.apply(v, feats, mask, bool(include_self), chunk,
                                     backend)
    return out.transpose(1, 2).reshape(b, k, h, w)
