"""Certain filter (of RS+EPM) on hand-made maps and against a
per-pixel loop of each rule."""
import inspect

import pytest
import torch
from mmseg.registry import MODELS

from mmwsss.models.refiners import CertainFilter
from mmwsss.models.refiners import certain_filter as cf_module

IG = 255


def _maps(rows):
    """(B, K, 1, W) from per-image lists of per-pixel K-vectors."""
    return torch.tensor(rows, dtype=torch.float32).permute(0, 2, 1)[:, :, None]


# K = 3; pixel columns of two images
PIXELS = [
    [
        [0.90, 0.20, 0.95],  # class 3 absent -> s 0.9, class 1
        [0.30, 0.60, 0.00],  # class 2
        [0.05, 0.08, 0.99],  # absent 3 zeroed -> s 0.08 < 0.10 -> bg
        [0.30, 0.20, 0.00],  # 0.10 <= s < 0.55 -> uncertain
        [0.55, 0.10, 0.00],  # s == c_th -> certain class 1
        [0.10, 0.00, 0.00],  # s == u_th -> uncertain
    ],
    [
        [0.70, 0.20, 0.10],  # class 1 (c_th 0.55) / uncertain (0.8)
        [0.00, 0.00, 0.00],  # bg
        [0.10, 0.20, 0.85],  # class 3 (present in image 1)
        [0.40, 0.40, 0.60],  # class 3
        [0.09, 0.02, 0.01],  # bg
        [0.60, 0.60, 0.00],  # tie -> the lower class (1)
    ],
]
LABELS = torch.tensor([[1., 1., 0.], [1., 1., 1.]])


def test_default_rule_hand_made():
    cf = MODELS.build(dict(type='CertainFilter'))
    assert isinstance(cf, CertainFilter)
    assert (cf.certain_th, cf.uncertain_th, cf.mode) == (0.55, 0.10, 'default')
    out = cf(_maps(PIXELS), LABELS)
    assert out.dtype == torch.long and out.shape == (2, 1, 6)
    assert out[0, 0].tolist() == [1, 2, 0, IG, 1, IG]
    assert out[1, 0].tolist() == [1, 0, 3, 3, 0, 1]
    # without image labels the absent class 3 of image 0 is kept
    out = cf(_maps(PIXELS))
    assert out[0, 0].tolist() == [3, 2, 3, IG, 1, IG]
    # valid mask -> ignore
    valid = torch.ones(2, 1, 6, dtype=torch.bool)
    valid[0, 0, 1] = False
    valid[1, 0, 4] = False
    out = cf(_maps(PIXELS), LABELS, valid=valid)
    assert out[0, 0].tolist() == [1, IG, 0, IG, 1, IG]
    assert out[1, 0].tolist() == [1, 0, 3, 3, IG, 1]


def test_per_image_certain_threshold():
    cf = CertainFilter()
    out = cf(_maps(PIXELS), LABELS, certain_th=torch.tensor([0.55, 0.8]))
    assert out[0, 0].tolist() == [1, 2, 0, IG, 1, IG]
    # image 1 with c_th 0.8: 0.70, 0.60 and 0.60 become uncertain
    assert out[1, 0].tolist() == [IG, 0, 3, IG, 0, IG]
    # a float overrides for every image
    out = cf(_maps(PIXELS), LABELS, certain_th=0.3)
    assert out[0, 0].tolist() == [1, 2, 0, 1, 1, IG]
    # c_th below u_th: the foreground rule wins, the band is empty
    out = cf(_maps(PIXELS), LABELS, certain_th=torch.tensor([0.05, 0.05]))
    assert out[0, 0].tolist() == [1, 2, 2, 1, 1, 1]


def test_bg_gamma_variant_hand_made():
    cf = CertainFilter(mode='bg_gamma')  # bg = (1 - s)^2, c_th 0.55
    maps = _maps([[[0.90], [0.20], [0.30], [0.50], [0.60], [0.05], [0.25],
                   [0.26]]])
    # bg: .01 .64 .49 .25 .16 .9025 .5625 .5476
    out = cf(maps)
    assert out[0, 0].tolist() == [1, 0, IG, IG, 1, 0, 0, IG]
    # u_th plays no role in this mode
    assert cf(maps).equal(
        CertainFilter(mode='bg_gamma', uncertain_th=0.9)(maps))
    # bg_gamma 1: bg = 1 - s
    out = CertainFilter(mode='bg_gamma', bg_gamma=1.0)(maps)
    assert out[0, 0].tolist() == [1, 0, 0, IG, 1, 0, 0, 0]


