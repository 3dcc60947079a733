"""SCG (self-correlation map generation of RS+EPM) against a per-image,
per-class loop written from its formulas in float64."""
import inspect
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmwsss.models.refiners import SCG
from mmwsss.models.refiners import scg as scg_module

EPS = 1e-10


def _colnorm(x):
    n = x.shape[0]
    out = np.zeros_like(x)
    for j in range(n):
        cs = 0.0
        for i in range(n):
            cs += x[i, j]
        for i in range(n):
            out[i, j] = x[i, j] / (cs + EPS)
    return out


def _minmax(v):
    lo, hi = min(v), max(v)
    return np.array([(x - lo) / (hi - lo + EPS) for x in v])


def ref_scg(cam,
            feats,
            labels,
            th1=0.5,
            th2=0.1,
            th_fg=0.3,
            th_bg=0.05,
            iteration=1,
            w2=1.0,
            stats=None):
    """Per image and class, explicit loops. ``feats`` on the CAM grid."""
    cam = np.asarray(cam, np.float64)
    B, K, h, w = cam.shape
    N = h * w
    out = np.zeros((B, K, h, w))
    for b in range(B):
        hsc = np.zeros((N, N))
        for f in feats:
            f = np.asarray(f[b], np.float64).reshape(f.shape[1], N).T
            ft = np.zeros_like(f)
            for i in range(N):
                ft[i] = f[i] / (math.sqrt(sum(f[i]**2)) + EPS)
            sc = np.zeros((N, N))
            for i in range(N):
                for j in range(N):
                    v = max(0.0, float(np.dot(ft[i], ft[j])))
                    if v < th1:
                        if v > 0 and stats is not None:
                            stats['th1'] += 1
                        v = 0.0
                    sc[i, j] = v
            sc1 = _colnorm(sc)
            sc0 = sc.copy()
            for i in range(N):
                sc0[i, i] = 0.0
            sc0 = _colnorm(sc0)
            sc2 = sc0
            for _ in range(iteration):
                sc2 = _colnorm(sc2 @ sc0)
            for i in range(N):
                for j in range(N):
                    if sc2[i, j] < th2 / N:
                        if sc2[i, j] > 0 and stats is not None:
                            stats['th2'] += 1
                        sc2[i, j] = 0.0
            mx = np.zeros((N, N))
            for i in range(N):
                for j in range(N):
                    mx[i, j] = max(sc1[i, j], w2 * sc2[i, j])
                    if stats is not None and w2 * sc2[i, j] > sc1[i, j]:
                        stats['second_wins'] += 1
            hsc += _colnorm(mx)
        ht = np.zeros((N, N))
        for j in range(N):
            col = _minmax(hsc[:, j])
            for i in range(N):
                ht[i, j] = col[i]
        for c in range(K):
            if labels[b][c] == 0:
                continue
            m = cam[b, c].reshape(N)
            fg_mask = np.array([1.0 if x >= th_fg else 0.0 for x in m])
            bg_mask = np.array([1.0 if x <= th_bg else 0.0 for x in m])
            if fg_mask.sum() == 0:
                if stats is not None:
                    stats['empty_fg'] += 1
                fg = np.zeros(N)
            else:
                fg = _minmax(ht @ fg_mask)
            if bg_mask.sum() == 0:
                if stats is not None:
                    stats['empty_bg'] += 1
                bg = np.zeros(N)
            else:
                bg = _minmax(ht @ bg_mask)
            out[b, c] = _minmax(np.maximum(fg - bg, 0)).reshape(h, w)
    return out


def _case(seed=0):
    """B=2, K=3, 4x4 grid; level 1 at 4x4 (D=5), level 2 at 2x2 (D=5)."""
    g = torch.Generator().manual_seed(seed + 1)
    b, k, h, w, d = 2, 3, 4, 4, 5
    # two clusters of feature directions (left / right half) + noise
    dirs = torch.randn(2, d, generator=g, dtype=torch.float64)
    f1 = torch.randn(b, d, h, w, generator=g, dtype=torch.float64) * 0.6
    f1[:, :, :, :2] += dirs[0].view(1, d, 1, 1)
    f1[:, :, :, 2:] += dirs[1].view(1, d, 1, 1)
    f2 = torch.randn(b, d, 2, 2, generator=g, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed + 100)
    cam = torch.rand(b, k, h, w, generator=g, dtype=torch.float64)
    cam[:, 0, :, :2] += 0.5
    cam = cam.clamp(0, 1)
    cam[0, 0, 0, 3] = 0.0  # some background of class 0
    cam[0, 0, 1, 2] = 0.02
    cam[0, 0, 2, 3] = 0.05  # exactly θ_bg: background (<=)
    cam[1, 0, 3, 2] = 0.3  # exactly θ_fg: foreground (>=)
    cam[0, 1] *= 0.2  # class 1 of image 0: fg mask empty (< 0.3)
    cam[1, 2] = cam[1, 2] * 0.5 + 0.3  # class 2 of image 1: no bg pixel
    labels = torch.tensor([[1., 1., 0.], [1., 0., 1.]], dtype=torch.float64)
    return cam, [f1, f2], labels


