"""RecurSeedLoss: L_rec of RS+EPM, with its inferred loss forms and
resize orders."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmwsss.models.losses import RecurSeedLoss, recurseed_loss


def _hand_case():
    """B=2, K=2, 2x2 maps; the expected values are worked out below."""
    cam = torch.tensor([
        [[[2., -1.], [1., 0.]], [[5., 5.], [5., 5.]]],  # class 1 absent
        [[[-1., -2.], [-3., -4.]], [[4., 4.], [4., 4.]]],
    ])
    target = torch.tensor([
        [[[1., .5], [0., 1.]], [[0., 0.], [0., 0.]]],
        [[[.25, 0.], [0., 0.]], [[1., 1.], [1., 1.]]],
    ])
    labels = torch.tensor([[1., 0.], [1., 1.]])
    valid = torch.ones(2, 2, 2, dtype=torch.bool)
    valid[0, 1, 1] = False
    return cam, target, labels, valid


# Worked by hand (eps = 1e-5), sum over present classes x valid pixels,
# divided by |Y_0||valid_0| + |Y_1||valid_1| = 1*3 + 2*4 = 11:
# image 0, class 0: norm = [2/2.00001, 0; 1/2.00001, (invalid)]
#   |err| = 0.000005 + 0.5 + 0.4999975                      = 1.0000025
# image 1, class 0: relu = 0 -> norm 0; |err| = 0.25
# image 1, class 1: norm = 4/4.00001 = 0.9999975; |err| = 4 * 2.5e-6 = 1e-5
L1_EXPECTED = (1.0000025 + 0.25 + 0.00001) / 11
# mse: 0.5^2 + 0.4999975^2 + 0.25^2 (+ ~1e-11)
MSE_EXPECTED = (0.25 + 0.4999975**2 + 0.0625) / 11


def _sig(x):
    return 1 / (1 + math.exp(-x))


# l1_sigmoid: image 0 class 0 over 3 valid pixels, image 1 both classes
SIG_EXPECTED = (abs(_sig(2) - 1) + abs(_sig(-1) - .5) + abs(_sig(1) - 0) +
                abs(_sig(-1) - .25) + _sig(-2) + _sig(-3) + _sig(-4) +
                4 * abs(_sig(4) - 1)) / 11


@pytest.mark.parametrize('form,expected', [('l1_norm_cam', L1_EXPECTED),
                                           ('mse', MSE_EXPECTED),
                                           ('l1_sigmoid', SIG_EXPECTED)])
def test_hand_worked_values(form, expected):
    cam, target, labels, valid = _hand_case()
    loss = recurseed_loss(cam, target, labels, valid, form=form)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    module = RecurSeedLoss(form=form, loss_weight=2.0)
    assert module(cam, target, labels, valid).item() == pytest.approx(
        2 * expected, rel=1e-5)


def test_l1_value_hand_number():
    # the same number written out: 1.2500125 / 11
    cam, target, labels, valid = _hand_case()
    assert recurseed_loss(cam, target, labels, valid).item() == \
        pytest.approx(0.1136375, abs=1e-6)


def _loop_reference(cam, target, labels, valid):
    """Direct loops over b, k, pixels (norm on the given grid)."""
    B, K, h, w = cam.shape
    num, den = 0.0, 0.0
    for b in range(B):
        nv = int(valid[b].sum())
        for k in range(K):
            if labels[b, k] < 0.5:
                continue
            den += nv
            mx = max(
                max(float(cam[b, k, i, j]), 0.0) for i in range(h)
                for j in range(w))
            for i in range(h):
                for j in range(w):
                    if valid[b, i, j]:
                        m = max(float(cam[b, k, i, j]), 0.0) / (mx + 1e-5)
                        num += abs(m - float(target[b, k, i, j]))
    return num / max(den, 1.0)


def test_random_against_loops():
    torch.manual_seed(0)
    cam = torch.randn(3, 4, 5, 6)
    target = torch.rand(3, 4, 5, 6)
    labels = (torch.rand(3, 4) > 0.4).float()
    labels[2] = 0  # an image without classes
    valid = torch.rand(3, 5, 6) > 0.3
    ref = _loop_reference(cam, target, labels, valid)
    assert recurseed_loss(cam, target, labels, valid).item() == \
        pytest.approx(ref, rel=1e-5)
    # valid=None means all valid
    ref_all = _loop_reference(cam, target, labels,
                              torch.ones(3, 5, 6, dtype=torch.bool))
    assert recurseed_loss(cam, target, labels).item() == pytest.approx(
        ref_all, rel=1e-5)


def test_coarse_cam_is_normalised_then_resized():
    """A coarser CAM: bilinear(norm(A)) (default) or norm(bilinear(A))."""
    torch.manual_seed(1)
    cam = torch.randn(2, 3, 4, 4)
    target = torch.rand(2, 3, 16, 16)
    labels = torch.tensor([[1., 0., 1.], [0., 1., 0.]])
    valid = torch.rand(2, 16, 16) > 0.2
    r = F.relu(cam)
    norm = r / (r.amax(dim=(2, 3), keepdim=True) + 1e-5)
    up = F.interpolate(norm, (16, 16), mode='bilinear', align_corners=False)
    ref = _loop_reference_maps(up, target, labels, valid)
    assert recurseed_loss(cam, target, labels, valid).item() == \
        pytest.approx(ref, rel=1e-5)
    up2 = F.interpolate(cam, (16, 16), mode='bilinear', align_corners=False)
    r2 = F.relu(up2)
    norm2 = r2 / (r2.amax(dim=(2, 3), keepdim=True) + 1e-5)
    ref2 = _loop_reference_maps(norm2, target, labels, valid)
    got2 = recurseed_loss(
        cam, target, labels, valid, resize_order='resize_first').item()
    assert got2 == pytest.approx(ref2, rel=1e-5)
    assert abs(ref - ref2) > 1e-4  # the two orders really differ


def _loop_reference_maps(maps, target, labels, valid):
    B, K = maps.shape[:2]
    num, den = 0.0, 0.0
    for b in range(B):
        for k in range(K):
            if labels[b, k] > 0.5:
                d = (maps[b, k] - target[b, k]).abs()[valid[b]]
                num += float(d.sum())
                den += int(valid[b].sum())
    return num / max(den, 1.0)


def test_gradient_only_into_cam_of_present_valid_pixels():
    cam, target, labels, valid = _hand_case()
    cam = cam.clone().requires_grad_(True)
    target = target.clone().requires_grad_(True)
    recurseed_loss(cam, target, labels, valid).backward()
    assert target.grad is None  # the seed is detached
    assert torch.all(cam.grad[0, 1] == 0)  # absent class
    assert cam.grad[0, 0, 1, 1] == 0  # invalid pixel, not the max
    assert torch.all(cam.grad[1, 0] == 0)  # relu'(x < 0) = 0
    # the max pixel receives gradient through the normalisation too
    assert cam.grad[0, 0].abs().sum() > 0


def test_empty_batch_is_zero_with_graph():
    cam = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = recurseed_loss(cam, torch.rand(2, 3, 4, 4), torch.zeros(2, 3))
    assert loss.item() == 0
    loss.backward()
    assert torch.all(cam.grad == 0)


def test_registered_and_validates():
    loss = MODELS.build(dict(type='RecurSeedLoss', loss_name='loss_x'))
    assert isinstance(loss, RecurSeedLoss) and loss.loss_name == 'loss_x'
    with pytest.raises(ValueError):
        RecurSeedLoss(form='l2')
    with pytest.raises(ValueError):
        RecurSeedLoss(resize_order='other')
    with pytest.raises(ValueError):
        recurseed_loss(
            torch.rand(1, 2, 4, 4), torch.rand(1, 3, 4, 4), torch.ones(1, 3))
    with pytest.raises(ValueError):
        recurseed_loss(
            torch.rand(1, 2, 4, 4), torch.rand(1, 2, 4, 4), torch.ones(1, 2),
            torch.ones(1, 3, 3, dtype=torch.bool))
