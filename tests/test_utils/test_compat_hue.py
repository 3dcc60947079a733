"""numpy-2-safe ``mmcv.adjust_hue`` (mmwsss.utils.compat.patch_adjust_hue)."""
import mmcv
import numpy as np
import pytest

import mmwsss  # noqa: F401  (applies the compat fixes)
from mmwsss.utils.compat import hue_rotation, patch_adjust_hue


def test_hue_rotation_matches_numpy1_wraparound():
    # numpy 1: np.uint8(x) truncates towards zero, then wraps modulo 256
    assert hue_rotation(0.0) == 0
    assert hue_rotation(0.1) == 25  # int(25.5)
    assert hue_rotation(-0.1) == 256 - 25  # int(-25.5) = -25
    assert hue_rotation(-0.5) == 256 - 127
    assert hue_rotation(0.5) == 127


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_negative_hue_rotates_red_to_blue(backend):
    patch_adjust_hue()
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 2] = 255  # BGR
    # -1/3 of the hue circle: red (0 deg) -> blue (240 deg); +1/3 -> green
    blue = mmcv.adjust_hue(red, -1 / 3, backend=backend)
    green = mmcv.adjust_hue(red, 1 / 3, backend=backend)
    assert blue.shape == red.shape and blue.dtype == np.uint8
    assert blue[..., 0].min() >= 250 and blue[..., 1:].max() <= 12
    assert green[..., 1].min() >= 250
    assert green[..., 0].max() <= 12 and green[..., 2].max() <= 12
    # zero shift is the identity, a full-circle shift is not defined (>0.5)
    np.testing.assert_array_equal(
        mmcv.adjust_hue(red, 0.0, backend=backend), red)
    with pytest.raises(ValueError):
        mmcv.adjust_hue(red, 0.6, backend=backend)


def test_mmpretrain_color_jitter_with_hue_runs():
    from mmpretrain.datasets.transforms import ColorJitter
    t = ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1)
    img = (np.random.RandomState(0).rand(16, 16, 3) * 255).astype(np.uint8)
    for seed in range(8):  # several draws, negative hue factors included
        np.random.seed(seed)
        out = t(dict(img=img.copy()))['img']
        assert out.shape == img.shape and out.dtype == np.uint8