def _on_grid(feats, size):
    return [
        F.interpolate(f, size=size, mode='bilinear', align_corners=False)
        if tuple(f.shape[-2:]) != size else f for f in feats
    ]


@pytest.mark.parametrize('cfg', [
    dict(),
    dict(
        first_th=0.3,
        second_th=0.5,
        foreground_th=0.5,
        background_th=0.2,
        iteration=2,
        second_weight=3.0),
    dict(iteration=0, second_weight=0.5, second_th=1.0),
])
def test_scg_matches_loop_reference(cfg):
    cam, feats, labels = _case()
    scg = SCG(**cfg)
    out = scg(cam, feats, labels)
    assert out.shape == cam.shape and out.dtype == torch.float64
    names = dict(
        first_th='th1',
        second_th='th2',
        foreground_th='th_fg',
        background_th='th_bg',
        iteration='iteration',
        second_weight='w2')
    stats = dict(th1=0, th2=0, second_wins=0, empty_fg=0, empty_bg=0)
    ref = ref_scg(
        cam.numpy(), [f.numpy() for f in _on_grid(feats, (4, 4))],
        labels.numpy(),
        stats=stats,
        **{
            names[k]: v
            for k, v in cfg.items()
        })
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-9, atol=1e-9)
    # every rule of the formula was exercised by this case
    assert stats['th1'] > 0 and stats['th2'] > 0
    if not cfg:
        assert stats['empty_fg'] == 1 and stats['empty_bg'] == 1
    # absent classes and the class with no fg pixel are all zero
    assert out[0, 2].abs().max() == 0 and out[1, 1].abs().max() == 0
    assert out[0, 1].abs().max() == 0
    # present classes with foreground are non-trivial maps in [0, 1]
    assert out[0, 0].max() == pytest.approx(1.0, abs=1e-6)
    assert out.min() >= 0 and out.max() <= 1 + 1e-9


def test_scg_second_order_branch_matters():
    # a second weight large enough for SC2 to win somewhere changes HSC
    cam, feats, labels = _case(seed=1)
    stats = dict(th1=0, th2=0, second_wins=0, empty_fg=0, empty_bg=0)
    grid = [f.numpy() for f in _on_grid(feats, (4, 4))]
    ref = ref_scg(cam.numpy(), grid, labels.numpy(), w2=5.0, stats=stats)
    assert stats['second_wins'] > 0
    out = SCG(second_weight=5.0)(cam, feats, labels)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-9, atol=1e-9)
    assert (out - SCG()(cam, feats, labels)).abs().max() > 1e-3


def test_scg_batch_chunks_fp32_and_no_grad():
    cam, feats, labels = _case(seed=2)
    full = MODELS.build(dict(type='SCG'))(cam, feats, labels)
    torch.testing.assert_close(SCG(chunk_size=1)(cam, feats, labels), full)
    # each image is independent of the others in the batch
    torch.testing.assert_close(
        SCG()(cam[1:], [f[1:] for f in feats], labels[1:]), full[1:])
    # fp32 in -> fp32 out; gradients never flow
    cam32 = cam.float().requires_grad_()
    out = SCG()(cam32, [f.float().requires_grad_() for f in feats],
                labels.float())
    assert out.dtype == torch.float32 and not out.requires_grad
    assert out.shape == cam.shape


def test_scg_hsc_columns():
    # HSC is a sum of |levels| column-stochastic matrices
    _, feats, _ = _case(seed=3)
    grid = _on_grid(feats, (4, 4))
    hsc = SCG().hsc(grid)
    assert hsc.shape == (2, 16, 16)
    torch.testing.assert_close(
        hsc.sum(1), torch.full((2, 16), 2.0, dtype=torch.float64))
    one = SCG().hsc(grid[:1])
    torch.testing.assert_close(
        one.sum(1), torch.ones(2, 16, dtype=torch.float64))


def test_scg_is_pure_torch():
    src = inspect.getsource(scg_module)
    for bad in ('.cpu()', '.numpy(', 'import numpy', '.item()', 'tolist'):
        assert bad not in src
    assert 'for c in' not in src  # no loop over classes
