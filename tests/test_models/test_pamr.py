"""PAMR (as used by RS+EPM) against a per-pixel loop written from its
formula, plus its invariances."""
import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmwsss.models.refiners import PAMR
from mmwsss.models.refiners import pamr as pamr_module


def ref_pamr(img, masks, dilations, num_iter, sigma=0.1, eps=1e-8):
    """Direct float64 per-pixel PAMR; returns (weights, refined masks).

    weights[b, y, x] lists the 8·|d| neighbour weights, per dilation in
    the row-major order of (dy, dx) ∈ {-1, 0, 1}² without the centre.
    """
    img = np.asarray(img, dtype=np.float64)
    m = np.asarray(masks, dtype=np.float64)
    B, C, h, w = img.shape

    def clamp(y, x):  # replicate padding
        return min(max(y, 0), h - 1), min(max(x, 0), w - 1)

    nbrs = np.zeros((B, h, w, 8 * len(dilations), 2), dtype=np.int64)
    wts = np.zeros((B, h, w, 8 * len(dilations)))
    for b in range(B):
        for y in range(h):
            for x in range(w):
                samples, nb = [], []
                for d in dilations:
                    for dy in (-1, 0, 1):
                        for dx in (-1, 0, 1):
                            yy, xx = clamp(y + d * dy, x + d * dx)
                            samples.append(img[b, :, yy, xx])
                            if (dy, dx) != (0, 0):
                                nb.append((yy, xx))
                samples = np.stack(samples)  # (9|d|, C)
                assert samples.shape[0] == 9 * len(dilations)
                std = np.zeros(C)
                for c in range(C):
                    v = samples[:, c]
                    mu = sum(v) / len(v)
                    std[c] = np.sqrt(sum((v - mu)**2) / (len(v) - 1))
                kappa = []
                for yy, xx in nb:
                    k = 0.0
                    for c in range(C):
                        dist = abs(img[b, c, yy, xx] - img[b, c, y, x])
                        k += -dist / (sigma * std[c] + eps)
                    kappa.append(k / C)
                e = np.exp(np.array(kappa) - max(kappa))
                wts[b, y, x] = e / e.sum()
                nbrs[b, y, x] = nb
    for _ in range(num_iter):
        new = np.zeros_like(m)
        for b in range(B):
            for y in range(h):
                for x in range(w):
                    for n, (yy, xx) in enumerate(nbrs[b, y, x]):
                        new[b, :, y, x] += wts[b, y, x, n] * m[b, :, yy, xx]
        m = new
    return wts, m


def _image(b, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(b, 3, h, w, generator=g, dtype=torch.float64) * 255
    # a vertical edge so that the affinities are far from uniform
    img[..., w // 2:] += 120
    return img


@pytest.mark.parametrize('dilations,num_iter', [((1, 2), 2), ((1, 3, 9), 3)])
def test_pamr_matches_per_pixel_loop(dilations, num_iter):
    img = _image(2, 6, 7, seed=0)
    g = torch.Generator().manual_seed(1)
    masks = torch.rand(2, 3, 6, 7, generator=g, dtype=torch.float64)
    pamr = PAMR(dilations=dilations, num_iter=num_iter)
    ref_w, ref_m = ref_pamr(img.numpy(), masks.numpy(), dilations, num_iter)
    aff = pamr.affinity(img)
    assert aff.shape == (2, 8 * len(dilations), 6, 7)
    assert aff.dtype == torch.float64
    np.testing.assert_allclose(
        aff.permute(0, 2, 3, 1).numpy(), ref_w, rtol=1e-10, atol=1e-12)
    out = pamr(img, masks)
    assert out.shape == masks.shape and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), ref_m, rtol=1e-10, atol=1e-12)
    # the refinement does something here
    assert (out - masks).abs().max() > 0.05
    # neighbour order of the affinity channels
    offs = pamr.neighbour_offsets()
    assert offs[:8] == [(-dilations[0], -dilations[0]), (-dilations[0], 0),
                        (-dilations[0], dilations[0]), (0, -dilations[0]),
                        (0, dilations[0]), (dilations[0], -dilations[0]),
                        (dilations[0], 0), (dilations[0], dilations[0])]
    assert len(offs) == 8 * len(dilations)


def test_pamr_dilation_larger_than_map():
    # replicate padding with d = 24 on a 6 x 7 map (every neighbour clamps)
    img = _image(1, 6, 7, seed=3)
    masks = torch.rand(1, 2, 6, 7, dtype=torch.float64)
    _, ref_m = ref_pamr(img.numpy(), masks.numpy(), (1, 24), 1)
    out = PAMR(dilations=(1, 24), num_iter=1)(img, masks)
    np.testing.assert_allclose(out.numpy(), ref_m, rtol=1e-10, atol=1e-12)


def test_pamr_defaults_and_affinity_rows():
    pamr = MODELS.build(dict(type='PAMR'))
    assert isinstance(pamr, PAMR)
    assert pamr.dilations == (1, 2, 4, 8, 12, 24)
    assert pamr.num_iter == 10 and pamr.sigma == 0.1 and pamr.eps == 1e-8
    assert len(list(pamr.parameters())) == 0
    img = _image(2, 16, 20, seed=4).float()
    aff = pamr.affinity(img)
    assert aff.shape == (2, 48, 16, 20) and aff.dtype == torch.float32
    torch.testing.assert_close(
        aff.sum(1), torch.ones(2, 16, 20), atol=1e-5, rtol=0)
    assert (aff >= 0).all()


