# Copyright (c) mmwsss contributors. All rights reserved.
"""SLAMs-like (reconstruction) category-background loss."""
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.semantics import contrast_loss

__all__ = ['CategoryBackgroundLoss']


@MODELS.register_module()
class CategoryBackgroundLoss(nn.Module):
    """Category-background loss ("completeness") [inferred].

    For every pair (b, k), the frozen semantic encoder sees the rest of the
    image ``x_bg = x_b ⊙ (1 - M_bk)``; with ``c = cos(cre(x_bg), crs)``::

        L_bg = ½[(1 - mean_{pairs, j ∈ P_b \\ k} c_j) + (1 + mean_{pairs} c_k)]

    (nothing of class k may be left outside its map, the other classes
    must stay). Means are over all selected entries of the batch, an empty
    set counts 0.

    Args:
        loss_weight (float): Defaults to 1.0.
        loss_name (str): Defaults to 'loss_bg'.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_bg') -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    def forward(self, cos_bg: Tensor, own: Tensor, others: Tensor) -> Tensor:
        """Weighted loss.

        Args:
            cos_bg (Tensor): ``(P, K + 1)`` cosines of the
                background-masked images of the P pairs.
            own (Tensor): ``(P, K + 1)`` bool, the pair's own class.
            others (Tensor): ``(P, K + 1)`` bool, the other present classes
                of the pair's image.
        """
        return self.loss_weight * contrast_loss(cos_bg, others, cos_bg, own)

    @property
    def loss_name(self) -> str:
        """Key of the log dict."""
        return self._loss_name
