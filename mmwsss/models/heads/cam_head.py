"""Class activation map (CAM) classification head."""
import math
from typing import Dict, List, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from ..utils.samples import stack_sample_field

__all__ = ['CAMHead', 'stack_img_labels']


def stack_img_labels(data_samples: SampleList) -> Tensor:
    """Stack ``gt_img_labels`` of the data samples into a (B, K) tensor.

    Raises:
        KeyError: When a sample has no image labels (the pipeline must end
            with ``PackWSSSInputs``).
    """
    return stack_sample_field(
        data_samples, 'gt_img_labels',
        'end the pipeline with `PackWSSSInputs` so image labels are '
        'packed.').float()


@MODELS.register_module()
class CAMHead(BaseModule):
    """1x1 convolution (no bias) + global average pooling (GAP) classifier.

    ``A = W * F`` are the pre-ReLU CAM logits; image logits are
    ``z = mean_{h,w} A`` (identical to ``W . GAP(F)``).

    Args:
        in_channels (int): Channels of the backbone feature used.
        num_classes (int): Number of foreground classes K.
        in_index (int): Which backbone output to use. Defaults to -1.
        dropout_ratio (float): Dropout2d on the feature before GAP during
            training only (RRM variant); the CAM is computed without it.
            Defaults to 0.
        init_std_mode (str): ``'kaiming'`` (std = sqrt(2/Cf), Puzzle-CAM,
            RS+EPM) or ``'xavier'`` (RRM). Defaults to ``'kaiming'``.
        loss_cls (dict): Config of the classification loss.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 in_index: int = -1,
                 dropout_ratio: float = 0.0,
                 init_std_mode: str = 'kaiming',
                 loss_cls: ConfigType = dict(
                     type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if init_std_mode not in ('kaiming', 'xavier'):
            raise ValueError(f'init_std_mode must be kaiming or xavier, '
                             f'got {init_std_mode!r}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.in_index = in_index
        self.init_std_mode = init_std_mode
        self.classifier = nn.Conv2d(in_channels, num_classes, 1, bias=False)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 \
            else None
        self.loss_cls = MODELS.build(loss_cls)
        self._reset_classifier()

    def _reset_classifier(self) -> None:
        w = self.classifier.weight
        if self.init_std_mode == 'kaiming':
            nn.init.kaiming_normal_(w, mode='fan_in', nonlinearity='relu')
        else:
            nn.init.xavier_uniform_(w)

    def init_weights(self) -> None:
        """Keep the official initialisation unless an init_cfg overrides it."""
        if self.init_cfg is not None:
            super().init_weights()

    def _select(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        if isinstance(feats, Tensor):
            return feats
        return feats[self.in_index]

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Pre-ReLU CAM logits, shape (B, K, h, w)."""
        return self.classifier(self._select(feats))

    def cam_and_logits(self, feats: Union[Tensor, Sequence[Tensor]]):
        """Return (CAM logits, image logits) in one pass.

        During training with dropout, the image logits are computed from the
        dropped-out feature while the CAM uses the clean feature.
        """
        feat = self._select(feats)
        cam = self.classifier(feat)
        if self.training and self.dropout is not None:
            logits = self.classifier(self.dropout(feat)).mean(dim=(2, 3))
        else:
            logits = cam.mean(dim=(2, 3))
        return cam, logits

    def loss_by_logits(self, logits: Tensor,
                       labels: Tensor) -> Dict[str, Tensor]:
        """Classification loss dict from image logits and labels."""
        return {self.loss_cls.loss_name: self.loss_cls(logits, labels)}

    def loss(self, feats: Union[Tensor, List[Tensor]],
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Classification loss of a batch; also logs the multi-label accuracy.
        """
        _, logits = self.cam_and_logits(feats)
        labels = stack_img_labels(data_samples).to(logits.device)
        losses = self.loss_by_logits(logits, labels)
        with torch.no_grad():
            losses['acc_cls'] = ((logits > 0).float() == labels).float().mean()
        return losses

    @staticmethod
    def init_std(in_channels: int) -> float:
        """Expected std of the Kaiming fan-in initialisation."""
        return math.sqrt(2.0 / in_channels)
