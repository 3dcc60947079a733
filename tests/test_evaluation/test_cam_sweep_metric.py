"""Tests of CAMSweepMetric."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

from mmwsss.evaluation import (CAMSweepMetric, confusion_to_metrics,
                               label_confusion, sweep_confusion,
                               thresholds_from)

CLASSES = ('background', 'a', 'b', 'c', 'd')


def make_sample(rng, H=12, W=16, present=(0, 2)):
    keys = np.array([0] + [k + 1 for k in present])
    cam = rng.random((len(present), H, W)).astype(np.float32)
    gt = rng.integers(0, len(CLASSES), size=(H, W))
    gt[0, :3] = 255
    return cam, keys, gt


def as_dict(cam, keys, gt):
    return dict(
        pred_cam=dict(data=torch.from_numpy(cam)),
        cam_keys=torch.from_numpy(keys),
        gt_sem_seg=dict(data=torch.from_numpy(gt)[None]),
        img_path='x.jpg')


def build(**kwargs):
    metric = METRICS.build(dict(type='CAMSweepMetric', **kwargs))
    metric.dataset_meta = dict(classes=CLASSES)
    return metric


def test_sweep_metric_matches_functional():
    rng = np.random.default_rng(0)
    samples = [
        make_sample(rng, present=p) for p in [(0, 2), (1, ), (3, 2), ()]
    ]
    metric = build()
    metric.process({}, [as_dict(*s) for s in samples[:2]])
    metric.process({}, [as_dict(*s) for s in samples[2:]])
    assert len(metric.results) == 2
    res = metric.evaluate(4)
    thr = thresholds_from()
    conf = sum(sweep_confusion(c, k, g, thr, 5) for c, k, g in samples)
    curve = confusion_to_metrics(conf)['mIoU']
    best = int(np.argmax(curve))
    assert res['best_thr'] == thr[best]
    assert res['mIoU'] == pytest.approx(round(100 * curve[best], 2))
    m = confusion_to_metrics(conf[best])
    for k in ('FP', 'FN', 'FP_BG', 'FP_FG'):
        assert res[k] == pytest.approx(m[k], abs=1e-4)
    assert 0 <= res['FP'] <= 1


def test_metric_gt_vs_itself_and_seg_data_sample():
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 5, size=(10, 11))
    present = np.unique(gt)[np.unique(gt) > 0] - 1
    cam = np.stack([(gt == k + 1).astype(np.float32) for k in present])
    ds = SegDataSample()
    ds.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
    ds.pred_cam = PixelData(data=torch.from_numpy(cam))
    ds.cam_keys = torch.tensor([0] + [k + 1 for k in present])
    metric = build(over_under=True)
    metric.process({}, [ds.to_dict()])
    res = metric.evaluate(1)
    assert res['mIoU'] == 100.0
    assert res['FP'] == 0 and res['FN'] == 0
    assert 'over_thr' in res and 'under_mIoU' in res
    assert metric.last_summary['per_class']['class'] == list(CLASSES)


def test_metric_without_keys_uses_all_channels():
    rng = np.random.default_rng(2)
    cam, keys, gt = make_sample(rng)
    full = np.zeros((4, ) + cam.shape[1:], dtype=np.float32)
    full[keys[1:] - 1] = cam
    a, b = build(), build()
    a.process({}, [as_dict(cam, keys, gt)])
    b.process({}, [
        dict(
            pred_cam=torch.from_numpy(full),
            gt_sem_seg=dict(data=torch.from_numpy(gt)[None]))
    ])
    # C channels (seg_logits style): channel 0 dropped
    c = build(cam_key='seg_logits')
    c.process({}, [
        dict(
            seg_logits=dict(
                data=torch.from_numpy(
                    np.concatenate([np.full_like(full[:1], 0.3), full]))),
            gt_sem_seg=dict(data=torch.from_numpy(gt)[None]))
    ])
    torch.testing.assert_close(a.results[0][0], b.results[0][0])
    torch.testing.assert_close(a.results[0][0], c.results[0][0])


def test_png_mode():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 5, size=(9, 9))
    pred = rng.integers(0, 5, size=(9, 9))
    pred[0, 0] = 255
    metric = build(mode='png')
    metric.process({}, [
        dict(
            pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
            gt_sem_seg=dict(data=torch.from_numpy(gt)[None]))
    ])
    res = metric.evaluate(1)
    m = confusion_to_metrics(label_confusion(pred, gt, 5, pred_ignore='miss'))
    assert 'best_thr' not in res
    assert res['mIoU'] == pytest.approx(round(100 * m['mIoU'], 2))
    assert res['FN'] == pytest.approx(m['FN'], abs=1e-4)


def test_metric_errors_name_the_image():
    rng = np.random.default_rng(4)
    cam, keys, gt = make_sample(rng)
    metric = build()
    sample = as_dict(cam, keys, gt[:5])
    sample['img_path'] = 'some/img_007.jpg'
    with pytest.raises(ValueError, match='img_007'):
        metric.process({}, [sample])
    with pytest.raises(ValueError):
        CAMSweepMetric(mode='bogus')


def test_monitoring_resize_gt():
    gt = torch.zeros(8, 8, dtype=torch.long)
    gt[:, 4:] = 1
    cam = torch.zeros(1, 2, 2)
    cam[0, :, 1] = 1.0
    metric = build(resize_gt_to_cam=True)
    metric.process({}, [
        dict(
            pred_cam=cam,
            cam_keys=torch.tensor([0, 1]),
            gt_sem_seg=dict(data=gt[None]))
    ])
    assert metric.results[0][0][0].sum() == 4
    assert metric.evaluate(1)['mIoU'] == pytest.approx(40.0)  # 2 of 5 perfect
