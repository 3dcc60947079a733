"""The shared CAM formulas (mmwsss.utils.cam_ops) on hand-worked
values."""
import math

import pytest
import torch

from mmwsss.utils.cam_ops import (bg_gamma_threshold, cam_keys, check_scales,
                                  hr_cam_size, label_from_maps, normalise_cam,
                                  scaled_size, strided_size, with_background)


def test_sizes():
    assert strided_size(17, 16, 4) == (5, 4)
    assert strided_size(1, 4, 4) == (1, 1)
    assert hr_cam_size(17, 33) == (32, 48)
    assert hr_cam_size(32, 16) == (32, 16)
    # round() is banker's rounding: 0.5 * 5 = 2.5 -> 2, 1.5 * 5 = 7.5 -> 8
    assert scaled_size(5, 7, 0.5) == (2, 4)
    assert scaled_size(5, 7, 1.5) == (8, 10)
    assert scaled_size(5, 7, 1.5, 'int') == (7, 10)
    assert scaled_size(3, 3, 0.01) == (1, 1)
    with pytest.raises(ValueError, match='round'):
        scaled_size(3, 3, 1.0, 'ceil')


def test_normalise_and_keys():
    x = torch.tensor([[[-1.0, 2.0], [4.0, 0.0]], [[0.0, 0.0], [0.0, -3.0]]])
    out = normalise_cam(x)
    assert out[0].flatten().tolist() == pytest.approx(
        [0.0, 2 / (4 + 1e-5), 4 / (4 + 1e-5), 0.0])
    assert out[1].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert normalise_cam(torch.zeros(0, 3, 3)).shape == (0, 3, 3)
    assert cam_keys(torch.tensor([False, True, False,
                                  True])).tolist() == [0, 2, 4]
    assert cam_keys(torch.tensor([2, 0])).tolist() == [0, 3, 1]
    assert cam_keys(torch.zeros(3, dtype=torch.bool)).tolist() == [0]


def test_label_from_maps_ties_to_background():
    maps = torch.tensor([[[0.2, 0.5, 0.9]], [[0.6, 0.5, 0.1]]])
    keys = torch.tensor([0, 3, 5])
    assert label_from_maps(maps, keys, 0.5).tolist() == [[5, 0, 3]]
    assert label_from_maps(maps, keys, 0.95).tolist() == [[0, 0, 0]]
    with pytest.raises(ValueError, match='do not match'):
        label_from_maps(maps, keys[:2], 0.5)


def test_with_background_by_hand():
    maps = torch.tensor([[[0.2, 0.5, 0.9]], [[0.6, 0.5, 0.1]]],
                        dtype=torch.float64)
    full = with_background(maps, 0.25)
    assert full.dtype == torch.float64 and full.shape == (3, 1, 3)
    assert full.tolist() == [[[0.25, 0.25, 0.25]], [[0.2, 0.5, 0.9]],
                             [[0.6, 0.5, 0.1]]]
    # no present class: the background plane alone
    only_bg = with_background(torch.zeros(0, 2, 2), 1.0)
    assert only_bg.tolist() == [[[1.0, 1.0], [1.0, 1.0]]]


def test_bg_gamma_threshold_and_scales():
    assert bg_gamma_threshold(2.0) == pytest.approx(
        (3 - math.sqrt(5)) / 2, abs=1e-9)
    assert bg_gamma_threshold(1.0) == pytest.approx(0.5, abs=1e-9)
    with pytest.raises(ValueError):
        bg_gamma_threshold(0)
    check_scales([0.5, 1.0])
    for bad in ([], [1.0, 0.0], [-0.5]):
        with pytest.raises(ValueError, match='scales'):
            check_scales(bad)
