"""Boundary network parts: affinity loss (hand-worked), label resizing,
stem capture, edge inference (padding + flip as in the official edge
inference)."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmwsss.models.heads.boundary_head import BoundaryHead
from mmwsss.models.losses.affinity_loss import (AffinityLoss,
                                                affinity_loss_terms)


def test_affinity_loss_hand_worked():
    aff = torch.tensor([0.9, 0.5, 0.2, 0.8, 0.1, 0.6])
    pos_bg = torch.tensor([1, 1, 0, 0, 0, 0], dtype=torch.bool)
    pos_fg = torch.tensor([0, 0, 0, 1, 0, 0], dtype=torch.bool)
    neg = torch.tensor([0, 0, 1, 0, 1, 1], dtype=torch.bool)
    e = 1e-5
    l_bg = (-math.log(0.9 + e) - math.log(0.5 + e)) / (2 + e)
    l_fg = -math.log(0.8 + e) / (1 + e)
    l_neg = (-math.log(1 + e - 0.2) - math.log(1 + e - 0.1) -
             math.log(1 + e - 0.6)) / (3 + e)
    t = affinity_loss_terms(aff, pos_bg, pos_fg, neg)
    assert float(t['bg']) == pytest.approx(l_bg, rel=1e-6)
    assert float(t['fg']) == pytest.approx(l_fg, rel=1e-6)
    assert float(t['neg']) == pytest.approx(l_neg, rel=1e-6)
    loss = AffinityLoss(loss_weight=2.0)(aff, pos_bg, pos_fg, neg)
    assert float(loss) == pytest.approx(
        2.0 * ((l_bg + l_fg) / 2 + l_neg) / 2, rel=1e-6)
    # no pairs of a kind: that term is 0, not NaN
    z = torch.zeros(6, dtype=torch.bool)
    assert float(affinity_loss_terms(aff, z, z, neg)['bg']) == 0.0


def test_head_label_resize_samples_pixel_centres():
    head = BoundaryHead(radius=2)
    lab = torch.arange(16 * 16).view(1, 1, 16, 16) % 251
    pos_bg, pos_fg, neg = head.affinity_targets(lab, (4, 4))
    # PIL NEAREST at x0.25 picks pixel 4i + 2 (nearest-exact)
    small = F.interpolate(lab.float(), size=(4, 4), mode='nearest-exact')
    assert small[0, 0, 1, 2] == lab[0, 0, 6, 10]
    assert pos_bg.shape == (1, 4, 3, 2)
    assert not pos_bg.any() and not pos_fg.any() and neg.all()


def _tiny_boundary_net(**kw):
    cfg = dict(
        type='BoundaryNet',
        backbone=dict(
            type='ResNet',
            depth=18,
            strides=(1, 2, 2, 1),
            out_indices=(0, 1, 2, 3),
            norm_eval=True),
        boundary_head=dict(
            type='BoundaryHead', in_channels=(64, 64, 128, 256, 512),
            radius=5))
    cfg.update(kw)
    return MODELS.build(cfg)


def test_stem_feature_and_frozen_backbone():
    model = _tiny_boundary_net()
    feats = model.extract_feat(torch.randn(1, 3, 64, 48))
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 16, 12), (64, 16, 12),
                                                   (128, 8, 6), (256, 4, 3),
                                                   (512, 4, 3)]
    assert all(not f.requires_grad for f in feats)
    model.train()
    assert not model.backbone.training and model.boundary_head.training
    with pytest.raises(ValueError, match='no module "stem"'):
        _tiny_boundary_net(stem_module='stem')


def test_extract_edge_pad_and_flip():
    """With an edge 'network' that is a 4x4 average of the first input
    channel, the flip-averaged, cropped map equals the map of the unpadded
    image: the padding never enters the flipped map."""
    model = _tiny_boundary_net(test_cfg=dict(edge_pad_size=64))
    model.forward_edge = lambda x: F.avg_pool2d(x[:, :1], 4)
    x = torch.zeros(2, 3, 40, 56)
    x[0] = torch.randn(3, 40, 56)
    x[1, :, :24, :36] = torch.randn(3, 24, 36)
    e = model.extract_edge(x, sizes=[(40, 56), (24, 36)])
    assert e.shape == (2, 10, 14)
    assert torch.allclose(e[0],
                          torch.sigmoid(F.avg_pool2d(x[:1, :1], 4))[0, 0])
    ref1 = torch.sigmoid(F.avg_pool2d(x[1:, :1, :24, :36], 4))[0, 0]
    assert torch.allclose(e[1, :6, :9], ref1)
    assert torch.all(e[1, 6:] == 1) and torch.all(e[1, :, 9:] == 1)
