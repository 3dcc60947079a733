"""Plain-convolution DeepLabV3+ decoder of RS+EPM (the official head)."""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['RSEPMDecoderHead']

DROPOUT_TYPES = ('dropout', 'dropout2d')


def _dropout(p: float, kind: str) -> nn.Module:
    if p <= 0:
        return nn.Identity()
    return nn.Dropout(p) if kind == 'dropout' else nn.Dropout2d(p)


@MODELS.register_module()
class RSEPMDecoderHead(BaseDecodeHead):
    """The faithful RS+EPM DeepLabV3+ head (``decoder_type='official'``).

    Architecture [code]::

        ASPP(C5): 1x1 | 3x3 d6 | 3x3 d12 | 3x3 d18 | GAP -> 1x1 -> upsample
                  every branch conv(no bias)-BN-ReLU, 256 ch
                  concat (1280) -> 1x1 256 conv-BN-ReLU -> Dropout 0.5
        C2 -> 1x1 256 conv-BN-ReLU (the official decoder's low-level width)
        concat(bilinear(ASPP, size(C2)), C2') (512)
          -> 3x3 256 conv-BN-ReLU -> Dropout 0.5
          -> 3x3 256 conv-BN-ReLU -> Dropout 0.1
          -> 3x3 conv to num_classes (= K + 1), no bias      (stride 4)

    Unlike mmseg's :class:`DepthwiseSeparableASPPHead` it uses plain 3x3
    convolutions, a 1x1 ASPP bottleneck, two Dropout 0.5 layers and a 3x3
    classifier without bias. It is a :class:`BaseDecodeHead`, so it drops
    into any mmseg segmentor by config and ``loss_by_feat`` works as usual.

    The element-wise ``nn.Dropout`` (not ``Dropout2d``) is [inferred]: the
    layer list of the official head only says "Dropout";
    ``dropout_type='dropout2d'`` switches all three
    dropouts. The classifier keeps mmseg's ``Normal(std=0.01)`` init of
    ``conv_seg``; the other convolutions use ``ConvModule``'s Kaiming init
    [inferred]. Concatenation orders follow that layer list: the ASPP
    branches by rate with the pooling branch last, then
    ``[ASPP, C2']`` in the decoder [inferred].

    Args:
        in_channels (int): Channels of the high-level input (C5).
        channels (int): ASPP / decoder width. Defaults to 256 [code].
        dilations (Sequence[int]): ASPP rates; 1 gives the 1x1 branch.
            Defaults to ``(1, 6, 12, 18)`` [code].
        c1_in_channels (int): Channels of the low-level input (C2).
            Defaults to 256.
        c1_channels (int): Low-level projection width. Defaults to 256
            [code] (48 is the DeepLabV3+ textbook value, not the official
            RS+EPM decoder's).
        c1_index (int): Index of the low-level feature in the backbone
            outputs. Defaults to 0.
        aspp_dropout_ratio (float): Dropout after the ASPP bottleneck.
            Defaults to 0.5 [code].
        decoder_dropout_ratio (float): Dropout after the first 3x3 decoder
            conv. Defaults to 0.5 [code].
        dropout_ratio (float): Dropout before the classifier (mmseg's
            ``cls_seg``). Defaults to 0.1 [code].
        dropout_type (str): ``'dropout'`` or ``'dropout2d'``. Defaults to
            ``'dropout'`` [inferred].
        classifier_kernel (int): Kernel size of the classifier. Defaults to
            3 [code].
        classifier_bias (bool): Defaults to False [code].
        norm_cfg (dict): Defaults to trainable BN [code].
        **kwargs: :class:`BaseDecodeHead` arguments (``num_classes``,
            ``in_index`` (default 3 = C5), ``align_corners``,
            ``loss_decode``, ...).
    """

    def __init__(self,
                 in_channels: int = 2048,
                 channels: int = 256,
                 dilations: Sequence[int] = (1, 6, 12, 18),
                 c1_in_channels: int = 256,
                 c1_channels: int = 256,
                 c1_index: int = 0,
                 aspp_dropout_ratio: float = 0.5,
                 decoder_dropout_ratio: float = 0.5,
                 dropout_ratio: float = 0.1,
                 dropout_type: str = 'dropout',
                 classifier_kernel: int = 3,
                 classifier_bias: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 in_index: int = 3,
                 **kwargs) -> None:
        if dropout_type not in DROPOUT_TYPES:
            raise ValueError(f'dropout_type must be in {DROPOUT_TYPES}, '
                             f'got {dropout_type!r}')
        super().__init__(
            in_channels,
            channels,
            dropout_ratio=dropout_ratio,
            norm_cfg=norm_cfg,
            in_index=in_index,
            **kwargs)
        if self.input_transform is not None:
            raise ValueError('RSEPMDecoderHead takes one high-level input '
                             '(in_index int, input_transform None)')
        self.dilations = tuple(dilations)
        self.c1_index = c1_index
        self.dropout_type = dropout_type
        conv_kw = dict(
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            ConvModule(self.in_channels, channels, 1, **conv_kw))
        self.aspp_convs = nn.ModuleList([
            ConvModule(
                self.in_channels,
                channels,
                1 if d == 1 else 3,
                dilation=d,
                padding=0 if d == 1 else d,
                **conv_kw) for d in self.dilations
        ])
        self.aspp_bottleneck = ConvModule((len(self.dilations) + 1) * channels,
                                          channels, 1, **conv_kw)
        self.aspp_dropout = _dropout(aspp_dropout_ratio, dropout_type)
        self.c1_bottleneck = ConvModule(c1_in_channels, c1_channels, 1,
                                        **conv_kw)
        self.decoder_conv1 = ConvModule(
            channels + c1_channels, channels, 3, padding=1, **conv_kw)
        self.decoder_dropout = _dropout(decoder_dropout_ratio, dropout_type)
        self.decoder_conv2 = ConvModule(
            channels, channels, 3, padding=1, **conv_kw)
        # mmseg's cls_seg: self.dropout -> self.conv_seg
        self.dropout = _dropout(dropout_ratio, dropout_type) \
            if dropout_ratio > 0 else None
        self.conv_seg = nn.Conv2d(
            channels,
            self.out_channels,
            classifier_kernel,
            padding=classifier_kernel // 2,
            bias=classifier_bias)

    def aspp(self, x: Tensor) -> Tensor:
        """ASPP with image pooling, bottleneck and dropout (stride of x)."""
        outs: List[Tensor] = [conv(x) for conv in self.aspp_convs]
        outs.append(
            resize(
                self.image_pool(x),
                size=x.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners))
        return self.aspp_dropout(self.aspp_bottleneck(torch.cat(outs, 1)))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Segmentation logits (B, num_classes, h_C2, w_C2)."""
        x = self.aspp(self._transform_inputs(inputs))
        c1 = self.c1_bottleneck(inputs[self.c1_index])
        x = resize(
            x,
            size=c1.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        x = self.decoder_conv1(torch.cat([x, c1], dim=1))
        x = self.decoder_conv2(self.decoder_dropout(x))
        return self.cls_seg(x)
