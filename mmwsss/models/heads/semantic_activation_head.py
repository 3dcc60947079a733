# Copyright (c) mmwsss contributors. All rights reserved.
"""SLAMs-like (reconstruction) semantic-conditioned activation head."""
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from mmwsss.utils.checks import check_choices
from ..utils.images import downsample_mask
from ..utils.semantics import (class_cosine, pixel_class_cosine,
                               present_pairs, semantic_targets)

__all__ = ['SemanticActivationHead']


@MODELS.register_module()
class SemanticActivationHead(BaseModule):
    """K + 1 sigmoid activation maps from decoder features, conditioned on
    the class semantics of a frozen semantic encoder [inferred].

    ``sem_head='cosine'`` (default)::

        Z_k(p) = s · cos(φ(D)(p), crs_k) + b_k,   M = σ(Z)

    with ``φ`` a 1x1 convolution to the embedding size E, ``s`` a learnable
    scale (``cos_scale_init``), ``b`` a learnable bias per class and
    ``crs`` ``(K + 1, E)`` the stage-1 class semantics (a buffer, frozen,
    set by :meth:`set_semantics`). ``sem_head='linear'``: ``Z`` is a plain
    1x1 convolution of D.

    The head owns the five losses (any weight is the ``loss_weight`` of its
    config): category-foreground ``loss_fg`` and category-background
    ``loss_bg`` (through the frozen encoder), activation regularisation
    ``loss_reg``, consistency ``loss_cons`` and the auxiliary semantic
    similarity ``loss_sim``::

        seg_cre_k = ReLU(Linear(Σ_p M_k(p) φ(D)(p) / (Σ_p M_k(p) + 1e-5)))
        L_sim     = BCE(clamp(cos(seg_cre_k, crs_k)), ŷ_k)

    Args:
        in_channels (int): Channels of the decoder features D.
        num_classes (int): Foreground classes K (the maps are K + 1).
        embed_dim (int): E, as the stage-1 encoder. Defaults to 256.
        sem_head (str): ``'cosine'`` or ``'linear'``. Defaults to 'cosine'.
        cos_scale_init (float): Initial ``s``. Defaults to 10.
        include_bg_pairs (bool): The background class makes (image, class)
            pairs for the fg / bg losses. Defaults to True.
        encoder_input (int): Side of the images and masks given to the
            encoder (bilinear, ``align_corners=True``). Defaults to 224.
        loss_fg, loss_bg, loss_reg, loss_cons, loss_sim (dict): Loss
            configs.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 embed_dim: int = 256,
                 sem_head: str = 'cosine',
                 cos_scale_init: float = 10.0,
                 include_bg_pairs: bool = True,
                 encoder_input: int = 224,
                 loss_fg: ConfigType = dict(type='CategoryForegroundLoss'),
                 loss_bg: ConfigType = dict(type='CategoryBackgroundLoss'),
                 loss_reg: ConfigType = dict(
                     type='ActivationRegularizationLoss', loss_weight=0.075),
                 loss_cons: ConfigType = dict(
                     type='ActivationConsistencyLoss',
                     mode='complementation'),
                 loss_sim: ConfigType = dict(
                     type='SemanticSimilarityLoss', loss_name='loss_sim'),
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_choices(sem_head=(sem_head, ('cosine', 'linear')))
        self.in_channels = int(in_channels)
        self.num_classes = int(num_classes)
        self.embed_dim = int(embed_dim)
        self.sem_head = sem_head
        self.include_bg_pairs = bool(include_bg_pairs)
        self.encoder_input = int(encoder_input)
        C1 = self.num_classes + 1
        self.phi = nn.Conv2d(self.in_channels, self.embed_dim, 1)
        if sem_head == 'cosine':
            self.cos_scale = nn.Parameter(torch.tensor(float(cos_scale_init)))
            self.cos_bias = nn.Parameter(torch.zeros(C1))
        else:
            self.classifier = nn.Conv2d(self.in_channels, C1, 1)
        self.sim_fc = nn.Linear(self.embed_dim, self.embed_dim)
        self.register_buffer('crs', torch.zeros(C1, self.embed_dim))
        self.loss_fg = MODELS.build(loss_fg)
        self.loss_bg = MODELS.build(loss_bg)
        self.loss_reg = MODELS.build(loss_reg)
        self.loss_cons = MODELS.build(loss_cons)
        self.loss_sim = MODELS.build(loss_sim)

    @torch.no_grad()
    def set_semantics(self, crs: Tensor) -> None:
        """Copy the stage-1 class semantics ``(K + 1, E)``."""
        if tuple(crs.shape) != tuple(self.crs.shape):
            raise ValueError(
                f'the semantic encoder has class semantics of shape '
                f'{tuple(crs.shape)}, the activation head expects '
                f'{tuple(self.crs.shape)} (K + 1 classes x embed_dim)')
        self.crs.copy_(crs.detach().to(self.crs))

    def forward(self, feats: Tensor) -> Tuple[Tensor, Tensor]:
        """``(Z, φ(D))``: the map logits ``(B, K + 1, h, w)`` and the
        embedded features ``(B, E, h, w)``."""
        emb = self.phi(feats)
        if self.sem_head == 'linear':
            return self.classifier(feats), emb
        cos = pixel_class_cosine(emb, self.crs)
        return self.cos_scale * cos + self.cos_bias[None, :, None, None], emb

    def region_embeddings(self, masks: Tensor, emb: Tensor) -> Tensor:
        """``seg_cre`` ``(B, K + 1, E)`` from the maps and φ(D)."""
        w = masks.flatten(2)  # (B, K + 1, N)
        pooled = torch.einsum('bkn,ben->bke', w, emb.flatten(2))
        pooled = pooled / (w.sum(-1, keepdim=True) + 1e-5)
        return F.relu(self.sim_fc(pooled))

    def _resize(self, x: Tensor) -> Tensor:
        size = (self.encoder_input, self.encoder_input)
        if tuple(x.shape[-2:]) == size:
            return x
        return F.interpolate(x, size=size, mode='bilinear', align_corners=True)

    def encoder_inputs(self, inputs: Tensor, masks: Tensor, valid: Tensor,
                       targets: Tensor) -> Tuple[Tensor, ...]:
        """The masked images of every pair, stacked for ONE encoder call.

        The maps (any resolution, e.g. stride 4), the images and the
        crop-valid mask are resized to ``encoder_input`` (bilinear,
        ``align_corners=True``; the mask thresholded at 0.5) and the maps
        multiplied by the mask.

        Returns:
            tuple: ``x`` ``(2P, 3, S, S)`` (the P foreground-masked images
            ``x_b ⊙ M_bk`` then the P background-masked ``x_b ⊙ (1 -
            M_bk)``), ``own`` and ``others`` ``(P, K + 1)`` bool, the
            resized masks ``(B, K + 1, S, S)`` and valid mask
            ``(B, 1, S, S)``.
        """
        v = self._resize(valid.float()) > 0.5
        m = self._resize(masks) * v
        x = self._resize(inputs)
        img, cls, others = present_pairs(targets, self.include_bg_pairs)
        own = F.one_hot(cls, self.num_classes + 1).bool()
        m_pair = m[img, cls][:, None]
        x_pair = x[img]
        return (torch.cat([x_pair * m_pair, x_pair * (1 - m_pair)]), own,
                others, m, v)

    def loss(self,
             logits: Tensor,
             emb: Tensor,
             inputs: Tensor,
             valid: Tensor,
             img_labels: Tensor,
             encode: Callable[[Tensor], Tensor],
             mask_fn: Optional[Callable[[Tensor], Tensor]] = None
             ) -> Dict[str, Tensor]:
        """The five losses of a batch.

        Args:
            logits (Tensor): Z ``(B, K + 1, h, w)``.
            emb (Tensor): φ(D) ``(B, E, h, w)``.
            inputs (Tensor): Normalised images ``(B, 3, H, W)``.
            valid (Tensor): ``(B, 1, H, W)`` crop-valid mask.
            img_labels (Tensor): ``(B, K)`` multi-hot.
            encode (callable): The frozen encoder: images -> ``cre``
                ``(N, K + 1, E)``.
            mask_fn (callable, optional): images -> M, for the
                equivariance views.
        """
        targets = semantic_targets(img_labels.to(logits.device))
        masks = torch.sigmoid(logits.float())
        x, own, others, m, v = self.encoder_inputs(inputs, masks, valid,
                                                   targets)
        # the crop-valid mask on the maps' grid (nearest)
        v4 = downsample_mask(valid[:, 0].bool(), masks.shape[-2:])[:, None]
        losses = {}
        P = own.shape[0]
        if P:
            cos = class_cosine(encode(x), self.crs)
            cos_fg, cos_bg = cos[:P], cos[P:]
        else:
            cos_fg = cos_bg = masks.new_zeros(0, self.num_classes + 1)
        losses[self.loss_fg.loss_name] = self.loss_fg(cos_fg, own, others)
        losses[self.loss_bg.loss_name] = self.loss_bg(cos_bg, own, others)
        losses[self.loss_reg.loss_name] = self.loss_reg(m, v)
        views = None
        if getattr(self.loss_cons, 'needs_views', False):
            if mask_fn is None:
                raise ValueError('the equivariance consistency needs the '
                                 'segmentor to compute the extra views.')
            flipped = mask_fn(inputs.flip(-1)).flip(-1)
            small = mask_fn(
                F.interpolate(
                    inputs, scale_factor=0.5, mode='bilinear',
                    align_corners=False))
            down = F.interpolate(
                masks, size=small.shape[-2:], mode='bilinear',
                align_corners=False)
            views = (flipped, small, down)
            losses[self.loss_cons.loss_name] = self.loss_cons(
                masks, v4, targets, views)
        else:
            losses[self.loss_cons.loss_name] = self.loss_cons(
                m, v, targets, views)
        seg_cre = self.region_embeddings(masks * v4, emb.float())
        losses[self.loss_sim.loss_name] = self.loss_sim(
            class_cosine(seg_cre, self.crs), targets)
        with torch.no_grad():
            losses['num_pairs'] = masks.new_tensor(float(P))
            losses['fg_ratio'] = (masks[:, 1:] * v4).sum() / (
                v4.sum() * self.num_classes).clamp(min=1)
        return losses