def test_margin_variant_hand_made():
    cf = CertainFilter(mode='margin')  # scores [1 - s, M], c .55, u .10
    maps = _maps([[
        [0.90, 0.85],  # margin .05 -> uncertain
        [0.90, 0.70],  # margin .20 -> class 1
        [0.30, 0.10],  # bg .7, runner-up .3 -> bg
        [0.50, 0.00],  # top .5 < c_th -> uncertain
        [0.60, 0.58],  # margin .02 -> uncertain
        [0.40, 0.00],  # bg .6, margin .2 -> bg
        [0.20, 0.75],  # class 2, margin .55
        [0.00, 0.00],  # bg 1.0
    ]])
    out = cf(maps)
    assert out[0, 0].tolist() == [IG, 1, 0, IG, IG, 0, 2, 0]
    # the default rule disagrees on these pixels (the variant matters)
    assert CertainFilter()(maps)[0, 0].tolist() == [1, 1, IG, IG, 1, IG, 2, 0]
    # a larger margin and the absent-class zeroing
    out = CertainFilter(
        mode='margin', uncertain_th=0.3)(maps, torch.tensor([[1., 0.]]))
    assert out[0, 0].tolist() == [1, 1, 0, IG, IG, IG, 0, 0]


def _ref_pixel(v, mode, c, u, gamma):
    """Slow per-pixel rule; ``v`` is the list of K scores."""
    s = max(v)
    k = v.index(s)
    if mode == 'default':
        if s >= c:
            return k + 1
        return 0 if s < u else IG
    bg = (1 - s)**gamma if mode == 'bg_gamma' else 1 - s
    scores = [bg] + list(v)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    t1, t2 = scores[order[0]], scores[order[1]]
    if t1 < c or (mode == 'margin' and t1 - t2 < u):
        return IG
    return order[0]


@pytest.mark.parametrize('mode', ['default', 'bg_gamma', 'margin'])
def test_matches_per_pixel_loop(mode):
    g = torch.Generator().manual_seed(0)
    b, k, h, w = 3, 4, 5, 6
    maps = torch.rand(b, k, h, w, generator=g, dtype=torch.float64)
    maps = (maps * 20).round() / 20  # exact ties and threshold hits
    labels = (torch.rand(b, k, generator=g) > 0.4).float()
    labels[2] = 0  # no class at all -> background everywhere it is certain
    valid = torch.rand(b, h, w, generator=g) > 0.2
    th = torch.tensor([0.55, 0.4, 0.7], dtype=torch.float64)
    cf = CertainFilter(mode=mode, bg_gamma=1.5, ignore_index=IG)
    out = cf(maps, labels, valid=valid, certain_th=th)
    counts = {}
    for bi in range(b):
        for y in range(h):
            for x in range(w):
                v = [
                    float(maps[bi, c, y, x]) * float(labels[bi, c])
                    for c in range(k)
                ]
                exp = _ref_pixel(v, mode, float(th[bi]), 0.10, 1.5)
                if not valid[bi, y, x]:
                    exp = IG
                assert int(out[bi, y, x]) == exp, (bi, y, x, v)
                counts[exp] = counts.get(exp, 0) + 1
    assert counts.get(IG, 0) > 0 and counts.get(0, 0) > 0
    assert sum(n for lab, n in counts.items() if 0 < lab < IG) > 0


def test_ignore_index_and_errors():
    maps = _maps(PIXELS)
    out = CertainFilter(ignore_index=-1)(maps, LABELS)
    assert out[0, 0].tolist() == [1, 2, 0, -1, 1, -1]
    with pytest.raises(ValueError):
        CertainFilter(mode='nope')
    with pytest.raises(ValueError):
        CertainFilter()(maps, certain_th=torch.tensor([0.5, 0.5, 0.5]))


def test_certain_filter_is_pure_torch():
    src = inspect.getsource(cf_module)
    for bad in ('.cpu()', '.numpy(', 'import numpy', '.item()', 'tolist'):
        assert bad not in src
