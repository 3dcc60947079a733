"""EdgePredictMix (the EPM of RS+EPM): edge operators, the component fill,
EP (EdgePredict) and the mixing (PartnerMix), against numpy / OpenCV /
SciPy references written here, hand-worked maps and slow loops."""
import cv2
import numpy as np
import pytest
import torch
from mmseg.registry import MODELS
from scipy import ndimage
from torch import nn

import mmwsss.models.refiners.certain_filter  # noqa: F401 (registration)
import mmwsss.models.refiners.pamr  # noqa: F401 (registration)
from mmwsss.models.augments import PartnerMix
from mmwsss.models.refiners import EdgePredict
from mmwsss.models.refiners.edge_ops import (batch_canny_edges,
                                             batch_component_fill,
                                             component_fill, masked_median,
                                             median_canny_thresholds,
                                             median_threshold,
                                             tv_edge_strength, tv_edges)

IGN = 255


# ----------------------------------------------------------------------
# references written from the RS+EPM formulas
# ----------------------------------------------------------------------
class StandInCF(nn.Module):
    """Default certain-filter rule, written independently; records
    certain_th."""

    def __init__(self, c=0.55, u=0.10):
        super().__init__()
        self.c, self.u = c, u
        self.last_th = 'unset'

    def forward(self, fg_maps, img_labels=None, valid=None, certain_th=None):
        self.last_th = certain_th
        m = fg_maps.clone()
        if img_labels is not None:
            m = m * (img_labels > 0).float()[:, :, None, None]
        s, k = m.max(1)
        c = self.c if certain_th is None else certain_th
        if torch.is_tensor(c):
            c = c.view(-1, 1, 1)
        lab = torch.full_like(k, IGN)
        lab[s < self.u] = 0
        lab = torch.where(s >= c, k + 1, lab)
        if valid is not None:
            lab[~valid] = IGN
        return lab


def ref_u8(p):
    return np.clip(np.asarray(p, np.float64) * 255.0, 0, 255).astype(np.uint8)


def ref_fill(lab, edge, region=None):
    """Component fill with scipy.ndimage.label and a loop over components."""
    lab = np.array(lab, np.int64)
    lab[edge & (lab == 0)] = IGN
    inside = ~edge if region is None else (~edge & region)
    comp, n = ndimage.label(inside)  # default structure = 4-connectivity
    out = lab.copy()
    for c in range(1, n + 1):
        vals, cnt = np.unique(lab[comp == c], return_counts=True)
        if len(vals) > 1:
            m = vals[np.argmax(cnt)]  # vals ascending: ties -> smaller
            out[(comp == c) & (lab == IGN)] = m
    return out


def ref_canny(maps_u8, lo=10, hi=100, blur=True):
    edge = np.zeros(maps_u8.shape[1:], bool)
    for m in maps_u8:
        img = cv2.GaussianBlur(m, (5, 5), 0) if blur else m
        edge |= cv2.Canny(img, lo, hi) > 0
    return edge


def profile_maps(h=12, w=32):
    """Two regions: fg prob 1 on columns 0..8, 0 from column 14, a gentle
    ramp (0.11 / px) on 8..11 and 12..13 and a jump of 0.5 at 11 -> 12."""
    p = np.zeros(w)
    p[:9] = 1.0
    p[9:14] = (0.89, 0.78, 0.67, 0.17, 0.06)
    return np.tile(p, (h, 1))


# ----------------------------------------------------------------------
# helper (ii): median threshold
# ----------------------------------------------------------------------
def official_median_threshold(v, sigma=0.25):
    """The official helper (ii), written out: median of the u8 values
    ``>= 25`` (integer compare), ``int(min(255, 1.25·median))``."""
    sel = v[v >= 25].astype(np.float64)
    if sel.size == 0:
        return None, 255
    med = np.median(sel)
    return med, int(min(255.0, (1 + sigma) * med))


