"""RandomContainerCrop: content preserved, canvas and valid mask exact."""
import numpy as np
import pytest

import mmwsss  # noqa: F401
from mmwsss.datasets.transforms.random_container_crop import \
    RandomContainerCrop


def _results(h, w):
    img = np.arange(h * w * 3, dtype=np.int64).reshape(h, w, 3) % 251
    seg = (np.arange(h * w).reshape(h, w) % 7).astype(np.uint8)
    return dict(
        img=img.astype(np.uint8), gt_seg_map=seg, seg_fields=['gt_seg_map'])


@pytest.mark.parametrize('hw', [(10, 6), (4, 3), (10, 3), (8, 8)])
def test_container_crop_places_or_cuts(hw):
    np.random.seed(0)
    t = RandomContainerCrop((8, 8), img_pad_val=(1, 2, 3))
    for _ in range(10):
        src = _results(*hw)
        out = t(dict(src, img=src['img'].copy()))
        img, seg, valid = out['img'], out['gt_seg_map'], out['valid']
        assert img.shape == (8, 8, 3) and seg.shape == (8, 8)
        y0, y1, x0, x1 = out['crop_box']
        assert valid.sum() == (y1 - y0) * (x1 - x0)
        assert valid[y0:y1, x0:x1].all()
        # outside the box: canvas colour and ignore
        assert (img[valid == 0] == [1, 2, 3]).all()
        assert (seg[valid == 0] == 255).all()
        # inside: a contiguous window of the source, same for img and seg
        win = img[y0:y1, x0:x1]
        found = False
        H, W = hw
        for sy in range(H - (y1 - y0) + 1):
            for sx in range(W - (x1 - x0) + 1):
                if np.array_equal(src['img'][sy:sy + y1 - y0,
                                             sx:sx + x1 - x0], win):
                    assert np.array_equal(
                        src['gt_seg_map'][sy:sy + y1 - y0, sx:sx + x1 - x0],
                        seg[y0:y1, x0:x1])
                    found = True
        assert found
        # a side smaller than the crop is kept whole
        assert (y1 - y0) == min(hw[0], 8) and (x1 - x0) == min(hw[1], 8)


def test_container_crop_offsets_are_random():
    np.random.seed(1)
    t = RandomContainerCrop((8, 8))
    boxes = {t(_results(4, 4))['crop_box'] for _ in range(30)}
    assert len(boxes) > 3
