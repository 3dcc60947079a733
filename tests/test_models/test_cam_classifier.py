"""CAM head, MLSM loss and CAMClassifier against hand-worked values."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmwsss  # noqa: F401
from mmwsss.models.heads import CAMHead
from mmwsss.models.losses import multilabel_soft_margin_loss
from mmwsss.utils.cam_ops import normalise_cam


def test_mlsm_hand_worked():
    z = torch.tensor([[0.0, 2.0], [-1.0, 1.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])

    def nls(v):  # -log sigmoid(v)
        return math.log(1 + math.exp(-v))

    expected = (nls(0.0) + nls(-2.0) + nls(1.0) + nls(1.0)) / 4
    assert multilabel_soft_margin_loss(z, y).item() == pytest.approx(
        expected, rel=1e-6)
    # agrees with torch's own MultiLabelSoftMarginLoss (mean over batch of
    # the per-sample mean over classes)
    assert multilabel_soft_margin_loss(z, y).item() == pytest.approx(
        nn.MultiLabelSoftMarginLoss()(z, y).item(), rel=1e-6)
    with pytest.raises(ValueError, match='same shape'):
        multilabel_soft_margin_loss(z, y[:, :1])


def test_cam_head_gap_identity_and_init():
    torch.manual_seed(0)
    head = CAMHead(in_channels=512, num_classes=20)
    w = head.classifier.weight
    assert head.classifier.bias is None
    assert w.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.05)
    feat = torch.randn(2, 512, 5, 7)
    cam, logits = head.cam_and_logits([feat])
    direct = F.conv2d(feat.mean(dim=(2, 3), keepdim=True), w)[..., 0, 0]
    torch.testing.assert_close(logits, direct, rtol=1e-5, atol=1e-5)
    assert cam.shape == (2, 20, 5, 7)


def test_cam_head_dropout_only_in_training():
    head = CAMHead(in_channels=8, num_classes=3, dropout_ratio=0.5)
    feat = torch.randn(1, 8, 4, 4)
    head.eval()
    cam, logits = head.cam_and_logits(feat)
    torch.testing.assert_close(logits, cam.mean(dim=(2, 3)))
    head.train()
    torch.manual_seed(1)
    cam_t, logits_t = head.cam_and_logits(feat)
    torch.testing.assert_close(cam_t, cam)  # CAM never sees dropout
    assert not torch.allclose(logits_t, logits)


def test_normalise_hand_worked():
    x = torch.tensor([[[[-1.0, 2.0], [4.0, 0.0]]]])
    out = normalise_cam(x)
    expected = torch.tensor([[[[0.0, 2 / (4 + 1e-5)], [4 / (4 + 1e-5), 0.0]]]])
    torch.testing.assert_close(out, expected)


@MODELS.register_module(force=True)
class _PoolBackbone(BaseModule):
    """Test backbone: the input average-pooled to stride 4 (3 channels)."""

    def forward(self, x):
        return [F.avg_pool2d(x, 4)]


def _classifier(**test_cfg):
    model = MODELS.build(
        dict(
            type='CAMClassifier',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(type='_PoolBackbone'),
            cam_head=dict(type='CAMHead', in_channels=3, num_classes=2),
            test_cfg=test_cfg))
    # class 1 <- red channel, class 2 <- green channel
    with torch.no_grad():
        model.cam_head.classifier.weight.zero_()
        model.cam_head.classifier.weight[0, 0] = 1.0
        model.cam_head.classifier.weight[1, 1] = 1.0
    return model.eval()


def _sample(labels, shape=(16, 16)):
    ds = SegDataSample()
    ds.set_metainfo(dict(ori_shape=shape, img_shape=shape, pad_shape=shape))
    ds.gt_img_labels = torch.tensor(labels, dtype=torch.float32)
    return ds


def test_classifier_predict_hand_built():
    # red square on the left half, green everywhere at low level
    img = torch.zeros(1, 3, 16, 16)
    img[0, 0, :, :8] = 1.0
    img[0, 1] = 0.05
    model = _classifier(bg_threshold=0.5)
    out = model.predict(img, [_sample([1, 0])])[0]
    pred = out.pred_sem_seg.data[0]
    # class 2 is absent in the labels -> never predicted
    assert not (pred == 2).any()
    # well inside the left half CAM(1) = 1 > 0.5 -> class 1; right half bg
    assert (pred[:, :6] == 1).all() and (pred[:, 10:] == 0).all()
    assert out.cam_keys.tolist() == [0, 1]
    assert out.pred_cam.data.shape == (1, 16, 16)
    # with both labels, green CAM is constant 1 after normalisation -> the
    # right half becomes class 2, the left half stays class 1 (1 vs 1: argmax
    # takes the first, class 1)
    out2 = model.predict(img, [_sample([1, 1])])[0]
    pred2 = out2.pred_sem_seg.data[0]
    assert (pred2[:, 10:] == 2).all() and (pred2[:, :6] == 1).all()


def test_classifier_predict_without_labels_uses_confidence():
    img = torch.zeros(1, 3, 16, 16)
    img[0, 0] = 4.0  # red logit 4 -> sigmoid 0.98 ; green logit 0 -> 0.5
    model = _classifier(bg_threshold=0.5, conf_th=0.6)
    ds = SegDataSample()
    ds.set_metainfo(dict(ori_shape=(16, 16), img_shape=(16, 16)))
    out = model.predict(img, [ds])[0]
    assert out.cam_keys.tolist() == [0, 1]
    assert (out.pred_sem_seg.data == 1).all()


def test_classifier_loss_backward():
    model = _classifier()
    model.train()
    img = torch.rand(2, 3, 16, 16)
    losses = model.loss(img, [_sample([1, 0]), _sample([0, 1])])
    assert set(losses) == {'loss_cls', 'acc_cls'}
    losses['loss_cls'].backward()
    assert model.cam_head.classifier.weight.grad is not None


def test_classifier_missing_labels_error():
    model = _classifier()
    ds = SegDataSample()
    ds.set_metainfo(dict(img_path='/data/x.jpg'))
    with pytest.raises(KeyError, match='x.jpg.*PackWSSSInputs'):
        model.loss(torch.rand(1, 3, 16, 16), [ds])