def test_median_threshold_vs_numpy():
    rng = np.random.default_rng(0)
    vals = rng.integers(0, 256, size=(5, 7, 9)).astype(np.uint8)
    vals[1] = rng.integers(0, 25, size=(7, 9))  # nothing >= 25
    vals[2, :, :] = 0
    vals[2, 0, :4] = (30, 200, 40, 90)  # even count: mean of 40 and 90
    vals[3, 0, 0] = 255
    # 25 is in the median set (the official cut is int(0.10 * 255) = 25,
    # not 25.5): median of {25, 25, 101} = 25 -> int(31.25) = 31
    vals[4, :, :] = 0
    vals[4, 0, :3] = (25, 25, 101)
    got = median_threshold(torch.from_numpy(vals), sigma=0.25, min_ratio=0.10)
    med = masked_median(torch.from_numpy(vals), 25)
    for i in range(5):
        v, th = official_median_threshold(vals[i])
        if v is None:
            assert torch.isnan(med[i])
        else:
            assert med[i].item() == pytest.approx(v)
        assert got[i].item() == th
    assert got[2].item() == 81  # int(1.25 * 65 = 81.25), truncated
    assert got[4].item() == 31
    lo, hi = median_canny_thresholds(torch.from_numpy(vals), sigma=0.25)
    v0 = np.median(vals[0][vals[0] >= 25])
    assert lo[0].item() == pytest.approx(0.75 * v0)
    assert hi[0].item() == pytest.approx(min(255.0, 1.25 * v0))
    assert torch.isnan(lo[1]) and torch.isnan(hi[1])


# ----------------------------------------------------------------------
# edges on the two-region map
# ----------------------------------------------------------------------
def test_canny_edges_on_two_region_map():
    p = profile_maps()
    maps = torch.from_numpy(np.stack([1 - p, p])[None]).float()
    edge = batch_canny_edges(maps)[0].numpy()
    # the boundary column has an edge pixel in every row, nothing far away
    assert edge[:, 10:13].any(1).all()
    cols = np.nonzero(edge.any(0))[0]
    assert cols.min() >= 9 and cols.max() <= 14
    # equals OpenCV applied channel by channel and OR-ed
    ref = ref_canny(ref_u8(np.stack([1 - p, p])))
    np.testing.assert_array_equal(edge, ref)
    # a dropped channel is not used; an all-equal map has no edges
    flat = torch.full_like(maps, 0.5)
    assert not batch_canny_edges(flat).any()
    both = torch.cat([maps, flat])
    mask = torch.tensor([[False, False], [True, True]])
    assert not batch_canny_edges(both, channel_mask=mask).any()


def test_canny_median_thresholds_vs_opencv():
    rng = np.random.default_rng(1)
    m = rng.random((2, 3, 20, 24))
    m = ndimage.uniform_filter(m, size=(1, 1, 5, 5))
    maps = torch.from_numpy(m).float()
    got = batch_canny_edges(maps, thresholds='median').numpy()
    u8 = ref_u8(maps.numpy())
    for b in range(2):
        ref = np.zeros((20, 24), bool)
        for q in range(3):
            img = cv2.GaussianBlur(u8[b, q], (5, 5), 0)
            v = np.median(img[img >= 25])
            lo, hi = max(0.0, 0.75 * v), min(255.0, 1.25 * v)
            ref |= cv2.Canny(img, lo, hi) > 0
        np.testing.assert_array_equal(got[b], ref)
        assert ref.any()


def test_tv_strength_slow_loop():
    rng = np.random.default_rng(2)
    m = rng.random((2, 3, 5, 6))
    m /= m.sum(1, keepdims=True)
    got = tv_edge_strength(torch.from_numpy(m)).numpy()
    ref = np.zeros((2, 5, 6))
    for b in range(2):
        for y in range(5):
            for x in range(6):
                best = 0.0
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        yy, xx = y + dy, x + dx
                        if (dy, dx) == (0, 0) or not (0 <= yy < 5
                                                      and 0 <= xx < 6):
                            continue
                        d = 0.5 * np.abs(m[b, :, y, x] - m[b, :, yy, xx]).sum()
                        best = max(best, d)
                ref[b, y, x] = best
    np.testing.assert_allclose(got, ref, atol=1e-6)


