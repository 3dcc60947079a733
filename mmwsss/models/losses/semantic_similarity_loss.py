# Copyright (c) mmwsss contributors. All rights reserved.
"""SLAMs-like (reconstruction) semantic-similarity loss (L_sem / L_sim)."""
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['SemanticSimilarityLoss', 'semantic_similarity_loss']


def semantic_similarity_loss(cosine: Tensor,
                             targets: Tensor,
                             clamp_eps: float = 1e-6) -> Tensor:
    """``mean_{b,k} BCE(clamp(cos_bk, eps, 1 - eps), ŷ_bk)``.

    Args:
        cosine (Tensor): ``(N, K + 1)`` cosines of the class embeddings with
            the class semantics (see ``class_cosine``).
        targets (Tensor): ``(N, K + 1)`` ``ŷ = [1, y]``.
        clamp_eps (float): Clamp of the cosine into ``(0, 1)``. Defaults to
            1e-6.

    Returns:
        Tensor: Scalar.
    """
    if cosine.shape != targets.shape:
        raise ValueError(f'cosine {tuple(cosine.shape)} and targets '
                         f'{tuple(targets.shape)} must have the same shape')
    p = cosine.float().clamp(clamp_eps, 1 - clamp_eps)
    return F.binary_cross_entropy(p, targets.float(), reduction='mean')


@MODELS.register_module()
class SemanticSimilarityLoss(nn.Module):
    """BCE between the clamped class cosines and ``ŷ = [1, y]`` [inferred].

    The stage-1 ``L_sem`` of the semantic encoder and the stage-2
    auxiliary ``L_sim`` of the SLAMs-like (reconstruction) network.

    Args:
        loss_weight (float): Defaults to 1.0.
        clamp_eps (float): Defaults to 1e-6.
        loss_name (str): Defaults to 'loss_sem'.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 clamp_eps: float = 1e-6,
                 loss_name: str = 'loss_sem') -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.clamp_eps = float(clamp_eps)
        self._loss_name = loss_name

    def forward(self, cosine: Tensor, targets: Tensor) -> Tensor:
        """Weighted loss."""
        return self.loss_weight * semantic_similarity_loss(
            cosine, targets, self.clamp_eps)

    @property
    def loss_name(self) -> str:
        """Key of the log dict."""
        return self._loss_name
