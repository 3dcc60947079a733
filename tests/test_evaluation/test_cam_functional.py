"""Tests of mmwsss.evaluation.functional against slow references."""
import numpy as np
import pytest
import torch

from mmwsss.evaluation import (confusion_to_metrics, format_report,
                               label_confusion, summarize_confusion,
                               sweep_confusion, thresholds_from)


# ---------------------------------------------------------------- references
def brute_sweep(hr_cam, keys, gt, thresholds, C, ignore=255):
    """Pixel-by-pixel python reference of the background-threshold labelling
    and the confusion matrix of the sweep."""
    hr_cam = np.asarray(hr_cam)
    conf = np.zeros((len(thresholds), C, C), dtype=np.int64)
    H, W = gt.shape
    for ti, t in enumerate(thresholds):
        for y in range(H):
            for x in range(W):
                if gt[y, x] == ignore:
                    continue
                vec = np.concatenate(
                    [np.array([t], dtype=hr_cam.dtype), hr_cam[:, y, x]])
                label = keys[int(np.argmax(vec))]
                conf[ti, gt[y, x], label] += 1
    return conf


def brute_metrics(conf):
    """Per-class loops, straight from the IoU / FP / FN formulas."""
    C = conf.shape[0]
    out = dict(IoU=[], FP=[], FN=[], FP_BG=[], FP_FG=[])
    for c in range(C):
        tp = conf[c, c]
        t = conf[c, :].sum()
        p = conf[:, c].sum()
        u = t + p - tp
        out['IoU'].append(tp / (u + 1e-10))
        out['FP'].append((p - tp) / (u + 1e-10))
        out['FN'].append((t - tp) / (u + 1e-10))
        out['FP_BG'].append(conf[0, c] / (u + 1e-10))
        fg = sum(conf[g, c] for g in range(C) if g not in (0, c))
        out['FP_FG'].append(fg / (u + 1e-10))
    return {k: np.array(v) for k, v in out.items()}


def random_case(rng, C, H, W, num_present, dtype=np.float32):
    present = sorted(rng.choice(C - 1, size=num_present, replace=False))
    keys = np.array([0] + [k + 1 for k in present], dtype=np.int64)
    # quantised values: ties between classes and with the thresholds happen
    cam = (np.round(rng.random((num_present, H, W)) * 20) / 20).astype(dtype)
    gt = rng.integers(0, C, size=(H, W)).astype(np.uint8)
    gt[rng.random((H, W)) < 0.1] = 255
    return cam, keys, gt


# ---------------------------------------------------------------- thresholds
def test_thresholds_from_default_and_float_error():
    t = thresholds_from()
    assert len(t) == 15
    assert t[0] == 0.05 and t[-1] == 0.75 and t[2] == 0.15
    assert thresholds_from(0.05, 0.45, 0.05)[-1] == 0.45
    assert len(thresholds_from(0.05, 0.45, 0.05)) == 9
    assert len(thresholds_from(0.1, 0.8, 0.1)) == 8
    assert thresholds_from(0.3, 0.3, 0.05) == [0.3]
    with pytest.raises(ValueError):
        thresholds_from(0.5, 0.1, 0.05)
    with pytest.raises(ValueError):
        thresholds_from(0.1, 0.5, 0.0)


# ---------------------------------------------------------------- sweep
@pytest.mark.parametrize('seed', range(4))
def test_sweep_confusion_matches_bruteforce(seed):
    rng = np.random.default_rng(seed)
    C = 6
    cam, keys, gt = random_case(rng, C, 9, 13, num_present=1 + seed % 3)
    thr = thresholds_from()
    ref = brute_sweep(cam, keys, gt, thr, C)
    got = sweep_confusion(torch.from_numpy(cam), keys, gt, thr, C)
    assert got.dtype == torch.int64
    assert got.shape == (15, C, C)
    np.testing.assert_array_equal(got.numpy(), ref)
    # numpy inputs and (1, H, W) gt are accepted too
    got2 = sweep_confusion(cam, torch.from_numpy(keys),
                           torch.from_numpy(gt)[None], thr, C)
    np.testing.assert_array_equal(got2.numpy(), ref)