def test_pamr_invariant_to_per_channel_affine_normalisation():
    img = _image(2, 16, 20, seed=5).float()
    img = img.clamp(0, 255)
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    norm = (img - mean) / std
    # very different per-channel scales and shifts as well
    other = img * torch.tensor([0.01, 3.0, 250.0]).view(1, 3, 1, 1) + \
        torch.tensor([-7.0, 100.0, 0.5]).view(1, 3, 1, 1)
    masks = torch.rand(
        2, 4, 16, 20, generator=torch.Generator().manual_seed(6))
    pamr = PAMR()
    out = pamr(img, masks)
    torch.testing.assert_close(pamr(norm, masks), out, atol=1e-5, rtol=0)
    torch.testing.assert_close(pamr(other, masks), out, atol=1e-5, rtol=0)
    # ... but not to a non-affine change of the image (the test can fail)
    assert (pamr(img.square(), masks) - out).abs().max() > 1e-2
    assert (out - masks).abs().max() > 1e-2


def test_pamr_constant_masks_and_convexity():
    img = _image(2, 9, 11, seed=7).float()
    const = torch.tensor([0.0, 0.25, 1.0, 3.5]).view(1, 4, 1, 1)
    masks = const.expand(2, 4, 9, 11).contiguous()
    out = PAMR(dilations=(1, 2, 4), num_iter=5)(img, masks)
    torch.testing.assert_close(out, masks, atol=1e-6, rtol=1e-5)
    # each step is a convex combination: values stay within [min, max]
    rnd = torch.rand(2, 3, 9, 11)
    out = PAMR(dilations=(1, 2), num_iter=3)(img, rnd)
    lo = rnd.amin(dim=(2, 3), keepdim=True)
    hi = rnd.amax(dim=(2, 3), keepdim=True)
    assert (out >= lo - 1e-6).all() and (out <= hi + 1e-6).all()


def test_pamr_resizes_the_image_to_the_masks():
    img = _image(1, 24, 28, seed=8)
    masks = torch.rand(1, 2, 6, 7, dtype=torch.float64)
    small = F.interpolate(
        img, size=(6, 7), mode='bilinear', align_corners=False)
    _, ref_m = ref_pamr(small.numpy(), masks.numpy(), (1, 2), 2)
    pamr = PAMR(dilations=(1, 2), num_iter=2)
    out = pamr(img, masks)
    assert out.shape == (1, 2, 6, 7)
    np.testing.assert_allclose(out.numpy(), ref_m, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        pamr.affinity(img, size=(6, 7)), pamr.affinity(small))
    # propagate() with explicit affinities equals forward()
    torch.testing.assert_close(
        pamr.propagate(masks, pamr.affinity(small)), out)


def test_pamr_no_grad_and_dtypes():
    img = _image(1, 8, 8, seed=9).float().requires_grad_()
    masks = torch.rand(1, 2, 8, 8, requires_grad=True)
    pamr = PAMR(dilations=(1, 2), num_iter=2)
    out = pamr(img, masks)
    assert not out.requires_grad
    for dtype in (torch.float16, torch.bfloat16):
        img_l, masks_l = img.detach().to(dtype), masks.detach().to(dtype)
        low = pamr(img_l, masks_l)
        assert low.dtype == dtype
        # computed in fp32 internally: only the output is rounded
        ref = pamr(img_l.float(), masks_l.float())
        torch.testing.assert_close(
            low.float(), ref, atol=0, rtol=torch.finfo(dtype).eps)


def test_pamr_is_pure_torch():
    src = inspect.getsource(pamr_module)
    for bad in ('.cpu()', '.numpy(', 'import numpy', '.item()', 'tolist'):
        assert bad not in src


def _official_form_affinity(img, dilations, sigma=0.1, eps=1e-8):
    """The official computation, written out: per dilation the 3x3 window
    (row-major, centre included) of the replicate-padded image, torch.std
    over the stacked (B, C, N, H, W) samples, kernel mean over channels,
    softmax over the 8·|d| neighbours."""
    B, C, H, W = img.shape
    samples, nbrs = [], []
    for d in dilations:
        pad = F.pad(img, (d, d, d, d), mode='replicate')
        win = [
            pad[:, :, d + dy * d:d + dy * d + H, d + dx * d:d + dx * d + W]
            for dy in (-1, 0, 1) for dx in (-1, 0, 1)
        ]
        samples += win
        nbrs += [w for n, w in enumerate(win) if n != 4]
    std = torch.std(torch.stack(samples, 2), dim=2)
    dist = (torch.stack(nbrs, 2) - img[:, :, None]).abs()
    kappa = -(dist / (sigma * std[:, :, None] + eps)).mean(1)
    return kappa.softmax(1)


@pytest.mark.parametrize('dilations', [(1, ), (1, 2)])
def test_nearly_flat_window_gives_the_official_weights(dilations):
    """A flat image with 1-ulp noise: std ~ 3e-8, so the rounding of the
    std decides the weights; they equal the official torch.std ones."""
    g = torch.Generator().manual_seed(0)
    img = torch.full((1, 3, 7, 8), -0.3)
    img = img + torch.tensor([0., 2.0**-24, 0.]).view(1, 3, 1, 1) * \
        torch.randint(0, 2, (1, 1, 7, 8), generator=g)
    pamr = PAMR(dilations=dilations)
    ref = _official_form_affinity(img, dilations)
    assert float(ref.max() - ref.min()) > 0.1  # not uniform: std matters
    torch.testing.assert_close(pamr.affinity(img), ref, rtol=0, atol=1e-6)
    flat = torch.full((1, 3, 7, 8), 1.7171)
    torch.testing.assert_close(
        pamr.affinity(flat),
        torch.full((1, 8 * len(dilations), 7, 8), 1 / (8 * len(dilations))))