def test_tv_edges_on_two_region_map():
    # hand-worked: strengths 0.11 on columns 8, 9, 10, 13 (u8 28), 0.5 on
    # 11, 12 (u8 127), 0.06 on 14 -> median{>= 25} = 28, threshold
    # int(35.0) = 35, edge where u8 >= 35
    p = profile_maps()
    maps = torch.from_numpy(np.stack([1 - p, p])[None]).float()
    edge = tv_edges(maps)[0].numpy()
    expected = np.zeros_like(edge)
    expected[:, 11:13] = True
    np.testing.assert_array_equal(edge, expected)


# ----------------------------------------------------------------------
# helper (iii): connected-component fill
# ----------------------------------------------------------------------
def _hand_case():
    E = -1  # marks edge pixels in the layout below (label given apart)
    layout = np.array([
        [1, 1, IGN, E, 0, 0, 0],
        [1, IGN, IGN, E, IGN, 0, 0],
        [1, 1, 2, E, 0, IGN, IGN],
        [IGN, 1, 2, E, IGN, IGN, IGN],
        [E, E, E, E, E, E, E],
        [3, 3, 0, 0, IGN, 4, 4],
    ])
    edge = layout == E
    lab = layout.copy()
    lab[:4, 3] = (0, 1, 0, IGN)
    lab[4] = (0, 0, 1, 0, IGN, 0, 2)
    return lab, edge


def test_component_fill_hand_worked():
    lab, edge = _hand_case()
    out = component_fill(lab, edge, num_classes=4)
    expected = np.array([
        # left block: 1 x6, 255 x4, 2 x2 -> 1
        # right block: 0 x6, 255 x6 -> tie, background wins -> 0
        [1, 1, 1, IGN, 0, 0, 0],  # edge bg (0, 3) -> 255
        [1, 1, 1, 1, 0, 0, 0],  # edge fg (1, 3) stays 1
        [1, 1, 2, IGN, 0, 0, 0],
        [1, 1, 2, IGN, 0, 0, 0],
        # edge row: background -> 255, the rest unchanged
        [IGN, IGN, 1, IGN, IGN, IGN, 2],
        # bottom row: 3 x2, 0 x2, 4 x2, 255 x1 -> tie -> 0
        [3, 3, 0, 0, 0, 4, 4],
    ])
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(ref_fill(lab, edge), expected)
    # the input is not modified
    np.testing.assert_array_equal(lab, _hand_case()[0])


def test_component_fill_mode_uncertain_and_region():
    lab = np.array([[IGN, IGN, 1], [IGN, 0, 0]])
    edge = np.zeros_like(lab, bool)
    # 255 x3 is the mode: nothing changes
    np.testing.assert_array_equal(component_fill(lab, edge, 2), lab)
    # region drops column 0: {1 x1, 255 x1, 0 x2} -> 255 becomes 0
    region = np.array([[False, True, True], [False, True, True]])
    out = component_fill(lab, edge, 2, region=region)
    np.testing.assert_array_equal(out, [[IGN, 0, 1], [IGN, 0, 0]])


def test_batch_component_fill_random_vs_reference():
    rng = np.random.default_rng(3)
    labs = rng.choice([0, 1, 2, 3, IGN],
                      size=(3, 20, 25),
                      p=[.3, .15, .15, .1, .3])
    edges = rng.random((3, 20, 25)) < 0.3
    region = rng.random((3, 20, 25)) < 0.9
    got = batch_component_fill(
        torch.from_numpy(labs),
        torch.from_numpy(edges),
        3,
        region=torch.from_numpy(region)).numpy()
    for i in range(3):
        np.testing.assert_array_equal(got[i],
                                      ref_fill(labs[i], edges[i], region[i]))


# ----------------------------------------------------------------------
# EP
# ----------------------------------------------------------------------
def _profile_logits(k=3):
    """(1, K+1, 12, 32) logits: bg / class 1 from the profile, absent
    classes 2..K with large logits that must be dropped."""
    p = profile_maps()
    p = np.clip(p, 1e-4, 1 - 1e-4)
    s = np.zeros((1, k + 1) + p.shape, np.float32)
    s[0, 0] = np.log(1 - p)
    s[0, 1] = np.log(p)
    s[0, 2:] = 5.0
    y = torch.zeros(1, k)
    y[0, 0] = 1
    return torch.from_numpy(s), y


