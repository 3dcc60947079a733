# Copyright (c) mmwsss contributors. All rights reserved.
"""SLAMs-like (reconstruction) stage 2: semantic-conditioned activation
maps."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList, add_prefix)
from torch import Tensor

from mmwsss.utils.cam_ops import cam_keys, normalise_cam
from mmwsss.utils.checkpoint import load_model_checkpoint
from mmwsss.utils.checks import check_choices
from ..heads.cam_head import stack_img_labels
from ..heads.semantic_activation_head import SemanticActivationHead
from ..utils.images import crop_valid_mask
from ..utils.semantics import class_cosine
from .semantic_encoder import SemanticEncoder

__all__ = ['SLAMsLike']

METHOD_STATUS = 'reconstruction'
DEFAULT_TEST_CFG = dict(
    bg_source='threshold',
    bg_threshold=0.5,
    use_gt_labels=True,
    conf_th=0.5,
    flip=False,
    with_cam=True)


@MODELS.register_module()
class SLAMsLike(BaseSegmentor):
    """SLAMs-like (reconstruction): activation maps learnt by a segmentation
    network through a frozen semantic encoder [inferred].

    **No public SLAMs code or method section exists**; this is our
    reconstruction from the SLAMs abstract (a semantic encoder, foreground
    and background semantic embeddings integrated into a segmentation
    network, category-foreground / category-background / activation
    regularisation / consistency losses), modelled on SemFormer by the
    same authors. No number it produces is a SLAMs reproduction.

    - ``backbone`` + ``decode_head``: any mmseg decode head (default
      DeepLabV3+'s ``DepthwiseSeparableASPPHead``); its ``conv_seg`` is
      replaced by an identity, so the head returns its features D
      (``channels``, stride 4).
    - ``act_head`` (:class:`SemanticActivationHead`): K + 1 sigmoid maps
      ``M = σ(Z)`` conditioned on the stage-1 class semantics; it owns the
      five losses.
    - ``encoder`` (:class:`SemanticEncoder` config): the stage-1 encoder,
      loaded from ``encoder_checkpoint`` by :meth:`init_weights` (the
      start of training; a missing file is an error naming the key and the
      path), then frozen: eval mode even after ``model.train()``, no
      parameter gradients; gradients flow through it into the masks. All
      (image, class) pairs of a batch go through one encoder call.

    **Inference**: ``extract_cam`` gives the foreground σ-maps (for
    :class:`MultiScaleCAM`, the CAM export / sweep path). ``predict``
    (``tools/test.py``): single scale (+ ``flip``), ``test_cfg``:

    - ``bg_source``: ``'threshold'`` (default): the max-normalised σ-maps
      of the present classes against a constant ``bg_threshold``, and
      ``pred_cam`` / ``cam_keys`` for the ``CAMSweepMetric``;
      ``'channel'``: the background σ-map is the background score.
    - ``use_gt_labels`` / ``conf_th``: the present classes are the image
      labels, else the classes whose region-embedding cosine (the L_sim
      score) is ``>= conf_th``.

    Args:
        backbone (dict): Backbone config.
        decode_head (dict): Any mmseg decode head config.
        act_head (dict): :class:`SemanticActivationHead` config.
        encoder (dict): :class:`SemanticEncoder` config (the stage-1
            model).
        encoder_checkpoint (str, optional): The stage-1 checkpoint.
        neck (dict, optional): Neck config.
        method_status (str): Must be ``'reconstruction'``.
        train_cfg (dict, optional): Unused.
        test_cfg (dict, optional): See above.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 act_head: ConfigType,
                 encoder: ConfigType,
                 encoder_checkpoint: Optional[str] = None,
                 neck: OptConfigType = None,
                 method_status: str = METHOD_STATUS,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        check_choices(method_status=(method_status, (METHOD_STATUS, )))
        self.method_status = method_status
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.decode_head = MODELS.build(decode_head)
        self.decode_head.conv_seg = nn.Identity()
        act_head = dict(act_head)
        act_head.setdefault('in_channels', self.decode_head.channels)
        self.act_head: SemanticActivationHead = MODELS.build(act_head)
        self.num_classes = self.act_head.num_classes + 1
        self.out_channels = self.num_classes
        self.encoder: SemanticEncoder = MODELS.build(encoder)
        if self.encoder.num_classes != self.act_head.num_classes:
            raise ValueError(
                f'the encoder has {self.encoder.num_classes} classes, the '
                f'activation head {self.act_head.num_classes}')
        self.encoder.freeze()
        self.encoder_checkpoint = encoder_checkpoint
        self.align_corners = False
        self.train_cfg = train_cfg or {}
        self.test_cfg = copy.deepcopy(DEFAULT_TEST_CFG)
        self.test_cfg.update(test_cfg or {})
        check_choices(**{
            'test_cfg.bg_source': (self.test_cfg['bg_source'],
                                   ('threshold', 'channel'))
        })

    # ------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """Initialise the network, then load the stage-1 encoder from
        ``encoder_checkpoint`` and copy its class semantics."""
        super().init_weights()
        path = self.encoder_checkpoint
        if not path or not osp.isfile(path):
            raise FileNotFoundError(
                f'model.encoder_checkpoint: the stage-1 semantic encoder '
                f'checkpoint {path!r} does not exist; train stage 1 first '
                f'(tools/train.py with the slams-encoder config) or set '
                f'--cfg-options model.encoder_checkpoint=PATH')
        load_model_checkpoint(self.encoder, path, strict=True)
        self.encoder.freeze()
        self.act_head.set_semantics(self.encoder.class_semantics())
        print_log(
            f'SLAMs-like (reconstruction): stage-1 encoder loaded from '
            f'{path}', logger='current')

    def train(self, mode: bool = True) -> 'SLAMsLike':
        """Train mode everywhere but the frozen encoder."""
        super().train(mode)
        self.encoder.eval()
        return self

    # ------------------------------------------------------------ network
    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone (+ neck) features."""
        x = self.backbone(inputs)
        if self.neck is not None:
            x = self.neck(x)
        return x

    def _logits(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """``(Z, φ(D))`` at stride 4."""
        return self.act_head(self.decode_head(self.extract_feat(inputs)))

    def masks(self, inputs: Tensor) -> Tensor:
        """Sigmoid maps ``(B, K + 1, h, w)``."""
        return torch.sigmoid(self._logits(inputs)[0].float())

    def extract_cam(self, inputs: Tensor) -> Tensor:
        """Foreground σ-maps ``(B, K, h, w)`` (non-negative: the CAM
        wrapper's ReLU keeps them)."""
        return self.masks(inputs)[:, 1:]

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Map logits Z bilinearly resized to the input."""
        z = self._logits(inputs)[0]
        return F.interpolate(
            z, size=inputs.shape[2:], mode='bilinear', align_corners=False)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Map logits Z."""
        return self._logits(inputs)[0]

    # ------------------------------------------------------------ training
    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """The five losses of :class:`SemanticActivationHead`."""
        labels = stack_img_labels(data_samples).to(inputs.device)
        logits, emb = self._logits(inputs)
        valid = crop_valid_mask(inputs, data_samples)[:, None]
        losses = self.act_head.loss(logits, emb, inputs, valid, labels,
                                    self.encoder.embed, self.masks)
        return add_prefix(losses, 'act')

    # ------------------------------------------------------------ inference
    def _present(self, masks: Tensor, emb: Tensor,
                 data_samples: OptSampleList) -> Tensor:
        cfg = self.test_cfg
        if (cfg['use_gt_labels'] and data_samples is not None
                and all('gt_img_labels' in ds for ds in data_samples)):
            return torch.stack([ds.gt_img_labels for ds in data_samples
                                ]).to(masks.device) > 0.5
        cre = self.act_head.region_embeddings(masks, emb.float())
        return class_cosine(cre, self.act_head.crs)[:, 1:] >= cfg['conf_th']

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Single-scale activation-map segmentation (see the class
        docstring)."""
        logits, emb = self._logits(inputs)
        masks = torch.sigmoid(logits.float())
        if self.test_cfg['flip']:
            logits_f, _ = self._logits(inputs.flip(-1))
            masks = (masks + torch.sigmoid(logits_f.float()).flip(-1)) / 2
        present = self._present(masks, emb, data_samples)
        up = F.interpolate(
            masks, size=inputs.shape[2:], mode='bilinear',
            align_corners=False)
        keep = present[:, :, None, None].to(up)
        if self.test_cfg['bg_source'] == 'channel':
            seg_logits = torch.cat([up[:, :1], up[:, 1:] * keep], dim=1)
        else:
            cam = normalise_cam(up[:, 1:]) * keep
            bg = torch.full_like(cam[:, :1],
                                 float(self.test_cfg['bg_threshold']))
            seg_logits = torch.cat([bg, cam], dim=1)
        results = self.postprocess_result(seg_logits, data_samples)
        if self.test_cfg['with_cam'] and \
                self.test_cfg['bg_source'] == 'threshold':
            for i, ds in enumerate(results):
                keys = cam_keys(present[i])
                ds.pred_cam = PixelData(data=ds.seg_logits.data[keys[1:]])
                ds.cam_keys = keys
        return results
