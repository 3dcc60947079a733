"""PAMR: pixel-adaptive mask refinement.

The RS+EPM repository ships a copy of Araslanov & Roth's PAMR [code]; this
module implements its formulas, batched and on any device:

For every dilation ``d`` the 3x3 window ``{d·(dy, dx): dy, dx ∈ {-1, 0,
1}}`` of a pixel ``i`` is read with replicate padding. With the guidance
image ``G`` (bilinearly resized to the mask size)::

    dist_c(i, j) = |G_c(i) - G_c(j)|        8·|dilations| neighbours j ≠ i
    std_c(i)     = unbiased std of the 9·|dilations| window samples
                   (the centre is counted once per dilation)
    κ(i, j)      = mean_c -dist_c(i, j) / (σ·std_c(i) + eps)
    w(i, ·)      = softmax_j κ(i, j)         (the centre is not a neighbour)
    m_k(i)      <- Σ_j w(i, j)·m_k(j)        num_iter times, fixed w

Masks are read with replicate padding as well. Because ``dist_c`` and
``std_c`` scale alike, the affinities are invariant to a per-channel
affine normalisation of ``G`` (up to ``eps``), so the normalised network
input can be the guidance.

Evidence: the formulas, σ = 0.1, eps = 1e-8, replicate padding and the
unbiased std are [code] (the repository's PAMR copy); the defaults
``dilations=(1, 2, 4, 8, 12, 24)``, ``num_iter=10`` follow a code comment
(48 neighbours) and the original PAMR configuration, and running without
gradient is [inferred].

Implementation: all window samples are shifted slices of one replicate-
padded tensor (padding by the largest dilation reads the same clamped
coordinates as padding by each ``d``). The std is ``torch.std`` of the
stacked samples of one channel at a time (as the official code, whose
rounding decides the weights on a flat window) and the logits are
accumulated channel by channel, so the largest buffers are the
``(B, 9·|dilations|, h, w)`` samples of a channel and the
``(B, 8·|dilations|, h, w)`` affinity (for the default 48 neighbours at
128x128 and B = 16: 57 and 50 MiB in fp32). Each
propagation step is ``8·|dilations|`` fused multiply-adds of ``(B, M, h,
w)`` slices. The affinity is computed in ``float32`` (``float64`` when
the image is ``float64``).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['PAMR']

#: The 8 neighbour directions of a 3x3 window, row-major without the centre.
_DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0),
               (1, 1))


@MODELS.register_module()
class PAMR(nn.Module):
    """Pixel-adaptive mask refinement (no parameters, no gradient).

    Args:
        dilations (Sequence[int]): Dilations of the 3x3 windows. Defaults
            to ``(1, 2, 4, 8, 12, 24)`` (48 neighbours) [inferred from a
            code comment and the original PAMR config; the repository's
            class default is ``(1,)``].
        num_iter (int): Number of propagation steps with the fixed
            affinities. Defaults to 10 [inferred, same source; the class
            default in the repository is 1].
        sigma (float): Scale σ of the local std in the kernel. Defaults to
            0.1 [code].
        eps (float): Added to ``σ·std``. Defaults to 1e-8 [code].
    """

    def __init__(self,
                 dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
                 num_iter: int = 10,
                 sigma: float = 0.1,
                 eps: float = 1e-8) -> None:
        super().__init__()
        dilations = tuple(int(d) for d in dilations)
        if not dilations or min(dilations) < 1:
            raise ValueError(
                f'dilations must be positive integers, got {dilations}.')
        if num_iter < 0:
            raise ValueError(f'num_iter must be >= 0, got {num_iter}.')
        self.dilations = dilations
        self.num_iter = int(num_iter)
        self.sigma = float(sigma)
        self.eps = float(eps)

    @property
    def num_neighbours(self) -> int:
        """``8·|dilations|``, the channels of :meth:`affinity`."""
        return 8 * len(self.dilations)

    def neighbour_offsets(self) -> List[Tuple[int, int]]:
        """``(dy, dx)`` of the affinity channels, in their order.

        Returns:
            list[tuple[int, int]]: For each dilation ``d`` (in the order of
            ``dilations``) the 8 offsets ``d·(dy, dx)``, row-major.
        """
        return [(d * dy, d * dx) for d in self.dilations
                for dy, dx in _DIRECTIONS]

    def _padded_views(self, x: Tensor) -> Tuple[Tensor, int]:
        """Replicate-pad ``x`` by the largest dilation."""
        p = max(self.dilations)
        return F.pad(x, (p, p, p, p), mode='replicate'), p

    @staticmethod
    def _view(xp: Tensor, p: int, dy: int, dx: int, h: int, w: int) -> Tensor:
        """``x[..., y + dy, x + dx]`` (clamped) from the padded tensor."""
        return xp[..., p + dy:p + dy + h, p + dx:p + dx + w]

    @torch.no_grad()
    def affinity(self,
                 image: Tensor,
                 size: Optional[Tuple[int, int]] = None) -> Tensor:
        """Softmax affinities of every pixel to its neighbours.

        Args:
            image (Tensor): Guidance ``(B, C, H, W)`` (normalised or raw
                RGB).
            size (tuple[int, int], optional): ``(h, w)`` to resize the
                image to first (bilinear, ``align_corners=False``). None
                keeps ``(H, W)``.

        Returns:
            Tensor: ``(B, 8·|dilations|, h, w)``, summing to 1 over dim 1;
            channel ``n`` is the weight of the neighbour at
            ``neighbour_offsets()[n]``. ``float32`` (``float64`` for a
            ``float64`` image).
        """
        if image.ndim != 4:
            raise ValueError(
                f'image must be (B, C, H, W), got {tuple(image.shape)}.')
        dtype = torch.promote_types(image.dtype, torch.float32)
        image = image.detach().to(dtype)
        if size is not None and tuple(image.shape[-2:]) != tuple(size):
            image = F.interpolate(
                image, size=tuple(size), mode='bilinear', align_corners=False)
        h, w = image.shape[-2:]
        xp, p = self._padded_views(image)
        offsets = self.neighbour_offsets()
        # unbiased std over the samples with torch.std, as the official
        # code: on a (nearly) flat window its rounding decides the weights
        # (a two-pass sum gives other ~1e-8 stds there); one channel at a
        # time, so the largest extra buffer is (B, 9·|dilations|, h, w)
        # (the official order: per dilation its 3x3 window, row-major)
        window = [(d * dy, d * dx) for d in self.dilations for dy in (-1, 0, 1)
                  for dx in (-1, 0, 1)]
        std = torch.empty_like(image)
        for c in range(image.shape[1]):
            samples = [
                self._view(xp, p, dy, dx, h, w)[:, c] for dy, dx in window
            ]
            std[:, c] = torch.stack(samples, dim=1).std(dim=1)
        # 1 / (σ·std_c + eps) / C: the channel mean of -dist / (σ·std + eps)
        inv = (std.mul_(self.sigma).add_(self.eps)).reciprocal_()
        inv = inv.div_(image.shape[1])
        logits = image.new_empty((image.shape[0], len(offsets), h, w))
        for n, (dy, dx) in enumerate(offsets):
            dist = (self._view(xp, p, dy, dx, h, w) - image).abs_()
            logits[:, n] = dist.mul_(inv).sum(dim=1)
        return torch.softmax(logits.neg_(), dim=1)

    @torch.no_grad()
    def propagate(self,
                  masks: Tensor,
                  affinity: Tensor,
                  num_iter: Optional[int] = None) -> Tensor:
        """Apply precomputed affinities ``num_iter`` times.

        Args:
            masks (Tensor): ``(B, M, h, w)``.
            affinity (Tensor): ``(B, 8·|dilations|, h, w)`` from
                :meth:`affinity`.
            num_iter (int, optional): Defaults to ``self.num_iter``.

        Returns:
            Tensor: ``(B, M, h, w)`` in the dtype of ``masks``.
        """
        num_iter = self.num_iter if num_iter is None else int(num_iter)
        offsets = self.neighbour_offsets()
        if (masks.ndim != 4 or affinity.ndim != 4
                or affinity.shape[1] != len(offsets)
                or affinity.shape[0] != masks.shape[0]
                or affinity.shape[-2:] != masks.shape[-2:]):
            raise ValueError(
                f'masks (B, M, h, w) and affinity (B, {len(offsets)}, h, w) '
                f'must match, got {tuple(masks.shape)} and '
                f'{tuple(affinity.shape)}.')
        h, w = masks.shape[-2:]
        x = masks.detach().to(affinity.dtype)
        weights = [affinity[:, n:n + 1] for n in range(len(offsets))]
        for _ in range(num_iter):
            xp, p = self._padded_views(x)
            out = torch.zeros_like(x)
            for wn, (dy, dx) in zip(weights, offsets):
                out.addcmul_(wn, self._view(xp, p, dy, dx, h, w))
            x = out
        return x.to(masks.dtype)

    @torch.no_grad()
    def forward(self, image: Tensor, masks: Tensor) -> Tensor:
        """Refine masks with the guidance image.

        Args:
            image (Tensor): ``(B, 3, H, W)``, resized bilinearly
                (``align_corners=False``) to the mask size when it differs.
            masks (Tensor): ``(B, M, h, w)``.

        Returns:
            Tensor: ``(B, M, h, w)`` in the dtype of ``masks``.
        """
        if (masks.ndim != 4 or image.ndim != 4
                or image.shape[0] != masks.shape[0]):
            raise ValueError(f'image (B, C, H, W) and masks (B, M, h, w) '
                             f'must share B, got {tuple(image.shape)} and '
                             f'{tuple(masks.shape)}.')
        aff = self.affinity(image, size=tuple(masks.shape[-2:]))
        return self.propagate(masks, aff)

    def extra_repr(self) -> str:
        return (f'dilations={self.dilations}, num_iter={self.num_iter}, '
                f'sigma={self.sigma}, eps={self.eps}')