def test_decoder_probs_restricted_softmax():
    torch.manual_seed(0)
    s = torch.randn(2, 5, 6, 7) * 3
    y = torch.tensor([[1., 0, 0, 1], [0, 0, 0, 0]])
    epm = EdgePredict(pamr=None, certain_filter=StandInCF())
    got = epm.decoder_probs(torch.zeros(2, 3, 24, 28), s, y).numpy()
    sn = s.double().numpy()
    for b, keep in enumerate(([0, 1, 4], [0])):
        e = np.exp(sn[b, keep] - sn[b, keep].max(0))
        ref = np.zeros_like(sn[b])
        ref[keep] = e / e.sum(0)
        np.testing.assert_allclose(got[b], ref, atol=1e-6)


def test_edge_predict_two_region_reference_pipeline():
    s, y = _profile_logits()
    epm = EdgePredict(pamr=None, certain_filter=StandInCF())
    image = torch.zeros(1, 3, 48, 128)
    ep = epm(image, s, y)[0].numpy()
    # reference: softmax over the kept channels, CF, OpenCV, SciPy fill
    p = torch.softmax(s[:, :2], 1)
    cf = StandInCF()(p[:, 1:], valid=None)[0].numpy()
    edge = ref_canny(ref_u8(p[0].numpy()))
    np.testing.assert_array_equal(ep, ref_fill(cf, edge))
    # invariants: left region class 1, right region background,
    # no absent class and no uncertain pixel left away from the edge
    # hand-worked: CF gives 1 on columns 0..11 (p >= 0.55), 255 on 12
    # (p = 0.17), 0 from 13; Canny marks column 11 only, so column 12 lies
    # in the right component {255 x1 per row, 0 x19} and becomes 0
    expected = np.zeros((12, 32), np.int64)
    expected[:, :12] = 1
    np.testing.assert_array_equal(ep, expected)


def _two_class_logits():
    """(1, 3, 12, 32) logits, classes 1 and 2 present: class 1 (0.9) on
    columns 0..9 swaps sharply to class 2 (0.9) on 10..19 (the max stays
    0.9), then a low-confidence stretch 20..23 (max 0.4) before background
    (0.9) from column 24."""
    h, w = 12, 32
    p = np.full((3, h, w), 0.05)
    p[1, :, :10] = 0.9
    p[2, :, 10:20] = 0.9
    p[:, :, 20:24] = np.array([0.4, 0.2, 0.4])[:, None, None]
    p[0, :, 24:] = 0.9
    return torch.from_numpy(np.log(p)[None].astype(np.float32)), \
        torch.tensor([[1., 1.]])


def test_edge_predict_max_prob_map_reference_pipeline():
    """``ep_edge_map='max_prob'``: Canny of the one map max_q M_dec[q]
    (OpenCV on it, written here); the channel edges differ."""
    s, y = _two_class_logits()
    image = torch.zeros(1, 3, 48, 128)
    got = EdgePredict(
        pamr=None, certain_filter=StandInCF(),
        ep_edge_map='max_prob')(image, s, y)[0].numpy()
    p = torch.softmax(s, 1)[0].numpy()
    cf = StandInCF()(torch.from_numpy(p[None, 1:]))[0].numpy()
    edge_max = ref_canny(ref_u8(p.max(0)[None]))
    edge_ch = ref_canny(ref_u8(p))
    assert edge_max.any() and not np.array_equal(edge_max, edge_ch)
    np.testing.assert_array_equal(got, ref_fill(cf, edge_max))
    # the max map is 0.9 outside the stretch and 0.4 inside: its edges lie
    # at the two sides of the stretch only, the class swap at column 10 has
    # channel edges only
    cols = np.nonzero(edge_max.any(0))[0]
    assert cols.min() >= 17 and cols.max() <= 26
    assert edge_ch[:, 8:12].any()
    with pytest.raises(ValueError, match='ep_edge_map'):
        EdgePredict(pamr=None, certain_filter=StandInCF(),
                    ep_edge_map='mean')


