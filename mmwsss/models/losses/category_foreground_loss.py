# Copyright (c) mmwsss contributors. All rights reserved.
"""SLAMs-like (reconstruction) category-foreground loss."""
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.semantics import contrast_loss

__all__ = ['CategoryForegroundLoss']


@MODELS.register_module()
class CategoryForegroundLoss(nn.Module):
    """Category-foreground loss ("correctness") [inferred].

    For every pair (b, k) of a present class k of image b (background
    included when the pairs include it), the frozen semantic encoder sees
    ``x_fg = x_b ⊙ M_bk``; with ``c = cos(cre(x_fg), crs)``::

        L_fg = ½[(1 - mean_{pairs} c_k) + (1 + mean_{pairs, j ∈ P_b \\ k} c_j)]

    (the masked image must look like class k and like none of the other
    present classes). Means are over all selected entries of the batch,
    an empty set counts 0.

    Args:
        loss_weight (float): Defaults to 1.0.
        loss_name (str): Defaults to 'loss_fg'.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_fg') -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    def forward(self, cos_fg: Tensor, own: Tensor, others: Tensor) -> Tensor:
        """Weighted loss.

        Args:
            cos_fg (Tensor): ``(P, K + 1)`` cosines of the foreground-masked
                images of the P pairs.
            own (Tensor): ``(P, K + 1)`` bool, the pair's own class.
            others (Tensor): ``(P, K + 1)`` bool, the other present classes
                of the pair's image.
        """
        return self.loss_weight * contrast_loss(cos_fg, own, cos_fg, others)

    @property
    def loss_name(self) -> str:
        """Key of the log dict."""
        return self._loss_name
