"""WSSSSegTTAModel: the merge modes and the CRF post-processing option."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import nn

from mmwsss.models.segmentors.wsss_seg_tta import WSSSSegTTAModel


class _Seg(nn.Module):
    out_channels = 3

    def __init__(self):
        super().__init__()
        self.data_preprocessor = nn.Identity()

    def test_step(self, data):  # pragma: no cover - merge_preds only
        raise NotImplementedError


def _tta(**kw):
    return WSSSSegTTAModel(module=_Seg(), **kw)


def _samples(logits, path='x.png'):
    out = []
    for lg in logits:
        ds = SegDataSample(metainfo=dict(img_path=path))
        ds.seg_logits = PixelData(data=lg)
        ds.gt_sem_seg = PixelData(data=torch.zeros(1, *lg.shape[1:]).long())
        out.append(ds)
    return out


def test_merge_modes():
    torch.manual_seed(0)
    logits = [torch.randn(3, 4, 5) * 3 for _ in range(4)]
    res = _tta(merge='logit_sum').merge_preds([_samples(logits)])[0]
    ref = torch.stack(logits).sum(0).softmax(0)
    assert torch.allclose(res.seg_logits.data, ref)
    assert torch.equal(res.pred_sem_seg.data[0], ref.argmax(0))
    res = _tta(merge='mean_softmax').merge_preds([_samples(logits)])[0]
    ref = torch.stack(logits).softmax(1).mean(0)
    assert torch.allclose(res.seg_logits.data, ref)
    assert 'gt_sem_seg' in res
    with pytest.raises(ValueError, match='merge'):
        _tta(merge='max')


def test_crf_post_processing_follows_edges(tmp_path):
    h, w = 40, 60
    img = np.full((h, w, 3), 60, np.uint8)
    img[:, 30:] = (220, 30, 30)
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, img[..., ::-1])
    # logits whose class-1 region is shifted 6 px left of the true edge
    lg = torch.zeros(3, h, w)
    lg[0, :, :24] = 1.0
    lg[1, :, 24:] = 1.0
    res = _tta(crf=dict(type='DenseCRF', preset='softmax')).merge_preds(
        [_samples([lg], path)])[0]
    pred = res.pred_sem_seg.data[0]
    assert (pred[:, 30:] == 1).float().mean() > 0.95
    assert (pred[:, :28] == 0).float().mean() > 0.95
    # the image must match the prediction size
    with pytest.raises(ValueError, match='size'):
        _tta(crf=dict(type='DenseCRF', preset='softmax')).merge_preds(
            [_samples([lg[:, :20]], path)])


class _RecordingCRF:
    """Stands in for the CRF: records its input, returns it unchanged."""

    def refine_probs(self, image, probs):
        self.seen = probs.copy()
        return probs


def test_keep_th_drops_weak_classes_before_the_crf(tmp_path):
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, np.zeros((2, 3, 3), np.uint8))
    # merged (mean_softmax of one view) probabilities, hand-set: class 2
    # never reaches 0.05 and is dropped, so the CRF sees classes 0 and 1
    # only (its unary of class 2 would otherwise pull pixels towards it)
    probs = torch.tensor([
        [[0.90, 0.20, 0.50], [0.60, 0.48, 0.03]],
        [[0.06, 0.77, 0.46], [0.37, 0.48, 0.93]],
        [[0.04, 0.03, 0.04], [0.03, 0.04, 0.04]],
    ])
    crf = _RecordingCRF()
    tta = _tta(merge='mean_softmax', keep_th=0.05)
    tta.crf = crf
    res = tta.merge_preds([_samples([probs.log()], path)])[0]
    np.testing.assert_allclose(crf.seen, probs[:2].numpy(), rtol=1e-6)
    assert torch.equal(res.seg_logits.data[2], torch.zeros(2, 3))
    assert res.pred_sem_seg.data[0].tolist() == [[0, 1, 0], [0, 0, 1]]
    # without keep_th every class stays (and nothing here differs)
    all_cls = _tta(merge='mean_softmax').merge_preds(
        [_samples([probs.log()], path)])[0]
    assert all_cls.pred_sem_seg.data[0].tolist() == [[0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match='keep_th'):
        _tta(keep_th=1.5)


def test_use_gt_labels_keeps_the_labelled_classes(tmp_path):
    # hand-set probabilities (bg, class 1, class 2) of a 2x3 image whose
    # labels say class 2 only: the class-1 pixels go to the better of
    # background / class 2, class 1 gets probability 0
    probs = torch.tensor([
        [[0.70, 0.20, 0.30], [0.10, 0.45, 0.25]],
        [[0.20, 0.70, 0.60], [0.10, 0.40, 0.05]],
        [[0.10, 0.10, 0.10], [0.80, 0.15, 0.70]],
    ])
    samples = _samples([probs.log()])
    samples[0].gt_img_labels = torch.tensor([0.0, 1.0])
    res = _tta(
        merge='mean_softmax', use_gt_labels=True).merge_preds([samples])[0]
    assert res.pred_sem_seg.data[0].tolist() == [[0, 0, 0], [2, 0, 2]]
    assert torch.equal(res.seg_logits.data[1], torch.zeros(2, 3))
    # with keep_th the labelled classes must also reach it: background
    # peaks at 0.70, class 2 at 0.80, so 0.75 keeps class 2 alone
    res = _tta(
        merge='mean_softmax', use_gt_labels=True,
        keep_th=0.75).merge_preds([samples])[0]
    assert res.pred_sem_seg.data[0].tolist() == [[2, 2, 2], [2, 2, 2]]
    # no labels / a label count that does not match the classes: one line
    with pytest.raises(ValueError, match='label_source'):
        _tta(use_gt_labels=True).merge_preds([_samples([probs.log()])])
    samples[0].gt_img_labels = torch.tensor([1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match='3 image labels'):
        _tta(use_gt_labels=True).merge_preds([samples])
