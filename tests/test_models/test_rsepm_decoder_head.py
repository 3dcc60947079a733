"""RSEPMDecoderHead: the plain-conv DeepLabV3+ head of RS+EPM."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmwsss.models.heads import RSEPMDecoderHead


def _official_param_count(c5=2048, c2=256, ch=256, low=256, ncls=21):
    """Parameters of the official RS+EPM decoder, counted by hand."""
    bn = 2 * ch  # BN gamma + beta
    aspp = (c5 * ch + bn)  # 1x1 branch
    aspp += 3 * (c5 * ch * 9 + bn)  # 3x3 d6/d12/d18
    aspp += c5 * ch + bn  # image pooling 1x1
    aspp += 5 * ch * ch + bn  # 1280 -> 256 1x1
    dec = c2 * low + 2 * low  # C2 -> 256 (the official low-level width)
    dec += (ch + low) * ch * 9 + bn  # 512 -> 256 3x3
    dec += ch * ch * 9 + bn  # 256 -> 256 3x3
    dec += ch * ncls * 9  # classifier 3x3, no bias
    return aspp + dec


def test_official_architecture_parameter_count_and_layers():
    head = MODELS.build(dict(type='RSEPMDecoderHead', num_classes=21))
    assert isinstance(head, BaseDecodeHead)
    n = sum(p.numel() for p in head.parameters())
    assert n == _official_param_count()
    assert head.conv_seg.kernel_size == (3, 3)
    assert head.conv_seg.bias is None
    assert head.aspp_bottleneck.conv.in_channels == 1280
    assert head.aspp_bottleneck.conv.kernel_size == (1, 1)
    assert head.decoder_conv1.conv.in_channels == 512
    # dropouts 0.5 (ASPP), 0.5 (decoder), 0.1 (classifier)
    assert isinstance(head.aspp_dropout, nn.Dropout)
    assert head.aspp_dropout.p == 0.5 and head.decoder_dropout.p == 0.5
    assert head.dropout.p == 0.1
    # conv(no bias)-BN-ReLU everywhere except the classifier
    for m in [
            head.aspp_bottleneck, head.c1_bottleneck, head.decoder_conv1,
            head.decoder_conv2, *head.aspp_convs, head.image_pool[1]
    ]:
        assert m.conv.bias is None and isinstance(m.bn, nn.BatchNorm2d)
    dil = [m.conv.dilation[0] for m in head.aspp_convs]
    ks = [m.conv.kernel_size[0] for m in head.aspp_convs]
    assert dil == [1, 6, 12, 18] and ks == [1, 3, 3, 3]


def _cbr(m, x):
    """conv -> BN (eval) -> ReLU with the weights of a ConvModule."""
    c, bn = m.conv, m.bn
    x = F.conv2d(x, c.weight, None, c.stride, c.padding, c.dilation)
    x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                     False, 0.0, bn.eps)
    return F.relu(x)


def _reference(head, c2, c5):
    """The head's data flow written with functional ops (eval mode)."""
    branches = [_cbr(m, c5) for m in head.aspp_convs]
    pooled = _cbr(head.image_pool[1], c5.mean(dim=(2, 3), keepdim=True))
    branches.append(pooled.expand(-1, -1, *c5.shape[2:]))
    x = _cbr(head.aspp_bottleneck, torch.cat(branches, 1))
    x = F.interpolate(
        x, size=c2.shape[2:], mode='bilinear', align_corners=False)
    x = torch.cat([x, _cbr(head.c1_bottleneck, c2)], 1)
    x = _cbr(head.decoder_conv2, _cbr(head.decoder_conv1, x))
    return F.conv2d(x, head.conv_seg.weight, None, padding=1)


def test_forward_matches_functional_reference():
    torch.manual_seed(0)
    head = RSEPMDecoderHead(
        in_channels=32,
        channels=16,
        c1_in_channels=8,
        c1_channels=4,
        num_classes=5)
    # non-trivial BN statistics
    for m in head.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    head.eval()
    c2 = torch.randn(2, 8, 24, 20)
    c5 = torch.randn(2, 32, 6, 5)
    feats = [c2, torch.randn(2, 4, 12, 10), torch.randn(2, 4, 6, 5), c5]
    out = head(feats)
    assert out.shape == (2, 5, 24, 20)
    torch.testing.assert_close(out, _reference(head, c2, c5))
    # train mode: dropout makes it stochastic, eval is deterministic
    head.train()
    torch.manual_seed(1)
    a = head(feats)
    b = head(feats)
    assert not torch.allclose(a, b)


def test_loss_by_feat_and_gradients_reach_every_parameter():
    torch.manual_seed(0)
    head = RSEPMDecoderHead(
        in_channels=16,
        channels=8,
        c1_in_channels=8,
        c1_channels=4,
        num_classes=3,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True))
    feats = [torch.randn(2, 8, 16, 16)] + [torch.randn(2, 16, 4, 4)] * 3
    seg = head(feats)
    samples = []
    for _ in range(2):
        ds = SegDataSample()
        lab = torch.randint(0, 3, (1, 16, 16))
        lab[:, :4] = 255
        ds.gt_sem_seg = PixelData(data=lab)
        samples.append(ds)
    losses = head.loss_by_feat(seg, samples)
    assert set(losses) == {'loss_ce', 'acc_seg'}
    # independent CE over the non-ignored pixels
    labs = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    ref = F.cross_entropy(seg, labs, ignore_index=255)
    assert losses['loss_ce'].item() == pytest.approx(ref.item(), rel=1e-5)
    losses['loss_ce'].backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_options_and_validation():
    head = RSEPMDecoderHead(
        in_channels=16,
        channels=8,
        c1_in_channels=8,
        num_classes=3,
        dropout_type='dropout2d',
        aspp_dropout_ratio=0.0,
        classifier_kernel=1,
        classifier_bias=True)
    assert isinstance(head.aspp_dropout, nn.Identity)
    assert isinstance(head.decoder_dropout, nn.Dropout2d)
    assert head.conv_seg.kernel_size == (1, 1) and head.conv_seg.bias \
        is not None
    with pytest.raises(ValueError):
        RSEPMDecoderHead(num_classes=3, dropout_type='alpha')
    with pytest.raises((ValueError, AssertionError)):
        RSEPMDecoderHead(
            in_channels=[16, 16],
            in_index=[2, 3],
            input_transform='multiple_select',
            num_classes=3)


def test_drop_in_encoder_decoder_by_config():
    """A stock mmseg EncoderDecoder trains with the head from a config."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(
                type='ResNet',
                depth=18,
                stem_channels=8,
                base_channels=8,
                strides=(1, 2, 2, 1),
                out_indices=(0, 1, 2, 3)),
            decode_head=dict(
                type='RSEPMDecoderHead',
                in_channels=64,
                channels=8,
                c1_in_channels=8,
                c1_channels=4,
                num_classes=3),
            train_cfg=dict(),
            test_cfg=ConfigDict(mode='whole')))
    x = torch.randn(2, 3, 64, 64)
    samples = []
    for _ in range(2):
        ds = SegDataSample()
        ds.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64)))
        ds.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 64, 64)))
        samples.append(ds)
    losses = model.loss(x, samples)
    assert torch.isfinite(losses['decode.loss_ce'])
    model.eval()
    with torch.no_grad():
        out = model.predict(x, samples)
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)
