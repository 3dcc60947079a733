# Copyright (c) mmwsss contributors. All rights reserved.
"""SLAMs-like (reconstruction) activation consistency loss."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from mmwsss.utils.checks import check_choices
from ..utils.semantics import masked_mean

__all__ = ['ActivationConsistencyLoss']

MODES = ('complementation', 'equivariance')


@MODELS.register_module()
class ActivationConsistencyLoss(nn.Module):
    """Activation consistency [inferred]; which consistency the SLAMs
    abstract means is not known, so both readings are options.

    ``mode='complementation'`` (default): the maps of the present classes of
    an image complement each other; over the pairs (b, k) of images with at
    least two present classes (background included)::

        L = Σ_{pairs} Σ_{p valid} (M_bk(p) + max_{j ∈ P_b \\ k} M_bj(p) - 1)²
            / Σ_{pairs} #valid(b)

    ``mode='equivariance'``: the maps commute with a horizontal flip and a
    0.5 rescale: ``mean_valid |M(x) - flip(M(flip x))|`` +
    ``mean |down(M(x)) - M(down x)|`` (``down``: bilinear to the grid of
    ``M(down x)``); the segmentor computes the two extra views.

    Args:
        mode (str): Defaults to 'complementation'.
        loss_weight (float): Defaults to 1.0.
        loss_name (str): Defaults to 'loss_cons'.
    """

    def __init__(self,
                 mode: str = 'complementation',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_cons') -> None:
        super().__init__()
        check_choices(consistency=(mode, MODES))
        self.mode = mode
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    @property
    def needs_views(self) -> bool:
        """Whether the flipped / half-scale views must be computed."""
        return self.mode == 'equivariance'

    def forward(self,
                masks: Tensor,
                valid: Tensor,
                targets: Optional[Tensor] = None,
                views: Optional[Sequence[Tensor]] = None) -> Tensor:
        """Weighted loss.

        Args:
            masks (Tensor): ``(B, K + 1, H, W)`` sigmoid maps.
            valid (Tensor): ``(B, 1, H, W)`` crop-valid mask.
            targets (Tensor, optional): ``(B, K + 1)`` presence (background
                column 1), for ``'complementation'``.
            views (Sequence[Tensor], optional): ``'equivariance'``:
                ``(flip(M(flip x)), M(down x), down(M(x)))``.
        """
        if self.mode == 'equivariance':
            if views is None:
                raise ValueError("consistency='equivariance' needs the "
                                 'flipped and half-scale views.')
            flipped, small, down = views
            v = valid.bool().expand_as(masks)
            loss = masked_mean((masks - flipped).abs(), v) + (
                small - down).abs().mean()
            return self.loss_weight * loss
        if targets is None:
            raise ValueError("consistency='complementation' needs targets.")
        present = targets.to(masks.device) > 0.5  # (B, K + 1)
        many = present.sum(1) >= 2  # images with >= 2 present classes
        if masks.shape[1] < 2 or not bool(many.any()):
            return masks.sum() * 0
        # max over the other present classes: the larger of the two top
        # present maps, unless k is the top one (then the second)
        scores = masks.masked_fill(~present[:, :, None, None], -1.0)
        top2, arg = scores.topk(2, dim=1)
        k = torch.arange(masks.shape[1], device=masks.device)
        k = k[None, :, None, None]
        rest = torch.where(k == arg[:, :1], top2[:, 1:2], top2[:, :1])
        sel = (present & many[:, None])[:, :, None, None] & valid.bool()
        sq = (masks + rest - 1)**2
        count = (sel.expand_as(masks)).sum()
        total = (sq * sel).sum()
        return self.loss_weight * total / count.clamp(min=1)

    @property
    def loss_name(self) -> str:
        """Key of the log dict."""
        return self._loss_name
