"""RRM segmentation branch: two dilated 3x3 convolutions."""
from typing import List, Union

import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['RRMSegHead']


@MODELS.register_module()
class RRMSegHead(BaseDecodeHead):
    """The segmentation branch of RRM (Zhang et al., AAAI 2020).

    ``Sg = conv_seg(relu(conv(F)))`` with ``conv`` a 3x3 convolution
    ``in_channels -> channels`` and ``conv_seg`` a 3x3 convolution
    ``channels -> num_classes``, both with dilation and padding
    ``dilation`` (12), with bias, no BN and no dropout [code]. Weights are
    Xavier-uniform and biases keep PyTorch's default unless an
    ``init_cfg`` is given.

    The losses are the head's ``loss_decode`` (mmseg's
    :meth:`loss_by_feat`); RRM uses ``BgFgCrossEntropyLoss`` and
    ``DenseEnergyLoss``. Any mmseg decode head can replace this one.

    Args:
        in_channels (int): Channels of the backbone feature (4096 for
            WideResNet-38, 2048 for ResNet).
        channels (int): Channels of the hidden layer. Defaults to 512.
        dilation (int): Dilation (and padding) of both convolutions.
            Defaults to 12.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``loss_decode``, ...). ``dropout_ratio`` defaults to 0 and
            ``init_cfg`` to None (Xavier-uniform, see above).
    """

    def __init__(self,
                 in_channels: int,
                 channels: int = 512,
                 dilation: int = 12,
                 dropout_ratio: float = 0.0,
                 init_cfg=None,
                 **kwargs) -> None:
        super().__init__(
            in_channels,
            channels,
            dropout_ratio=dropout_ratio,
            init_cfg=init_cfg,
            **kwargs)
        if dilation < 1:
            raise ValueError(f'dilation must be >= 1, got {dilation}')
        self.dilation = int(dilation)
        self.conv = nn.Conv2d(
            self.in_channels,
            self.channels,
            3,
            padding=self.dilation,
            dilation=self.dilation)
        self.conv_seg = nn.Conv2d(
            self.channels,
            self.out_channels,
            3,
            padding=self.dilation,
            dilation=self.dilation)
        self._reset_weights()

    def _reset_weights(self) -> None:
        for conv in (self.conv, self.conv_seg):
            nn.init.xavier_uniform_(conv.weight)

    def init_weights(self) -> None:
        """Xavier-uniform weights (set at construction) unless an
        ``init_cfg`` overrides them."""
        if self.init_cfg is not None:
            super().init_weights()

    def forward(self, inputs: Union[Tensor, List[Tensor]]) -> Tensor:
        """Segmentation logits at the feature resolution."""
        x = self._transform_inputs(inputs)
        x = F.relu(self.conv(x), inplace=False)
        return self.cls_seg(x)
