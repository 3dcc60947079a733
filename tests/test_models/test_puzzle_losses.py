"""Puzzle-CAM losses (L_cls, L_p-cls, L_re) against hand-worked values."""
import math

import pytest
import torch
from mmseg.registry import MODELS

from mmwsss.models.heads import PuzzleCAMHead
from mmwsss.models.losses import puzzle_reconstruction_loss

# 2 images, K = 2 classes, 2 x 2 cells; class 1 is absent in image 0
A = torch.tensor([
    [[[1., 2.], [3., 4.]], [[5., 5.], [5., 5.]]],
    [[[0., 0.], [0., 0.]], [[-1., 0.], [0., 0.]]],
])
A_RE = torch.tensor([
    [[[1., 0.], [3., 8.]], [[0., 0.], [0., 0.]]],
    [[[1., 1.], [1., 1.]], [[1., 0.], [0., 0.]]],
])
Y = torch.tensor([[1., 0.], [1., 1.]])
# |A - A_re| summed per (b, k): (0,0) 0+2+0+4=6, (0,1) 20 (absent),
# (1,0) 4, (1,1) 2 ; B*K*h*w = 16


@pytest.mark.parametrize(
    'kwargs,expected',
    [
        (dict(), (6 + 4 + 2) / 16),  # masking: mean over ALL 16 elements
        (dict(re_mask='none'), (6 + 20 + 4 + 2) / 16),
        # per image mean over present classes: (6/4 + 6/8) / 2
        (dict(re_mask='selection'), (6 / 4 + (4 + 2) / 8) / 2),
        # squares: (0+4+0+16) + 4 + 4
        (dict(re_loss='l2'), (20 + 4 + 4) / 16),
    ])
def test_reconstruction_loss_hand_worked(kwargs, expected):
    loss = puzzle_reconstruction_loss(A, A_RE, Y, **kwargs)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # registered module, same numbers
    module = MODELS.build(dict(type='PuzzleReconstructionLoss', **kwargs))
    assert module(A, A_RE, Y).item() == pytest.approx(expected, rel=1e-6)


def test_reconstruction_loss_cam_level():
    # relu + max-normalise both maps first: (b0,k0) A -> [1,2,3,4]/4,
    # A_re -> [1,0,3,8]/8: |diff| = 1/8 + 1/2 + 3/8 + 0 = 1;
    # (b1,k0) 0 vs 1 everywhere: 4; (b1,k1) 0 vs [1,0,0,0]: 1
    loss = puzzle_reconstruction_loss(A, A_RE, Y, re_level='cam')
    assert loss.item() == pytest.approx((1 + 4 + 1) / 16, rel=1e-4)


def test_reconstruction_loss_selection_empty_image():
    # the official result of an image without labels is NaN (0 / 0): a
    # clear error naming the option instead of a silent 0
    y = torch.tensor([[0., 0.], [1., 1.]])
    with pytest.raises(ValueError, match=r"re_mask='selection'.*\[0\]"):
        puzzle_reconstruction_loss(A, A_RE, y, re_mask='selection')


def test_reconstruction_loss_gradients_reach_both_maps():
    a = A.clone().requires_grad_(True)
    a_re = A_RE.clone().requires_grad_(True)
    puzzle_reconstruction_loss(a, a_re, Y).backward()
    # d|a - b|/da = sign(a - b) * y / 16, opposite for b
    expected = torch.sign(A - A_RE) * Y[:, :, None, None] / 16
    torch.testing.assert_close(a.grad, expected)
    torch.testing.assert_close(a_re.grad, -expected)


def test_reconstruction_loss_errors():
    with pytest.raises(ValueError, match='re_mask'):
        puzzle_reconstruction_loss(A, A_RE, Y, re_mask='mean')
    with pytest.raises(ValueError, match='same shape'):
        puzzle_reconstruction_loss(A, A_RE[..., :1], Y)
    with pytest.raises(ValueError, match='re_level'):
        MODELS.build(dict(type='PuzzleReconstructionLoss', re_level='x'))


def _nls(z, y):
    """-[y log s(z) + (1 - y) log s(-z)] for one entry."""
    return math.log1p(math.exp(-z)) if y else math.log1p(math.exp(z))


def test_head_loss_puzzle_hand_worked():
    head = PuzzleCAMHead(in_channels=4, num_classes=2)
    losses = head.loss_puzzle(A, A_RE, Y, alpha=2.0)
    # GAP of A: (2.5, 5 | 0, -0.25); GAP of A_re: (3, 0 | 1, 0.25)
    l_cls = (_nls(2.5, 1) + _nls(5, 0) + _nls(0, 1) + _nls(-0.25, 1)) / 4
    l_pcl = (_nls(3, 1) + _nls(0, 0) + _nls(1, 1) + _nls(0.25, 1)) / 4
    assert losses['loss_cls'].item() == pytest.approx(l_cls, rel=1e-6)
    assert losses['loss_pcl'].item() == pytest.approx(l_pcl, rel=1e-6)
    assert losses['loss_re'].item() == pytest.approx(2.0 * 12 / 16, rel=1e-6)
    assert losses['re_raw'].item() == pytest.approx(12 / 16, rel=1e-6)
    # acc: logits > 0 vs labels: (1,1 | 0,0) vs (1,0 | 1,1) -> 1 of 4
    assert losses['acc_cls'].item() == pytest.approx(0.25)
    # use_pcl=False drops L_pcl; the summed keys are the three losses
    head2 = PuzzleCAMHead(in_channels=4, num_classes=2, use_pcl=False)
    assert 'loss_pcl' not in head2.loss_puzzle(A, A_RE, Y, alpha=1.0)
    assert sorted(k for k in losses
                  if 'loss' in k) == ['loss_cls', 'loss_pcl', 'loss_re']


def test_head_cam_level_pcl_on_the_normalised_merged_map():
    head = PuzzleCAMHead(
        in_channels=4,
        num_classes=2,
        loss_re=dict(type='PuzzleReconstructionLoss', re_level='cam'))
    losses = head.loss_puzzle(A, A_RE, Y, alpha=1.0)
    # relu + max-normalise A_re per (b, k): (b0,k0) [1,0,3,8]/8 -> mean
    # 12/32 = 0.375; (b0,k1) all 0 -> 0; (b1,k0) all 1 -> 1 (max 1, so
    # 1 / (1 + 1e-5)); (b1,k1) [1,0,0,0] -> 0.25
    e = 1e-5
    g = (12 / (8 + e) / 4, 0.0, 1 / (1 + e), 0.25 / (1 + e))
    l_pcl = (_nls(g[0], 1) + _nls(g[1], 0) + _nls(g[2], 1) +
             _nls(g[3], 1)) / 4
    assert losses['loss_pcl'].item() == pytest.approx(l_pcl, rel=1e-6)
    # L_cls stays on the raw map
    l_cls = (_nls(2.5, 1) + _nls(5, 0) + _nls(0, 1) + _nls(-0.25, 1)) / 4
    assert losses['loss_cls'].item() == pytest.approx(l_cls, rel=1e-6)
