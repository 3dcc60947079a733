# Copyright (c) mmwsss contributors. All rights reserved.
"""SLAMs-like (reconstruction) stage 1: the semantic encoder."""
from typing import Dict, List, Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from ..heads.cam_head import stack_img_labels
from ..heads.semantic_embedding_head import SemanticEmbeddingHead

__all__ = ['SemanticEncoder']


class _ReconDecoder(nn.Module):
    """Light U-Net-like decoder: every backbone level projected to
    ``channels``, merged top-down (upsample + add + 3x3 conv), then a 3x3
    convolution to RGB at the input size."""

    def __init__(self, in_channels: Sequence[int], channels: int = 64):
        super().__init__()
        self.lateral = nn.ModuleList(
            nn.Conv2d(c, channels, 1) for c in in_channels)
        self.fuse = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
            for _ in in_channels)
        self.out = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, feats: Sequence[Tensor], size) -> Tensor:
        x = None
        for feat, lat, fuse in zip(
                reversed(list(feats)), reversed(self.lateral),
                reversed(self.fuse)):
            y = lat(feat)
            if x is not None:
                y = y + F.interpolate(
                    x, size=y.shape[-2:], mode='bilinear',
                    align_corners=False)
            x = fuse(y)
        return F.interpolate(
            self.out(x), size=size, mode='bilinear', align_corners=False)


@MODELS.register_module()
class SemanticEncoder(BaseSegmentor):
    """Semantic encoder of the SLAMs-like (reconstruction) method.

    A backbone and a :class:`SemanticEmbeddingHead`, trained on image
    labels with ``L_sem`` (BCE on the clamped cosine of each class
    embedding with its learnable class semantics, background always
    present) [inferred, modelled on SemFormer's class-aware auto-encoder].
    ``sem_recon=True`` adds a light reconstruction decoder of the
    normalised image (MSE, ``recon_weight``). After stage 1 the encoder is
    frozen and used by :class:`SLAMsLike`.

    ``predict`` stores ``pred_img_scores`` (the K foreground cosines) in
    the data samples; the encoder makes no segmentation.

    Args:
        backbone (dict): Backbone config.
        head (dict): :class:`SemanticEmbeddingHead` config.
        neck (dict, optional): Neck config.
        sem_recon (bool): Add the reconstruction decoder. Defaults to False.
        recon_in_channels (Sequence[int], optional): Channels of every
            backbone output (needed with ``sem_recon``).
        recon_weight (float): Defaults to 1.0.
        train_cfg, test_cfg (dict, optional): Unused.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 head: ConfigType,
                 neck: OptConfigType = None,
                 sem_recon: bool = False,
                 recon_in_channels: Sequence[int] = None,
                 recon_weight: float = 1.0,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.head: SemanticEmbeddingHead = MODELS.build(head)
        self.num_classes = self.head.num_classes
        self.sem_recon = bool(sem_recon)
        self.recon_weight = float(recon_weight)
        self.recon = None
        if self.sem_recon:
            if not recon_in_channels:
                raise ValueError('sem_recon=True needs recon_in_channels, '
                                 'the channels of every backbone output.')
            self.recon = _ReconDecoder(recon_in_channels)
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg or {}
        self.align_corners = False

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone (+ neck) features."""
        x = self.backbone(inputs)
        if self.neck is not None:
            x = self.neck(x)
        return list(x) if isinstance(x, (list, tuple)) else [x]

    def embed(self, inputs: Tensor) -> Tensor:
        """Class embeddings ``cre`` ``(N, K + 1, E)`` of normalised
        images."""
        return self.head(self.extract_feat(inputs))

    def class_semantics(self) -> Tensor:
        """``crs`` ``(K + 1, E)``."""
        return self.head.class_semantics()

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]):
        """Not available: the semantic encoder makes no segmentation."""
        raise NotImplementedError(
            'SemanticEncoder makes no segmentation; use it as the '
            'encoder of a SLAMsLike model (stage 2).')

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None):
        """Class embeddings."""
        return self.embed(inputs)

    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """``L_sem`` (+ the reconstruction MSE with ``sem_recon``)."""
        feats = self.extract_feat(inputs)
        labels = stack_img_labels(data_samples).to(inputs.device)
        losses = self.head.loss_by_embeddings(self.head(feats), labels)
        if self.recon is not None:
            rec = self.recon(feats, inputs.shape[-2:])
            losses['loss_recon'] = self.recon_weight * F.mse_loss(
                rec.float(), inputs.float())
        return losses

    def predict(self, inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """``pred_img_scores``: the foreground class cosines ``(K,)``."""
        cos = self.head.cosine(self.embed(inputs))
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(inputs.shape[0])]
        for i, ds in enumerate(data_samples):
            ds.pred_img_scores = cos[i, 1:].detach()
        return data_samples

    def freeze(self) -> None:
        """Eval mode and no parameter gradients (stage 2)."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
