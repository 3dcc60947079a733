"""mmseg CrossEntropyLoss with class_weight on labels with ignored pixels
(mmwsss.utils.compat.patch_weighted_cross_entropy)."""
import torch
import torch.nn.functional as F

import mmwsss  # noqa: F401

# isort: split
from mmseg.registry import MODELS

from mmwsss.utils.compat import patch_weighted_cross_entropy


def _data():
    torch.manual_seed(0)
    pred = torch.randn(2, 3, 4, 5)
    label = torch.randint(0, 3, (2, 4, 5))
    label[0, :2] = 255
    label[1, 3, 1:] = 255
    return pred, label


def test_class_weight_with_ignored_pixels_is_the_weighted_mean():
    assert patch_weighted_cross_entropy()  # mmseg 1.2.2 needs it
    pred, label = _data()
    w = [0.5, 2.0, 4.0]
    for avg_non_ignore in (True, False):
        loss = MODELS.build(
            dict(
                type='CrossEntropyLoss',
                class_weight=w,
                loss_weight=1.0,
                avg_non_ignore=avg_non_ignore))(
                    pred, label, ignore_index=255)
        # PyTorch's weighted mean over the non-ignored pixels
        ref = F.cross_entropy(
            pred, label, weight=torch.tensor(w), ignore_index=255)
        assert torch.allclose(
            loss, ref, atol=1e-6), (avg_non_ignore, loss, ref)
        # and by hand: sum_i w_y l_i / sum_i w_y over the kept pixels
        logp = pred.log_softmax(1)
        keep = label != 255
        y = label[keep]
        li = -logp.permute(0, 2, 3, 1)[keep][torch.arange(len(y)), y]
        wy = torch.tensor(w)[y]
        assert torch.allclose(loss, (wy * li).sum() / wy.sum(), atol=1e-6)


def test_without_class_weight_nothing_changes():
    pred, label = _data()
    keep = label != 255
    per_pixel = F.cross_entropy(
        pred, label, ignore_index=255, reduction='none')
    for avg_non_ignore, n in ((True, keep.sum()), (False, label.numel())):
        loss = MODELS.build(
            dict(type='CrossEntropyLoss', avg_non_ignore=avg_non_ignore))(
                pred, label, ignore_index=255)
        assert torch.allclose(loss, per_pixel.sum() / n, atol=1e-6)
