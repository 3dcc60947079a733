"""DenseEnergyLoss and the exact bilateral Gaussian filter, checked against
independent float64 brute-force N x N references written here, on crops of
a real photo (``skimage.data.astronaut()``)."""
import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmwsss.models.losses import DenseEnergyLoss
from mmwsss.models.utils import bilateral_gaussian_filter, keops_available

skimage_data = pytest.importorskip('skimage.data')

#: top-left corners of the two crops (face / helmet and flag / suit)
CORNERS = ((100, 150), (300, 200))


@functools.lru_cache(maxsize=None)
def _photo(size):
    """(2, 3, size, size) float64 crops of the astronaut photo, 0-255."""
    img = skimage_data.astronaut()
    crops = [img[y:y + size, x:x + size] for y, x in CORNERS]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).double()


def brute_kernel(img, sigma_xy, sigma_rgb):
    """(B, N, N) float64 G_ij = exp(-|Δxy|²/2σ_xy² - |ΔRGB|²/2σ_rgb²), by
    explicit coordinate differences (x = column, y = row)."""
    img = img.double()
    b, _, h, w = img.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64),
        torch.arange(w, dtype=torch.float64),
        indexing='ij')
    out = []
    for k in range(b):
        d_xy = torch.zeros(h * w, h * w, dtype=torch.float64)
        for coord in (xs.flatten(), ys.flatten()):
            d_xy += (coord[:, None] - coord[None, :])**2
        d_rgb = torch.zeros_like(d_xy)
        for c in range(3):
            col = img[k, c].flatten()
            d_rgb += (col[:, None] - col[None, :])**2
        out.append(
            torch.exp(-d_xy / (2 * sigma_xy**2) - d_rgb / (2 * sigma_rgb**2)))
    return torch.stack(out)


@functools.lru_cache(maxsize=2)
def _photo_kernel(size, sigma_xy, sigma_rgb):
    return brute_kernel(_photo(size), sigma_xy, sigma_rgb)


def restricted(G, roi, include_self):
    """G with the rows and columns outside Ω zeroed (and the diagonal)."""
    m = roi.reshape(roi.shape[0], -1).double()
    G = G * m[:, :, None] * m[:, None, :]
    if not include_self:
        G = G * (1 - torch.eye(G.shape[-1], dtype=G.dtype))
    return G


