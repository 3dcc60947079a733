# Copyright (c) mmwsss contributors. All rights reserved.
"""SLAMs-like (reconstruction) activation regularisation loss."""
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.semantics import masked_mean

__all__ = ['ActivationRegularizationLoss']


@MODELS.register_module()
class ActivationRegularizationLoss(nn.Module):
    """Activation regularisation ("compactness") [inferred]::

        L_reg = mean_valid(M[:, 1:]) + (1 - mean_valid(M[:, 0]))

    the mean of every foreground map and one minus the mean of the
    background map, over the crop-valid pixels of the batch (0 terms when
    no pixel is valid).

    Args:
        loss_weight (float): Defaults to 0.075.
        loss_name (str): Defaults to 'loss_reg'.
    """

    def __init__(self,
                 loss_weight: float = 0.075,
                 loss_name: str = 'loss_reg') -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    def forward(self, masks: Tensor, valid: Tensor) -> Tensor:
        """Weighted loss.

        Args:
            masks (Tensor): ``(B, K + 1, H, W)`` sigmoid maps, channel 0 the
                background.
            valid (Tensor): ``(B, 1, H, W)`` crop-valid mask.
        """
        v = valid.bool()
        fg = masked_mean(masks[:, 1:], v.expand_as(masks[:, 1:]))
        bg = masked_mean(masks[:, :1], v)
        if not v.any():
            return self.loss_weight * (fg + bg)  # 0 with a graph
        return self.loss_weight * (fg + 1 - bg)

    @property
    def loss_name(self) -> str:
        """Key of the log dict."""
        return self._loss_name
