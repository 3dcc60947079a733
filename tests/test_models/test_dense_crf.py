"""Dense-CRF refiner: the official presets, the unaries, keys mapping,
and that every preset moves a hand-made noisy mask toward the image
edges."""
import cv2
import numpy as np
import pytest

from mmwsss.models.refiners.dense_crf import (CRF_PRESETS, DenseCRF,
                                              compact_labels)

pytest.importorskip('pydensecrf.densecrf')


def _iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


def _scene(seed=0):
    """Grey textured background with a red ellipse, the true mask, and a
    noisy mask: the ellipse shifted by 5 px, a spurious blob, and holes."""
    rng = np.random.default_rng(seed)
    h, w = 72, 96
    img = np.full((h, w, 3), (90, 110, 100), np.float32)
    img += rng.normal(0, 6, img.shape)
    true = np.zeros((h, w), np.uint8)
    cv2.ellipse(true, (48, 36), (26, 18), 0, 0, 360, 1, -1)
    img[true > 0] = (200, 40, 40)
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    noisy = np.zeros((h, w), np.uint8)
    cv2.ellipse(noisy, (53, 40), (26, 18), 0, 0, 360, 1, -1)
    noisy[5:14, 5:16] = 1  # spurious blob on the background
    noisy[30:34, 40:46] = 0  # hole inside the object
    return img, true > 0, noisy


def test_presets_are_the_official_table():
    # the parameter sets of the official codebases
    rows = {
        'label': ('label', 3, 3, 50, 5, 10, 10),
        'softmax': ('softmax', 3, 3, 80, 13, 10, 10),
        'rsepm': ('softmax', 1, 3, 67, 3, 4, 10),
        'rrm_test': ('softmax', 3, 3, 83, 5, 4, 10),
    }
    assert set(CRF_PRESETS) == set(rows)
    for name, row in rows.items():
        p = DenseCRF(name).params
        assert (p['unary'], p['gaussian_sxy'], p['gaussian_compat'],
                p['bilateral_sxy'], p['bilateral_srgb'], p['bilateral_compat'],
                p['iters']) == row, name
    assert DenseCRF('label').params['gt_prob'] == 0.7
    assert DenseCRF('label', iters=1).params['iters'] == 1
    with pytest.raises(ValueError, match='unknown CRF preset'):
        DenseCRF('nope')
    with pytest.raises(TypeError, match='unknown DenseCRF parameters'):
        DenseCRF('label', sigma=3)


def test_label_unary_formula():
    u = DenseCRF('label').label_unary(np.array([[0, 2], [1, 0]]), 3)
    u = u.reshape(3, 2, 2)
    pos, other = -np.log(0.7), -np.log(0.3 / 2)
    expected = np.full((3, 2, 2), other, np.float32)
    expected[0, 0, 0] = expected[2, 0, 1] = expected[1, 1, 0] = pos
    expected[0, 1, 1] = pos  # zero_unsure off: 0 is an ordinary label
    np.testing.assert_allclose(u, expected, rtol=1e-6)
    probs = np.array([[[0.0, 0.5]], [[1.0, 0.5]]], np.float32)
    su = DenseCRF('softmax').softmax_unary(probs).reshape(2, 1, 2)
    np.testing.assert_allclose(su, -np.log(np.clip(probs, 1e-5, 1)), rtol=1e-6)


@pytest.mark.parametrize('preset', ['label', 'softmax', 'rsepm', 'rrm_test'])
def test_crf_moves_noisy_mask_to_edges(preset):
    img, true, noisy = _scene()
    before = _iou(noisy > 0, true)
    crf = DenseCRF(preset)
    keys = [0, 7]  # the object is class 7; the CRF runs on 2 labels
    if crf.params['unary'] == 'label':
        out = crf(img, np.where(noisy > 0, 7, 0), keys=keys)
    else:
        fg = cv2.GaussianBlur(noisy.astype(np.float32), (0, 0), 2)
        fg = 0.2 + 0.6 * fg  # uncertain probabilities
        probs = np.stack([1 - fg, fg])
        before = _iou(probs.argmax(0) > 0, true)
        out = crf(img, probs, keys=keys)
    assert set(np.unique(out).tolist()) <= {0, 7}
    after = _iou(out == 7, true)
    assert after > before + 0.05, (preset, before, after)


def test_keys_mapping_and_errors():
    img, _, noisy = _scene()
    crf = DenseCRF('label', iters=1)
    lab = np.where(noisy > 0, 12, 0)
    out = crf(img, lab, keys=np.array([0, 12]))
    assert set(np.unique(out).tolist()) <= {0, 12}
    np.testing.assert_array_equal(
        compact_labels(np.array([[0, 12], [5, 0]]), [0, 5, 12]),
        [[0, 2], [1, 0]])
    with pytest.raises(ValueError, match=r'class ids \[3\]'):
        crf(img, np.where(noisy > 0, 3, 0), keys=[0, 12])
    with pytest.raises(ValueError, match='uint8 RGB'):
        crf(img.astype(np.float32), lab, keys=[0, 12])
    # a single label (no present class): nothing to decide
    assert not crf(img, np.zeros(noisy.shape, int), keys=[0]).any()


def test_process_pool_matches_serial():
    items = []
    for seed in range(3):
        img, _, noisy = _scene(seed)
        items.append((img, np.where(noisy > 0, 4, 0), [0, 4]))
    crf = DenseCRF('label', iters=3)
    serial = crf.map(items, workers=0)
    pooled = crf.map(items, workers=2)
    for a, b in zip(serial, pooled):
        np.testing.assert_array_equal(a, b)
