# Copyright (c) mmwsss contributors. All rights reserved.
"""SLAMs-like (reconstruction) class-embedding head of the semantic
encoder."""
from typing import Dict, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from mmwsss.utils.checks import check_choices
from ..utils.semantics import class_cosine, semantic_targets, semantics_for

__all__ = ['SemanticEmbeddingHead']


@MODELS.register_module()
class SemanticEmbeddingHead(BaseModule):
    """Class embeddings and learnable class semantics [inferred].

    ``cre = pool(ReLU(Conv1x1(F)))`` reshaped to ``(B, K + 1, E)`` (the
    background is class 0), ``pool`` the mean (default, scale-free) or the
    sum over the feature map; the class semantics are
    ``crs = ReLU(Embedding(K + 1, E))`` (weight initialised N(0, 1)).
    ``L_sem = mean_{b,k} BCE(clamp(cos(cre_bk, crs'_k)), ŷ_bk)`` with
    ``ŷ = [1, y]`` and ``crs'_k`` detached for the classes absent from
    image b (``loss_sem``, a :class:`SemanticSimilarityLoss`).

    Args:
        in_channels (int): Channels of the backbone feature.
        num_classes (int): Foreground classes K (the head has K + 1).
        embed_dim (int): E. Defaults to 256.
        sem_pool (str): ``'mean'`` or ``'sum'``. Defaults to 'mean'.
        in_index (int): Backbone output used. Defaults to -1.
        loss_sem (dict): Defaults to a SemanticSimilarityLoss.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 embed_dim: int = 256,
                 sem_pool: str = 'mean',
                 in_index: int = -1,
                 loss_sem: ConfigType = dict(
                     type='SemanticSimilarityLoss', loss_name='loss_sem'),
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_choices(sem_pool=(sem_pool, ('mean', 'sum')))
        self.in_channels = int(in_channels)
        self.num_classes = int(num_classes)
        self.embed_dim = int(embed_dim)
        self.sem_pool = sem_pool
        self.in_index = in_index
        self.embed = nn.Conv2d(self.in_channels,
                               (self.num_classes + 1) * self.embed_dim, 1)
        self.semantics = nn.Embedding(self.num_classes + 1, self.embed_dim)
        nn.init.normal_(self.semantics.weight, 0.0, 1.0)
        self.loss_sem = MODELS.build(loss_sem)

    def class_semantics(self) -> Tensor:
        """``crs = ReLU(Embedding)``, shape ``(K + 1, E)``."""
        return F.relu(self.semantics.weight)

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Class embeddings ``cre`` ``(B, K + 1, E)``."""
        x = feats if isinstance(feats, Tensor) else feats[self.in_index]
        e = F.relu(self.embed(x))
        e = e.mean(dim=(2, 3)) if self.sem_pool == 'mean' else e.sum((2, 3))
        return e.view(e.shape[0], self.num_classes + 1, self.embed_dim)

    def cosine(self, cre: Tensor) -> Tensor:
        """``cos(cre_bk, crs_k)`` ``(B, K + 1)`` (no detaching)."""
        return class_cosine(cre, self.class_semantics())

    def loss_by_embeddings(self, cre: Tensor,
                           img_labels: Tensor) -> Dict[str, Tensor]:
        """``L_sem`` and the image-level accuracy of ``cos > 0.5``."""
        targets = semantic_targets(img_labels.to(cre.device))
        crs = semantics_for(self.class_semantics(), targets > 0.5)
        cos = class_cosine(cre, crs)
        losses = {self.loss_sem.loss_name: self.loss_sem(cos, targets)}
        with torch.no_grad():
            losses['acc_sem'] = ((cos[:, 1:] > 0.5).float() ==
                                 targets[:, 1:]).float().mean()
        return losses