def test_sweep_confusion_unsorted_thresholds_and_fp16():
    rng = np.random.default_rng(7)
    C = 5
    cam, keys, gt = random_case(rng, C, 8, 7, 2, dtype=np.float16)
    thr = [0.5, 0.1, 0.3, 0.3, 0.05]
    ref = brute_sweep(cam, keys, gt, thr, C)
    got = sweep_confusion(torch.from_numpy(cam), keys, gt, thr, C)
    np.testing.assert_array_equal(got.numpy(), ref)


def test_sweep_confusion_no_present_class_is_background():
    gt = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    got = sweep_confusion(
        torch.zeros(0, 2, 2), [0], gt, [0.1, 0.2], num_classes=3)
    expect = np.zeros((3, 3), dtype=np.int64)
    expect[0, 0] = expect[1, 0] = expect[2, 0] = 1
    np.testing.assert_array_equal(got[0].numpy(), expect)
    np.testing.assert_array_equal(got[1].numpy(), expect)


def test_sweep_ties_go_to_background_and_first_class():
    # three pixels: max == t, max slightly above t, two equal maps
    cam = torch.tensor([[[0.25, 0.30, 0.6]], [[0.10, 0.10, 0.6]]])
    keys = [0, 2, 4]
    gt = torch.tensor([[2, 2, 4]])
    conf = sweep_confusion(cam, keys, gt, [0.25, 0.3], num_classes=5)
    # t = 0.25: pixel 0 (max 0.25 == t) -> bg; pixel 1 -> class 2;
    # pixel 2: tie between the maps -> first (class 2)
    c = conf[0]
    assert c[2, 0] == 1 and c[2, 2] == 1 and c[4, 2] == 1
    assert c.sum() == 3
    # t = 0.3: pixel 1 (max 0.30 == t) -> background as well
    c = conf[1]
    assert c[2, 0] == 2 and c[4, 2] == 1


