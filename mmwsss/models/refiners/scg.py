"""SCG: self-correlation map generation (RS+EPM).

SCG (from SPA, CVPR'21; an SCG class is in the first commit of the RS+EPM
repository [code]) turns the CAM into a self-correlation map built from
the backbone features. Per image, with the levels ``f_l`` resized to the
CAM grid ``h x w`` (``N = h·w``) and ``colnorm(X) = X / (colsum(X) +
eps)``, ``colsum_j = Σ_i X_ij``::

    F̃     = f_l / (‖f_l‖₂ + eps)               (N, D_l)
    SC    = relu(F̃ F̃ᵀ);  SC[SC < θ1] = 0
    SC1   = colnorm(SC)                          (diagonal kept)
    SC0   = colnorm(SC with a zero diagonal)
    SC2   = SC0;  `iteration` times: SC2 = colnorm(SC2 @ SC0)
    SC2[SC2 < θ2 / N] = 0
    HSC   = Σ_l colnorm(max(SC1, w2·SC2))
    H̃     = HSC min-max normalised per column
    FG_c  = mm(H̃ @ 1[cam_c ≥ θ_fg]),  BG_c = mm(H̃ @ 1[cam_c ≤ θ_bg])
    SCG_c = mm(relu(FG_c - BG_c)),   absent classes -> 0

where ``mm(v) = (v - min v) / (max v - min v + eps)`` over the ``N``
pixels. An empty fg/bg mask gives ``H̃ @ 0 = 0`` and ``mm(0) = 0``, i.e.
the official rule "0 if empty" without a special case.

Evidence: the formulas and the thresholds θ1 0.50, θ2 0.10, θ_fg 0.30,
θ_bg 0.05, ``iteration`` 1, w2 1 and eps 1e-10 are [code] (the SCG class
and the inference-script defaults). The feature levels and grid used in
training are unknown: the caller's default, levels (C4, C5) on the CAM
grid, is [inferred]; the caller chooses the levels by what it passes in
``feats``. Vectorisation over images and classes is ours (the official
class loops over images and classes) and gives the same numbers.

Implementation: the ``(B, N, N)`` matrices of the whole batch (or of
``chunk_size`` images at a time) are formed with batched matmuls, and the
per-class fg/bg maps of all classes are one ``(B, N, N) @ (B, N, 2K)``
product. Everything runs in ``float32`` (``float64`` when the CAM is
``float64``; TF32 matmuls are acceptable) without gradient.

Memory (one ``N x N`` fp32 matrix per image): at the default grid, levels
(C4, C5) on the 32x32 CAM grid of a 512 crop, ``N = 1024`` and a matrix is
4 MiB. At most **4** such buffers live at once per image (the running
``HSC``, ``SC1``, ``SC0`` and the product ``SC2``; each ``iteration``
beyond the first adds a fifth during its matmul) plus a 1-byte-per-entry
boolean threshold mask: about 17 MiB per image, **~272 MiB for a batch
of 16**. With the stride-8 option (64x64 grid, ``N = 4096``) a matrix is
64 MiB: ~272 MiB per image and **~4.25 GiB for a batch of 16** (use
``chunk_size`` to bound it); the second-order product then costs
``2·N³`` ≈ 1.4e11 FLOP per level per image (2.1e9 at ``N = 1024``).
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['SCG']


def _colnorm_(x: Tensor, eps: float) -> Tensor:
    """In place ``x / (Σ_i x_ij + eps)`` for ``(B, N, N)`` ``x``."""
    return x.div_(x.sum(dim=1, keepdim=True).add_(eps))


def _minmax(x: Tensor, dim: int, eps: float) -> Tensor:
    """``(x - min) / (max - min + eps)`` along ``dim``."""
    lo = x.amin(dim=dim, keepdim=True)
    hi = x.amax(dim=dim, keepdim=True)
    return (x - lo).div_(hi.sub_(lo).add_(eps))


@MODELS.register_module()
class SCG(nn.Module):
    """Self-correlation map generation, batched over images and classes.

    Args:
        first_th (float): θ1, first-order correlations below it are
            zeroed. Defaults to 0.5 [code].
        second_th (float): θ2, second-order correlations below ``θ2 / N``
            are zeroed. Defaults to 0.1 [code].
        foreground_th (float): θ_fg, CAM pixels ``>=`` it are the class's
            foreground. Defaults to 0.3 [code].
        background_th (float): θ_bg, CAM pixels ``<=`` it are the class's
            background. Defaults to 0.05 [code].
        iteration (int): Extra propagation steps of the second-order map.
            Defaults to 1 [code].
        second_weight (float): w2, weight of the second-order map.
            Defaults to 1.0 [code].
        eps (float): Stabiliser of every normalisation. Defaults to 1e-10
            [code].
        chunk_size (int, optional): Images processed at once (bounds the
            ``N x N`` buffers, see the module docstring). None = the whole
            batch [inferred engineering option].
    """

    def __init__(self,
                 first_th: float = 0.5,
                 second_th: float = 0.1,
                 foreground_th: float = 0.3,
                 background_th: float = 0.05,
                 iteration: int = 1,
                 second_weight: float = 1.0,
                 eps: float = 1e-10,
                 chunk_size: Optional[int] = None) -> None:
        super().__init__()
        if iteration < 0:
            raise ValueError(f'iteration must be >= 0, got {iteration}.')
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f'chunk_size must be >= 1, got {chunk_size}.')
        self.first_th = float(first_th)
        self.second_th = float(second_th)
        self.foreground_th = float(foreground_th)
        self.background_th = float(background_th)
        self.iteration = int(iteration)
        self.second_weight = float(second_weight)
        self.eps = float(eps)
        self.chunk_size = chunk_size

    def hsc(self, feats: Sequence[Tensor]) -> Tensor:
        """High-order self-correlation ``HSC = Σ_l HSC_l``.

        Args:
            feats (Sequence[Tensor]): Levels ``(B, D_l, h, w)``, all on the
                same grid and in the compute dtype.

        Returns:
            Tensor: ``(B, N, N)``, column ``j`` = correlations of pixel
            ``j`` (``N = h·w``, row-major pixels).
        """
        total = None
        for f in feats:
            n = f.shape[-2] * f.shape[-1]
            f = f.flatten(2).transpose(1, 2)  # (B, N, D)
            f = f / (f.norm(dim=2, keepdim=True) + self.eps)
            sc = torch.bmm(f, f.transpose(1, 2)).clamp_min_(0)
            sc.masked_fill_(sc < self.first_th, 0)
            sc0 = sc.clone()
            sc0.diagonal(dim1=1, dim2=2).zero_()
            _colnorm_(sc0, self.eps)
            sc1 = _colnorm_(sc, self.eps)  # sc is not needed any more
            sc2 = sc0
            for _ in range(self.iteration):
                sc2 = _colnorm_(torch.bmm(sc2, sc0), self.eps)
            del sc0  # (with iteration 0, sc2 is sc0: edited in place)
            sc2.masked_fill_(sc2 < self.second_th / n, 0)
            hsc = torch.maximum(sc1, sc2.mul_(self.second_weight), out=sc1)
            del sc2
            _colnorm_(hsc, self.eps)
            if total is None:
                total = hsc
            else:
                total.add_(hsc)
                del hsc
        return total

    def _scg(self, cam: Tensor, feats: Sequence[Tensor],
             labels: Tensor) -> Tensor:
        """SCG of one chunk of images (inputs already prepared)."""
        b, k, h, w = cam.shape
        hsc = self.hsc(feats)
        # per-column min-max normalisation (class-independent)
        lo = hsc.amin(dim=1, keepdim=True)
        hi = hsc.amax(dim=1, keepdim=True)
        hsc.sub_(lo).div_(hi.sub_(lo).add_(self.eps))
        cam = cam.flatten(2)  # (B, K, N)
        masks = torch.cat(
            [cam >= self.foreground_th, cam <= self.background_th],
            dim=1).to(hsc.dtype).transpose(1, 2)  # (B, N, 2K)
        fgbg = torch.bmm(hsc, masks)  # (B, N, 2K)
        del hsc
        fgbg = _minmax(fgbg, dim=1, eps=self.eps)
        scm = (fgbg[..., :k] - fgbg[..., k:]).clamp_min_(0)
        scm = _minmax(scm, dim=1, eps=self.eps)  # (B, N, K)
        scm = scm * labels[:, None, :]
        return scm.transpose(1, 2).reshape(b, k, h, w)

    @torch.no_grad()
    def forward(self, cam: Tensor, feats: Sequence[Tensor],
                img_labels: Tensor) -> Tensor:
        """Self-correlation maps of the present classes.

        Args:
            cam (Tensor): ``(B, K, h, w)`` normalised CAM in ``[0, 1]``.
            feats (Sequence[Tensor]): Feature levels ``(B, D_l, h_l, w_l)``
                (detached here); resized bilinearly
                (``align_corners=False``) to ``(h, w)`` when they differ.
            img_labels (Tensor): ``(B, K)`` multi-hot; absent classes get
                0.

        Returns:
            Tensor: ``(B, K, h, w)`` in ``[0, 1]``, ``float32`` (``float64``
            for a ``float64`` CAM).
        """
        if cam.ndim != 4:
            raise ValueError(f'cam must be (B, K, h, w), got '
                             f'{tuple(cam.shape)}.')
        if len(feats) == 0:
            raise ValueError('SCG needs at least one feature level.')
        b, k, h, w = cam.shape
        if img_labels.shape != (b, k):
            raise ValueError(f'img_labels must be {(b, k)}, got '
                             f'{tuple(img_labels.shape)}.')
        dtype = torch.promote_types(cam.dtype, torch.float32)
        cam = cam.detach().to(dtype)
        labels = (img_labels.detach() > 0).to(dtype)
        levels = []
        for f in feats:
            if f.ndim != 4 or f.shape[0] != b:
                raise ValueError(f'feature levels must be (B, D, h, w) with '
                                 f'B = {b}, got {tuple(f.shape)}.')
            f = f.detach().to(dtype)
            if tuple(f.shape[-2:]) != (h, w):
                f = F.interpolate(
                    f, size=(h, w), mode='bilinear', align_corners=False)
            levels.append(f)
        step = self.chunk_size or b
        outs = []
        for i in range(0, b, step):
            chunk = slice(i, i + step)
            outs.append(
                self._scg(cam[chunk], [f[chunk] for f in levels],
                          labels[chunk]))
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def extra_repr(self) -> str:
        return (f'first_th={self.first_th}, second_th={self.second_th}, '
                f'foreground_th={self.foreground_th}, '
                f'background_th={self.background_th}, '
                f'iteration={self.iteration}, '
                f'second_weight={self.second_weight}')