def _roi(size):
    """A crop-valid mask: bottom rows and right columns padded (differs
    per image)."""
    roi = torch.ones(2, size, size)
    roi[0, -size // 4:] = 0
    roi[1, :, -size // 3:] = 0
    return roi


def _rel(a, b):
    """max |a - b| / max |b|."""
    return ((a.double() - b.double()).abs().max() /
            b.double().abs().max()).item()


# ------------------------------------------------------------------ filter
@pytest.mark.parametrize('size', [32, 64])
@pytest.mark.parametrize('with_roi', [False, True])
@pytest.mark.parametrize('include_self', [True, False])
def test_filter_matches_brute_force(size, with_roi, include_self):
    img = _photo(size)
    sxy, srgb = 50.0, 15.0
    g = torch.Generator().manual_seed(size)
    v = torch.rand(2, 3, size, size, generator=g, dtype=torch.float64)
    v = torch.cat([torch.ones_like(v[:, :1]), v], dim=1)  # Z map too
    roi = _roi(size) if with_roi else torch.ones(2, size, size)
    G = restricted(_photo_kernel(size, sxy, srgb), roi, include_self)
    ref = torch.einsum('bij,bkj->bki', G, v.flatten(2)).reshape(v.shape)
    out = bilateral_gaussian_filter(
        v.float(),
        img.float(),
        sxy,
        srgb,
        roi=roi if with_roi else None,
        include_self=include_self)
    assert out.dtype == torch.float32
    inside = roi.bool()[:, None].expand_as(ref)
    rel = (out.double() - ref).abs()[inside] / ref[inside]
    assert rel.max().item() <= 1e-4, rel.max().item()
    # pixels outside Ω receive exactly 0
    assert (out[~inside] == 0).all()
    if not include_self:
        # the self term is exactly 1 * v_i
        with_self = bilateral_gaussian_filter(
            v.float(), img.float(), sxy, srgb, roi=roi, include_self=True)
        diff = (with_self - out).double()
        assert torch.allclose(diff, v * roi[:, None], atol=1e-3)


def test_filter_gradient_is_the_same_filter():
    size = 32
    img = _photo(size)
    roi = _roi(size)
    g = torch.Generator().manual_seed(1)
    v = torch.rand(2, 2, size, size, generator=g).requires_grad_()
    w = torch.rand(2, 2, size, size, generator=g, dtype=torch.float64)
    out = bilateral_gaussian_filter(
        v, img.float(), 7.0, 15.0, roi=roi, include_self=False, chunk=100)
    (out.double() * w).sum().backward()
    G = restricted(brute_kernel(img, 7.0, 15.0), roi, False)
    # d/dv Σ w·(G v) = Gᵀ w
    ref = torch.einsum('bji,bkj->bki', G, w.flatten(2)).reshape(w.shape)
    assert _rel(v.grad, ref) <= 1e-4
    assert img.grad is None


def test_filter_chunk_does_not_change_result():
    size = 32
    img = _photo(size).float()
    v = torch.rand(
        2, 3, size, size, generator=torch.Generator().manual_seed(2))
    roi = _roi(size)
    outs = [
        bilateral_gaussian_filter(
            v, img, 50.0, 15.0, roi=roi, include_self=False, chunk=c)
        for c in (7, 1000, 10**6, None)
    ]
    for o in outs[1:]:
        assert _rel(o, outs[0]) <= 1e-6


def test_filter_hand_case():
    """2 x 2 image, σ_xy = 1, σ_rgb = 15; pixel 3 (bottom right) is 30
    units redder: |ΔRGB|²/2σ_rgb² = 2 between it and the others."""
    img = torch.zeros(1, 3, 2, 2)
    img[0, 0, 1, 1] = 30.0
    e = math.exp
    # squared distances / 2 in raster order 0=(0,0) 1=(0,1) 2=(1,0) 3=(1,1)
    z = [
        2 * e(-.5) + e(-3),  # 0: two neighbours at 1, the red one at 1+2*2
        e(-.5) + e(-1) + e(-2.5),  # 1: 0 at 1, 2 at 2, 3 at 1 + 4
        e(-.5) + e(-1) + e(-2.5),  # 2: symmetric to 1
        e(-3) + 2 * e(-2.5),  # 3: 0 at 2 + 4, 1 and 2 at 1 + 4
    ]
    ones = torch.ones(1, 1, 2, 2)
    out = bilateral_gaussian_filter(ones, img, 1.0, 15.0, include_self=False)
    assert torch.allclose(
        out.flatten().double(),
        torch.tensor(z, dtype=torch.float64),
        rtol=1e-6)
    out = bilateral_gaussian_filter(ones, img, 1.0, 15.0, include_self=True)
    assert torch.allclose(
        out.flatten().double(),
        torch.tensor(z, dtype=torch.float64) + 1,
        rtol=1e-6)
    # Ω without pixel 3: Z_0 = 2 e^-.5, and pixel 3 receives 0
    roi = torch.tensor([[[1., 1.], [1., 0.]]])
    out = bilateral_gaussian_filter(
        ones, img, 1.0, 15.0, roi=roi, include_self=False)
    assert out[0, 0, 0, 0].item() == pytest.approx(2 * e(-.5), rel=1e-6)
    assert out[0, 0, 1, 1].item() == 0


# -------------------------------------------------------------------- loss
def brute_energy(probs,
                 img,
                 roi,
                 label,
                 normalize,
                 include_self,
                 scale,
                 sigma_xy=100.0,
                 sigma_rgb=15.0,
                 ignore=255):
    """The energy in float64 from the N x N kernel (differentiable
    w.r.t. ``probs``)."""
    size = img.shape[-1]
    n = int(math.floor(size * scale + 0.5))
    p = probs.double()
    if p.shape[-1] != n:
        p = F.interpolate(p, (n, n), mode='bilinear', align_corners=False)
    img_s = F.interpolate(img.double(), (n, n), mode='nearest')
    roi_s = F.interpolate(roi.double()[:, None], (n, n), mode='nearest')[:, 0]
    lab = F.interpolate(label.double()[:, None], (n, n), mode='nearest')[:, 0]
    gate = torch.clamp(roi_s - p.detach().max(1).values, min=0)
    gate = torch.where(lab == ignore, torch.ones_like(gate), gate)
    G = restricted(
        brute_kernel(img_s, sigma_xy * scale, sigma_rgb), roi_s, include_self)
    b, c = p.shape[:2]
    pf = p.reshape(b, c, -1)
    gf = gate.reshape(b, -1)
    m = roi_s.reshape(b, -1)
    total = 0
    for k in range(b):
        if normalize == 'z':
            Z = G[k].sum(1).clamp(min=1e-300)  # 0 outside Ω
            Ghat = G[k] / Z[:, None]
            q = (pf[k] * (pf[k] @ Ghat.T)).sum(0)
            total = total + (gf[k] * m[k] * (1 - q)).sum() / m[k].sum()
        else:
            s = pf[k] * m[k]
            total = total - (gf[k] * s * (s @ G[k].T)).sum()
    return total / b


def _loss_inputs(size, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = 2 * torch.randn(2, classes, size, size, generator=g)
    label = torch.randint(0, classes, (2, size, size), generator=g)
    label[torch.rand(2, size, size, generator=g) < 0.5] = 255
    roi = _roi(size)
    label[roi == 0] = 255
    return logits, label, roi


@pytest.mark.parametrize('normalize', ['z', 'none'])
@pytest.mark.parametrize('include_self', [None, True, False])
def test_loss_and_gradient_match_brute_force(normalize, include_self):
    size = 64  # energy grid 32 x 32 at the default scale 0.5
    img = _photo(size)
    logits, label, roi = _loss_inputs(size)
    self_term = normalize == 'none' if include_self is None else include_self
    x64 = logits.double().requires_grad_()
    ref = brute_energy(
        x64.softmax(1), img, roi, label, normalize, self_term, 0.5)
    ref.backward()
    loss = DenseEnergyLoss(
        normalize=normalize, include_self=include_self, loss_weight=1.0)
    x = logits.clone().requires_grad_()
    val = loss(x, label, img=img.float(), roi=roi)
    val.backward()
    assert abs(val.item() - ref.item()) <= 1e-4 * abs(ref.item())
    assert _rel(x.grad, x64.grad) <= 1e-4
    if normalize == 'z':
        assert 0 < ref.item() < 1
    else:
        assert ref.item() < 0
    # the default weights
    w = DenseEnergyLoss(normalize=normalize, include_self=include_self)
    expected = 2.0 if normalize == 'z' else 5.8e-8
    assert w(
        logits, label, img=img.float(), roi=roi).item() == pytest.approx(
            expected * ref.item(), rel=1e-4)


@pytest.mark.parametrize('normalize', ['z', 'none'])
def test_official_gradient_is_the_shortcut(normalize):
    """grad_mode='official' at energy_scale 1: the value is the energy and
    the gradient w.r.t. P is -2·Gate·[Ĝ P]/B (/|Ω| for 'z'), masked."""
    size = 32
    img = _photo(size)
    logits, label, roi = _loss_inputs(size, seed=3)
    probs = logits.softmax(1).double()
    include_self = normalize == 'none'
    G = restricted(brute_kernel(img, 100.0, 15.0), roi, include_self)
    b, c = probs.shape[:2]
    pf = probs.reshape(b, c, -1)
    m = roi.reshape(b, -1).double()
    gate = torch.clamp(m - pf.max(1).values, min=0)
    gate = torch.where(
        label.reshape(b, -1) == 255, torch.ones_like(gate), gate)
    if normalize == 'z':
        Ghat = G / G.sum(2, keepdim=True).clamp(min=1e-300)
        gp = torch.einsum('bij,bcj->bci', Ghat, pf)
        ref_grad = -2 * (gate * m / m.sum(1, keepdim=True))[:, None] * gp / b
    else:
        gs = torch.einsum('bij,bcj->bci', G, pf * m[:, None])
        ref_grad = -2 * (gate * m)[:, None] * gs / b
    ref_val = brute_energy(probs, img, roi, label, normalize, include_self,
                           1.0)
    loss = DenseEnergyLoss(
        normalize=normalize,
        grad_mode='official',
        energy_scale=1.0,
        use_softmax=False,
        loss_weight=3.0)
    p = probs.float().requires_grad_()
    val = loss(p, label, img=img.float(), roi=roi)
    val.backward()
    assert val.item() == pytest.approx(3.0 * ref_val.item(), rel=1e-4)
    assert _rel(p.grad.reshape(b, c, -1), 3.0 * ref_grad) <= 1e-4
    # not the true gradient (Gate is not constant, and Ĝ not symmetric)
    true = DenseEnergyLoss(
        normalize=normalize,
        energy_scale=1.0,
        use_softmax=False,
        loss_weight=3.0)
    q = probs.float().requires_grad_()
    true(q, label, img=img.float(), roi=roi).backward()
    assert _rel(p.grad, q.grad) > 1e-2


def test_official_equals_autograd_when_gate_is_one():
    """normalize='none', all pixels unlabelled, full ROI: the shortcut
    -2·G Ŝ/B is the exact gradient (G symmetric)."""
    size = 32
    img = _photo(size).float()
    logits, _, _ = _loss_inputs(size, seed=5)
    label = torch.full((2, size, size), 255)
    grads = []
    for mode in ('official', 'autograd'):
        x = logits.clone().requires_grad_()
        DenseEnergyLoss(
            normalize='none', grad_mode=mode)(
                x, label, img=img).backward()
        grads.append(x.grad)
    assert _rel(grads[0], grads[1]) <= 1e-4


def test_loss_hand_case():
    """2 x 2 image (the filter hand case), energy_scale 1, σ_xy 1,
    P(class 0) = [1, .5, .5, 0], all unlabelled (Gate = 1)."""
    img = torch.zeros(1, 3, 2, 2)
    img[0, 0, 1, 1] = 30.0
    p0 = torch.tensor([1., .5, .5, 0.])
    probs = torch.stack([p0, 1 - p0]).reshape(1, 2, 2, 2)
    # G from the hand-computed squared distances / 2
    half_d2 = torch.tensor(
        [[0, .5, .5, 3], [.5, 0, 1, 2.5], [.5, 1, 0, 2.5], [3, 2.5, 2.5, 0]],
        dtype=torch.float64)
    G = torch.exp(-half_d2)
    P = torch.stack([p0, 1 - p0]).double()  # (C, 4)
    off = G - torch.eye(4, dtype=torch.float64)
    q = [
        sum(P[c, i] * (off[i] @ P[c]) / off[i].sum() for c in range(2))
        for i in range(4)
    ]
    # pixel 0: q_0 = e^-.5 * .5 * 2 / (2 e^-.5 + e^-3)
    assert q[0].item() == pytest.approx(
        math.exp(-.5) / (2 * math.exp(-.5) + math.exp(-3)))
    expected_z = sum(1 - qi for qi in q).item() / 4
    expected_none = -sum(P[c] @ G @ P[c] for c in range(2)).item()
    kw = dict(
        energy_scale=1.0, sigma_xy=1.0, use_softmax=False, loss_weight=1.0)
    label = torch.full((1, 2, 2), 255)
    z = DenseEnergyLoss(normalize='z', **kw)(probs, label, img=img)
    none = DenseEnergyLoss(normalize='none', **kw)(probs, label, img=img)
    assert z.item() == pytest.approx(expected_z, rel=1e-5)
    assert none.item() == pytest.approx(expected_none, rel=1e-5)
    # labelled pixel 0 with P = 1 there: Gate(0) = max(0, 1 - 1) = 0
    label[0, 0, 0] = 0
    z = DenseEnergyLoss(normalize='z', **kw)(probs, label, img=img)
    assert z.item() == pytest.approx(
        (expected_z * 4 - (1 - q[0].item())) / 4, rel=1e-5)


@pytest.mark.parametrize('normalize', ['z', 'none'])
@pytest.mark.parametrize('grad_mode', ['autograd', 'official'])
def test_empty_roi_and_zero_gate_give_zero(normalize, grad_mode):
    size = 16
    img = _photo(size).float()
    logits, label, _ = _loss_inputs(size, seed=7)
    loss = DenseEnergyLoss(normalize=normalize, grad_mode=grad_mode)
    x = logits.clone().requires_grad_()
    val = loss(x, label, img=img, roi=torch.zeros(2, size, size))
    val.backward()
    assert val.item() == 0 and torch.isfinite(val)
    assert torch.isfinite(x.grad).all() and (x.grad == 0).all()
    # all labelled and one-hot P (no resampling): Gate = 0 everywhere
    probs = F.one_hot(label.clamp(max=3), 4).permute(0, 3, 1, 2).float()
    probs.requires_grad_()
    val = DenseEnergyLoss(
        normalize=normalize,
        grad_mode=grad_mode,
        use_softmax=False,
        energy_scale=1.0)(
            probs, label.clamp(max=3), img=img)
    val.backward()
    assert val.item() == 0 and torch.isfinite(probs.grad).all()
    # a single-pixel Ω has no pair: Z = 0 in 'z' mode -> 0, not NaN
    roi = torch.zeros(2, size, size)
    roi[:, 3, 5] = 1
    x = logits.clone().requires_grad_()
    val = DenseEnergyLoss(
        normalize=normalize, grad_mode=grad_mode, energy_scale=1.0)(
            x, label, img=img, roi=roi)
    val.backward()
    assert torch.isfinite(val) and torch.isfinite(x.grad).all()
    if normalize == 'z':
        assert val.item() == 0


def test_loss_chunk_does_not_change_result():
    size = 32
    img = _photo(size).float()
    logits, label, roi = _loss_inputs(size, seed=9)
    vals, grads = [], []
    for chunk in (7, None):
        x = logits.clone().requires_grad_()
        v = DenseEnergyLoss(chunk=chunk)(x, label, img=img, roi=roi)
        v.backward()
        vals.append(v.item())
        grads.append(x.grad)
    assert vals[0] == pytest.approx(vals[1], rel=1e-6)
    assert _rel(grads[0], grads[1]) <= 1e-6


def test_registry_data_samples_and_arguments():
    loss = MODELS.build(dict(type='DenseEnergyLoss'))
    assert loss.loss_name == 'loss_energy'
    assert loss.loss_weight == 2.0 and loss.include_self is False
    off = MODELS.build(dict(type='DenseEnergyLoss', normalize='none'))
    assert off.loss_weight == 5.8e-8 and off.include_self is True
    assert MODELS.build(
        dict(type='DenseEnergyLoss', normalize='none',
             include_self=False)).include_self is False
    # image and ROI from the data samples (as a decode head calls it)
    size = 16
    img = _photo(size).float()
    logits, label, roi = _loss_inputs(size, seed=11)
    samples = []
    for i in range(2):
        ds = SegDataSample()
        ds.gt_rgb = PixelData(data=img[i])
        ds.gt_valid = PixelData(data=roi[i][None].bool())
        samples.append(ds)
    direct = loss(logits, label, img=img, roi=roi)
    loss.data_samples = samples
    via = loss(logits, label, weight=None, ignore_index=255)
    assert via.item() == pytest.approx(direct.item(), rel=1e-6)
    loss.data_samples = None
    with pytest.raises(ValueError, match='gt_rgb'):
        loss(logits, label)
    for kwargs, key in [(dict(normalize='sum'), 'normalize'),
                        (dict(grad_mode='exact'), 'grad_mode'),
                        (dict(backend='cuda'), 'backend'),
                        (dict(include_self='yes'), 'include_self'),
                        (dict(energy_scale=0), 'energy_scale'),
                        (dict(sigma_rgb=-1), 'sigma_rgb'),
                        (dict(chunk=0), 'chunk')]:
        with pytest.raises(ValueError, match=key):
            DenseEnergyLoss(**kwargs)


@pytest.mark.skipif(keops_available(), reason='pykeops is installed')
def test_keops_missing_message():
    with pytest.raises(ImportError, match='pip install pykeops'):
        DenseEnergyLoss(backend='keops')


@pytest.mark.skipif(not keops_available(), reason='needs pykeops')
def test_keops_backend_matches_torch():
    size = 16
    img = _photo(size).float()
    logits, label, roi = _loss_inputs(size, classes=2, seed=13)
    vals, grads = [], []
    for backend in ('torch', 'keops'):
        x = logits.clone().requires_grad_()
        v = DenseEnergyLoss(
            backend=backend, energy_scale=1.0)(
                x, label, img=img, roi=roi)
        v.backward()
        vals.append(v.item())
        grads.append(x.grad)
    assert vals[1] == pytest.approx(vals[0], rel=1e-4)
    assert _rel(grads[1], grads[0]) <= 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu_with_tf32_enabled():
    size = 64
    img = _photo(size)
    logits, label, roi = _loss_inputs(size, seed=15)
    mm = torch.backends.cuda.matmul
    saved = getattr(mm, 'fp32_precision', None)
    if saved is not None:
        mm.fp32_precision = 'tf32'
    try:
        grads = []
        for dev in ('cpu', 'cuda'):
            x = logits.to(dev).requires_grad_()
            v = DenseEnergyLoss()(
                x, label.to(dev), img=img.float().to(dev), roi=roi.to(dev))
            v.backward()
            grads.append((v.item(), x.grad.cpu()))
        if saved is not None:
            assert mm.fp32_precision == 'tf32'  # restored
    finally:
        if saved is not None:
            mm.fp32_precision = saved
    assert grads[1][0] == pytest.approx(grads[0][0], rel=1e-5)
    assert _rel(grads[1][1], grads[0][1]) <= 1e-4


def test_filter_ignores_autocast_and_reduced_precision():
    """bf16 autocast or bf16 oneDNN matmuls would ruin the distance
    expansion: the filter runs in IEEE float32 regardless."""
    size = 32
    img = _photo(size).float()
    v = torch.rand(
        2, 2, size, size, generator=torch.Generator().manual_seed(4))
    ref = bilateral_gaussian_filter(v, img, 50.0, 15.0, include_self=False)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = bilateral_gaussian_filter(v, img, 50.0, 15.0, include_self=False)
    assert out.dtype == torch.float32 and _rel(out, ref) <= 1e-6
    mm = getattr(torch.backends.mkldnn, 'matmul', None)
    if mm is not None and hasattr(mm, 'fp32_precision'):
        saved = mm.fp32_precision
        mm.fp32_precision = 'bf16'
        try:
            out = bilateral_gaussian_filter(
                v, img, 50.0, 15.0, include_self=False)
            assert mm.fp32_precision == 'bf16'  # restored
        finally:
            mm.fp32_precision = saved
        assert _rel(out, ref) <= 1e-6