def test_sweep_confusion_errors():
    cam = torch.rand(2, 4, 4)
    gt = torch.zeros(4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match='keys'):
        sweep_confusion(cam, [0, 1], gt, [0.1], 3)
    with pytest.raises(ValueError, match='size'):
        sweep_confusion(cam, [0, 1, 2], gt[:3], [0.1], 3)
    with pytest.raises(ValueError, match='gt'):
        sweep_confusion(cam, [0, 1, 2], gt + 7, [0.1], 3)
    with pytest.raises(ValueError, match='keys'):
        sweep_confusion(cam, [0, 1, 9], gt, [0.1], 3)
    bad = cam.clone()
    bad[0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        sweep_confusion(bad, [0, 1, 2], gt, [0.1], 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_sweep_confusion_cuda_matches_cpu():
    rng = np.random.default_rng(3)
    cam, keys, gt = random_case(rng, 21, 120, 170, 4)
    thr = thresholds_from()
    cpu = sweep_confusion(torch.from_numpy(cam), keys, gt, thr, 21)
    gpu = sweep_confusion(
        torch.from_numpy(cam).cuda(), keys,
        torch.from_numpy(gt).cuda(), thr, 21)
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu)


# ---------------------------------------------------------------- metrics
@pytest.mark.parametrize('seed', range(3))
def test_metrics_match_bruteforce_and_sum_to_one(seed):
    rng = np.random.default_rng(100 + seed)
    C = 5
    conf = rng.integers(0, 50, size=(C, C))
    ref = brute_metrics(conf)
    m = confusion_to_metrics(torch.from_numpy(conf))
    np.testing.assert_allclose(m['IoU'], ref['IoU'])
    np.testing.assert_allclose(m['FP_class'], ref['FP'])
    np.testing.assert_allclose(m['FN_class'], ref['FN'])
    np.testing.assert_allclose(m['FP_BG_class'][1:], ref['FP_BG'][1:])
    np.testing.assert_allclose(m['FP_FG_class'][1:], ref['FP_FG'][1:])
    np.testing.assert_allclose(m['IoU'] + m['FP_class'] + m['FN_class'], 1.0)
    np.testing.assert_allclose(m['FP_BG_class'][1:] + m['FP_FG_class'][1:],
                               m['FP_class'][1:])
    assert m['mIoU'] == pytest.approx(ref['IoU'].mean())
    assert m['FP'] == pytest.approx(ref['FP'][1:].mean())
    assert m['FN'] == pytest.approx(ref['FN'][1:].mean())
    assert m['FP_BG'] == pytest.approx(ref['FP_BG'][1:].mean())
    assert m['FP_FG'] == pytest.approx(ref['FP_FG'][1:].mean())


def test_sweep_metrics_batched_iou_fp_fn_sum_to_one():
    rng = np.random.default_rng(5)
    cam, keys, gt = random_case(rng, 7, 30, 40, 3)
    conf = sweep_confusion(cam, keys, gt, thresholds_from(), 7)
    m = confusion_to_metrics(conf)
    assert m['IoU'].shape == (15, 7) and m['mIoU'].shape == (15, )
    present = m['U'] > 0
    s = m['IoU'] + m['FP_class'] + m['FN_class']
    np.testing.assert_allclose(s[present], 1.0)


# hand-worked: C=3
#   gt   = [[0, 0, 1, 1], [2, 2, 1, 255]]
#   pred = [[0, 1, 1, 1], [1, 2, 0, 2  ]]
# valid (gt, pred): (0,0) (0,1) (1,1) (1,1) (2,1) (2,2) (1,0)
# class 0: T 2, P 2, TP 1, U 3 -> IoU 1/3
# class 1: T 3, P 4, TP 2, U 5 -> IoU .4, FP .4 (BG .2, FG .2), FN .2
# class 2: T 2, P 1, TP 1, U 2 -> IoU .5, FP 0, FN .5
GT = np.array([[0, 0, 1, 1], [2, 2, 1, 255]], dtype=np.uint8)
PRED = np.array([[0, 1, 1, 1], [1, 2, 0, 2]], dtype=np.uint8)


def test_label_confusion_hand_worked():
    conf = label_confusion(PRED, GT, 3)
    expect = np.array([[1, 1, 0], [1, 2, 0], [0, 1, 1]])
    np.testing.assert_array_equal(conf.numpy(), expect)
    m = confusion_to_metrics(conf, class_names=['bg', 'a', 'b'])
    np.testing.assert_allclose(m['IoU'], [1 / 3, 0.4, 0.5])
    np.testing.assert_allclose(m['FP_class'][1:], [0.4, 0.0])
    np.testing.assert_allclose(m['FN_class'][1:], [0.2, 0.5])
    np.testing.assert_allclose(m['FP_BG_class'][1:], [0.2, 0.0])
    np.testing.assert_allclose(m['FP_FG_class'][1:], [0.2, 0.0])
    assert np.isnan(m['FP_BG_class'][0])
    assert m['mIoU'] == pytest.approx((1 / 3 + 0.4 + 0.5) / 3)
    assert m['FP'] == pytest.approx(0.2)
    assert m['FN'] == pytest.approx(0.35)
    assert m['FP_BG'] == pytest.approx(0.1)
    assert m['FP_FG'] == pytest.approx(0.1)
    assert m['class_names'] == ['bg', 'a', 'b']


def test_label_confusion_pred_ignore_modes():
    pred = PRED.copy()
    pred[1, 2] = 255  # was 0 on a gt-1 pixel
    miss = label_confusion(pred, GT, 3, pred_ignore='miss')
    assert miss.shape == (3, 4) and miss[1, 3] == 1
    m = confusion_to_metrics(miss)
    # class 0: P 1 TP 1 T 2 -> .5 ; class 1 unchanged (miss counts in T)
    np.testing.assert_allclose(m['IoU'], [0.5, 0.4, 0.5])
    np.testing.assert_allclose(m['FN_class'][1], 0.2)
    # 1 of the 7 valid GT pixels is predicted 255: its share is reported
    summary = summarize_confusion(miss)
    assert summary['ignored'] == pytest.approx(1 / 7)
    assert '255 share 0.1429' in format_report(summary)
    skip = label_confusion(pred, GT, 3, pred_ignore='skip')
    assert 'ignored' not in summarize_confusion(skip)
    assert skip.shape == (3, 3)
    m = confusion_to_metrics(skip)
    # class 1: T 2 P 4 TP 2 -> U 4
    np.testing.assert_allclose(m['IoU'], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError):
        label_confusion(pred, GT, 3, pred_ignore='error')
    with pytest.raises(ValueError, match='prediction'):
        label_confusion(pred + 0 * pred + (pred == 1) * 5, GT, 3)


def test_gt_against_itself_is_perfect():
    rng = np.random.default_rng(11)
    C = 6
    gt = rng.integers(0, C, size=(20, 30)).astype(np.uint8)
    gt[:2] = 255
    m = confusion_to_metrics(label_confusion(gt, gt, C))
    assert m['mIoU'] == pytest.approx(1.0)
    assert m['FP'] == 0 and m['FN'] == 0
    # the same through the sweep: one-hot maps of the GT classes
    keys = np.arange(C)
    cam = np.stack([(gt == k).astype(np.float32) for k in keys[1:]])
    s = summarize_confusion(
        sweep_confusion(cam, keys, gt, thresholds_from(), C),
        thresholds_from())
    assert s['mIoU'] == pytest.approx(1.0)
    assert s['FP'] == 0 and s['FN'] == 0
    assert s['best_thr'] == 0.05  # all equal: lowest threshold wins


def test_nanmean_skips_absent_classes():
    conf = np.zeros((4, 4), dtype=np.int64)
    conf[0, 0] = 5
    conf[1, 1] = 3
    conf[1, 0] = 1  # class 1 IoU 3/4 ; classes 2, 3 absent
    mean = confusion_to_metrics(conf)
    nan = confusion_to_metrics(conf, average='nanmean')
    assert mean['mIoU'] == pytest.approx((5 / 6 + 3 / 4) / 4)
    assert nan['mIoU'] == pytest.approx((5 / 6 + 3 / 4) / 2)
    assert np.isnan(nan['IoU'][2])
    assert nan['FN'] == pytest.approx(1 / 4)


def test_summary_best_curve_over_under_and_report():
    rng = np.random.default_rng(2)
    C = 4
    cam, keys, gt = random_case(rng, C, 25, 25, 3)
    thr = thresholds_from()
    conf = sweep_confusion(cam, keys, gt, thr, C)
    s = summarize_confusion(conf, thr, ['bg', 'a', 'b', 'c'], over_under=True)
    curve = confusion_to_metrics(conf)['mIoU']
    assert s['best_index'] == int(np.argmax(curve))
    assert s['best_thr'] == thr[s['best_index']]
    assert s['mIoU'] == pytest.approx(curve.max())
    assert len(s['curve']['mIoU']) == 15
    fp = np.array(s['curve']['FP'])
    target = 1.6 * fp[s['best_index']]
    assert s['over']['thr'] == thr[int(np.argmin(np.abs(fp - target)))]
    assert s['per_class']['class'] == ['bg', 'a', 'b', 'c']
    text = format_report(s)
    assert 'best mIoU' in text and 'over:' in text and 'mIoU(t)' in text
    import json
    json.dumps(s, allow_nan=False)  # serialisable