def test_edge_predict_valid_and_label_source():
    s, y = _profile_logits()
    valid4 = torch.ones(1, 12, 32, dtype=torch.bool)
    valid4[:, 9:, :] = False
    valid4[:, :, 28:] = False
    epm = EdgePredict(pamr=None, certain_filter=StandInCF())
    ep = epm(torch.zeros(1, 3, 48, 128), s, y, valid4=valid4)[0]
    assert (ep[~valid4[0]] == IGN).all()
    p = torch.softmax(s[:, :2], 1)
    cf = StandInCF()(p[:, 1:], valid=valid4)[0].numpy()
    edge = ref_canny(ref_u8(p[0].numpy()))
    ref = ref_fill(cf, edge, valid4[0].numpy())
    ref[~valid4[0].numpy()] = IGN
    np.testing.assert_array_equal(ep.numpy(), ref)
    # M_seg as the label source: uncertain pixels of the given labels are
    # filled by the same edges
    m_seg = torch.full((1, 12, 32), IGN, dtype=torch.long)
    m_seg[:, :, :5] = 1
    m_seg[:, :, 20:] = 0
    epm2 = EdgePredict(
        pamr=None, certain_filter=StandInCF(), ep_label_source='M_seg')
    ep2 = epm2(torch.zeros(1, 3, 48, 128), s, y, seg_labels=m_seg)[0].numpy()
    np.testing.assert_array_equal(ep2, ref_fill(m_seg[0].numpy(), edge))
    with pytest.raises(ValueError):
        epm2(torch.zeros(1, 3, 48, 128), s, y)


def test_edge_predict_cf_median_threshold():
    torch.manual_seed(1)
    s = torch.randn(2, 4, 10, 12) * 2
    y = torch.tensor([[1., 1, 0], [0, 1, 1]])
    cf = StandInCF()
    epm = EdgePredict(pamr=None, certain_filter=cf, cf_mode='median')
    epm(torch.zeros(2, 3, 40, 48), s, y)
    for b, keep in enumerate(([0, 1, 2], [0, 2, 3])):
        sel = s[b, keep].double().numpy()
        e = np.exp(sel - sel.max(0))
        prob = e / e.sum(0)
        _, th = official_median_threshold(ref_u8(prob[1:].max(0)))
        assert cf.last_th[b].item() == pytest.approx(th / 255.0, abs=1e-7)
    epm_fixed = EdgePredict(pamr=None, certain_filter=cf)
    epm_fixed(torch.zeros(2, 3, 40, 48), s, y)
    assert cf.last_th is None


# ----------------------------------------------------------------------
# Mixing
# ----------------------------------------------------------------------
def _mix_batch(seed=0, b=3, k=4, hh=10, ww=13):
    g = torch.Generator().manual_seed(seed)
    h4, w4 = (hh + 3) // 4, (ww + 3) // 4
    inputs = torch.randn(b, 3, hh, ww, generator=g)
    choices = torch.tensor([0, 1, 2, 3, 4, IGN])
    ep = choices[torch.randint(0, 6, (b, h4, w4), generator=g)]
    valid = torch.ones(b, hh, ww, dtype=torch.bool)
    valid[0, :, 11:] = False
    valid[-1, 7:, :] = False
    rs = torch.rand(b, k, h4, w4, generator=g)
    y = torch.zeros(b, k)
    y[0, 0] = 1
    y[-1, 3] = 1
    return inputs, valid, ep, rs, y


def test_mix_against_loops():
    inputs, valid, ep, rs, y = _mix_batch()
    b, _, hh, ww = inputs.shape
    k = y.shape[1]
    out = PartnerMix()(inputs, valid, ep, rs, y)
    perm = out['perm']
    assert perm.tolist() == [2, 0, 1]
    assert torch.equal(inputs[perm], torch.roll(inputs, 1, 0))
    for i in range(b):
        j = perm[i].item()
        for yy in range(hh):
            for xx in range(ww):
                lj = ep[j, yy // 4, xx // 4].item()
                objf = 1 <= lj <= k and bool(valid[j, yy, xx])
                src = inputs[j] if objf else inputs[i]
                assert torch.equal(out['inputs'][i, :, yy, xx], src[:, yy, xx])
                assert out['valid'][i, yy, xx].item() == (
                    bool(valid[i, yy, xx]) or objf)
        pasted = set()
        for y4 in range(ep.shape[1]):
            for x4 in range(ep.shape[2]):
                lj = ep[j, y4, x4].item()
                if 1 <= lj <= k:
                    pasted.add(lj)
                    assert out['seg_labels'][i, y4, x4].item() == lj
                    assert torch.equal(out['rs_maps'][i, :, y4, x4],
                                       rs[j, :, y4, x4])
                else:
                    assert out['seg_labels'][i, y4, x4].item() == ep[i, y4, x4]
                    assert torch.equal(out['rs_maps'][i, :, y4, x4],
                                       rs[i, :, y4, x4])
        # labels are the union
        own = {c + 1 for c in range(k) if y[i, c] > 0}
        got = {c + 1 for c in range(k) if out['img_labels'][i, c] > 0}
        assert got == own | pasted
    assert out['seg_labels'].dtype == torch.long


def test_mix_single_image_and_random_partner():
    inputs, valid, ep, rs, y = _mix_batch(b=1)
    out = PartnerMix()(inputs, valid, ep, rs, y)
    assert out['perm'].tolist() == [0]
    assert torch.equal(out['inputs'], inputs)
    assert torch.equal(out['seg_labels'], ep)
    assert torch.equal(out['valid'], valid)
    assert torch.equal(out['img_labels'], y)
    assert torch.equal(out['rs_maps'], rs)
    rnd = PartnerMix(partner='random')
    torch.manual_seed(0)
    seen = set()
    for _ in range(30):
        p = rnd.sample_partners(4)
        assert sorted(p.tolist()) == [0, 1, 2, 3]
        assert (p != torch.arange(4)).all()
        seen.add(tuple(p.tolist()))
    assert len(seen) > 1


def test_mix_half_classes():
    hh = ww = 16
    ep = torch.zeros(2, 4, 4, dtype=torch.long)
    ep[1, 0, :3] = 1
    ep[1, 1, :2] = 2
    ep[1, 2, :] = 3
    ep[1, 3, 0] = IGN
    ep[0, 3, 3] = 4
    y = torch.tensor([[0., 0, 0, 1], [1, 1, 1, 0]])
    inputs = torch.randn(2, 3, hh, ww)
    epm = PartnerMix(class_subset='half')
    perm = torch.tensor([1, 0])
    chosen = set()
    torch.manual_seed(0)
    for _ in range(20):
        out = epm(inputs, None, ep, None, y, perm=perm)
        assert out['rs_maps'] is None
        # image 0 gets ceil(3 / 2) = 2 of the partner's classes, each whole
        pasted = set(ep[1][out['obj'][0]].tolist())
        assert len(pasted) == 2 and pasted <= {1, 2, 3}
        for c in (1, 2, 3):
            sel = ep[1] == c
            assert out['obj'][0][sel].all() == (c in pasted)
            assert out['obj'][0][sel].any() == (c in pasted)
        got = {c + 1 for c in range(4) if out['img_labels'][0, c] > 0}
        assert got == {4} | pasted
        # image 1 gets the partner's single class
        assert out['obj'][1].sum() == 1 and out['obj'][1][3, 3]
        chosen.add(tuple(sorted(pasted)))
    assert len(chosen) > 1


def test_no_grad_outputs():
    inputs, valid, ep, rs, y = _mix_batch(seed=4, b=2, hh=16, ww=20)
    inputs.requires_grad_(True)
    s = torch.randn(2, 5, 4, 5, requires_grad=True)
    rs.requires_grad_(True)
    y[1, 1] = 1
    labels = EdgePredict(
        pamr=None, certain_filter=StandInCF())(
            inputs, s, y, valid4=valid[:, ::4, ::4])
    assert not labels.requires_grad
    out = PartnerMix()(inputs, valid, labels, rs, y)
    for key in ('inputs', 'valid', 'seg_labels', 'rs_maps', 'img_labels',
                'perm'):
        assert not out[key].requires_grad, key
    with pytest.raises(ValueError, match='partner'):
        PartnerMix(partner='next')
    with pytest.raises(ValueError, match='ep_edge'):
        EdgePredict(ep_edge='sobel')


# ----------------------------------------------------------------------
# integration with the registered PAMR and CertainFilter
# ----------------------------------------------------------------------
def test_integration_registered_pamr_and_certain_filter():
    torch.manual_seed(0)
    b, hh, ww, k = 2, 64, 72, 3
    # image: a bright square object (left) on a dark background
    img = torch.zeros(b, 3, hh, ww)
    img[:, :, 8:40, 8:36] = 2.0
    img += 0.05 * torch.randn_like(img)
    # coarse decoder logits: the object blurred and shifted by 4 px
    obj = torch.zeros(b, 1, hh // 4, ww // 4)
    obj[:, :, 3:11, 3:10] = 1.0
    obj = torch.from_numpy(
        ndimage.uniform_filter(obj.numpy(), size=(1, 1, 3, 3))).float()
    s = torch.zeros(b, k + 1, hh // 4, ww // 4)
    s[:, 0] = 3.0 * (1 - obj[:, 0])
    s[:, 1] = 3.0 * obj[:, 0]
    s[0, 2] = 5.0  # class 2 is absent in image 0: must be dropped
    s[1, 2] = -3.0  # present but unlikely in image 1
    y = torch.tensor([[1., 0, 0], [1., 1, 0]])
    valid = torch.ones(b, hh, ww, dtype=torch.bool)
    valid[1, 56:] = False
    epm = MODELS.build(dict(type='EdgePredict'))
    assert type(epm.pamr).__name__ == 'PAMR'
    assert type(epm.certain_filter).__name__ == 'CertainFilter'
    ep = epm(img, s, y, valid4=valid[:, ::4, ::4])
    out = MODELS.build(dict(type='PartnerMix'))(img, valid, ep,
                                                torch.rand(
                                                    b, k, hh // 4, ww // 4), y)
    assert ep.shape == (b, hh // 4, ww // 4) and ep.dtype == torch.long
    # reference pipeline: restricted softmax -> real PAMR -> real CF ->
    # OpenCV edges on the kept channels -> SciPy component fill
    valid4 = valid[:, ::4, ::4]
    pamr = MODELS.build(dict(type='PAMR'))
    cf = MODELS.build(dict(type='CertainFilter'))
    for i, keep in enumerate(([0, 1], [0, 1, 2])):
        p = torch.zeros(1, k + 1, hh // 4, ww // 4)
        p[:, keep] = torch.softmax(s[i:i + 1, keep], 1)
        m_dec = pamr(img[i:i + 1], p)
        lab = cf(m_dec[:, 1:], y[i:i + 1], valid4[i:i + 1])[0].numpy()
        edge = ref_canny(ref_u8(m_dec[0, keep].numpy()))
        ref = ref_fill(lab, edge, valid4[i].numpy())
        ref[~valid4[i].numpy()] = IGN
        np.testing.assert_array_equal(ep[i].numpy(), ref)
    # the object core is class 1, far background is 0, nothing absent
    assert (ep[:, 4:8, 4:7] == 1).all()
    assert (ep[:, 12:14, 14:] == 0).all()
    assert not (ep[0] == 2).any() and not (ep[0] == 3).any()
    assert (ep[1, 14:] == IGN).all()
    # image 0 receives image 1's certain objects (roll by 1)
    assert out['perm'].tolist() == [1, 0]
    objf = out['obj'][0].repeat_interleave(4, 0).repeat_interleave(4, 1)
    objf &= valid[1]
    assert objf.any()
    assert torch.equal(out['inputs'][0][:, objf], img[1][:, objf])
    assert torch.equal(out['inputs'][0][:, ~objf], img[0][:, ~objf])
