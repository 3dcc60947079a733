"""Tests of multi-scale x flip CAM inference (spec cam_and_eval.md §2)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _cam_toys import NoCAM, PoolConvCAM, RampCAM
from PIL import Image

from mmwsss.apis import (multiscale_cam, normalise_cam, present_from_probs,
                         scaled_size, select_and_normalise, strided_size)

SCALES = (0.5, 1.0, 1.5, 2.0)
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def spec_reference(model,
                   img,
                   present,
                   scales=SCALES,
                   backend='pil',
                   rounding=round):
    """Direct transcription of the spec pseudo-code, one image."""
    H, W = img.shape[:2]
    cam4 = hr = 0
    probs = 0
    base = torch.from_numpy(((img / 255.0 - MEAN) / STD).transpose(2, 0,
                                                                   1)).float()
    for s in scales:
        hs, ws = rounding(H * s), rounding(W * s)
        if backend == 'pil':
            im = np.asarray(
                Image.fromarray(img).resize((ws, hs), Image.BICUBIC))
            x = torch.from_numpy(
                ((im / 255.0 - MEAN) / STD).transpose(2, 0, 1)).float()
        else:
            x = base if (hs, ws) == (H, W) else F.interpolate(
                base[None], (hs, ws), mode='bilinear', align_corners=False)[0]
        X = torch.stack([x, x.flip(-1)])
        with torch.no_grad():
            A = model.extract_cam(X)
        probs = probs + torch.sigmoid(A.mean((2, 3))).sum(0)
        R = F.relu(A)
        c = R[0] + R[1].flip(-1)
        c4 = F.interpolate(
            c[None], (math.ceil(H / 4), math.ceil(W / 4)),
            mode='bilinear',
            align_corners=False)[0]
        chr_ = F.interpolate(
            c[None], (16 * math.ceil(H / 16), 16 * math.ceil(W / 16)),
            mode='bilinear',
            align_corners=False)[0][:, :H, :W]
        cam4 = cam4 + c4
        hr = hr + chr_
    P = list(present)
    cam4, hr = cam4[P], hr[P]
    cam4 = cam4 / (cam4.amax((1, 2), keepdim=True) + 1e-5)
    hr = hr / (hr.amax((1, 2), keepdim=True) + 1e-5)
    keys = [0] + [k + 1 for k in P]
    return keys, cam4, hr, probs / (2 * len(scales))


def rand_img(rng, H, W):
    return rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)


def test_strided_and_scaled_size():
    for h in range(1, 70):
        for s in (4, 8, 16):
            assert strided_size(h, h + 3,
                                s) == (math.ceil(h / s), math.ceil(
                                    (h + 3) / s))
    assert strided_size(512, 512, 16) == (32, 32)
    assert strided_size(321, 321, 8) == (41, 41)
    assert scaled_size(375, 500, 0.5) == (188, 250)  # python round
    assert scaled_size(37, 50, 0.5) == (18, 25)  # round(18.5) == 18
    assert scaled_size(375, 500, 0.5, 'int') == (187, 250)
    with pytest.raises(ValueError):
        scaled_size(10, 10, 0.5, 'floor')


def test_normalise_hand_worked():
    x = torch.tensor([[[0.0, 2.0], [4.0, -1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    y = normalise_cam(x)
    expect = torch.tensor([[[0.0, 2.0], [4.0, 0.0]]]) / (4.0 + 1e-5)
    torch.testing.assert_close(y[:1], expect)
    assert torch.all(y[1] == 0)


def test_select_and_normalise_keys_and_order():
    cam4 = torch.rand(4, 3, 5) * 7
    hr = torch.rand(4, 12, 20) * 3
    out = select_and_normalise(cam4, hr, [3, 1])
    assert out['keys'].tolist() == [0, 2, 4]
    torch.testing.assert_close(out['cam'][0], cam4[1] / (cam4[1].max() + 1e-5))
    torch.testing.assert_close(out['hr_cam'][1], hr[3] / (hr[3].max() + 1e-5))
    # multi-hot float / bool forms give the same
    mh = select_and_normalise(cam4, hr, np.array([0, 1, 0, 1], np.float32))
    assert mh['keys'].tolist() == [0, 2, 4]
    none = select_and_normalise(cam4, hr, torch.zeros(4, dtype=torch.bool))
    assert none['keys'].tolist() == [0]
    assert none['hr_cam'].shape == (0, 12, 20)
    with pytest.raises(ValueError):
        select_and_normalise(cam4, hr, np.ones(3, np.float32))
    with pytest.raises(ValueError):
        select_and_normalise(cam4, hr, [4])


def test_present_from_probs():
    p = torch.tensor([[0.2, 0.5, 0.9], [0.1, 0.1, 0.1]])
    assert present_from_probs(p).tolist() == [[False, True, True],
                                              [False, False, False]]
    assert present_from_probs(p, 0.15)[1].tolist() == [False] * 3


@pytest.mark.parametrize('size', [(37, 50), (48, 64)])
def test_multiscale_matches_spec_reference(size):
    rng = np.random.default_rng(0)
    model = PoolConvCAM(num_classes=4, stride=8).eval()
    img = rand_img(rng, *size)
    cam4, hr, probs = multiscale_cam(model, img)
    H, W = size
    assert cam4.shape == (1, 4, math.ceil(H / 4), math.ceil(W / 4))
    assert hr.shape == (1, 4, H, W)
    assert cam4.dtype == hr.dtype == torch.float32
    out = select_and_normalise(cam4[0], hr[0], [0, 2, 3])
    keys, ref4, refhr, refp = spec_reference(model, img, [0, 2, 3])
    assert out['keys'].tolist() == keys
    torch.testing.assert_close(out['cam'], ref4, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out['hr_cam'], refhr, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(probs[0], refp, rtol=1e-4, atol=1e-6)


def test_multiscale_torch_backend_int_rounding():
    rng = np.random.default_rng(1)
    model = PoolConvCAM(num_classes=3, stride=4).eval()
    img = rand_img(rng, 29, 41)
    cam4, hr, _ = multiscale_cam(
        model, img, resize_backend='torch', size_rounding='int')
    out = select_and_normalise(cam4[0], hr[0], [0, 1, 2])
    _, ref4, refhr, _ = spec_reference(
        model, img, [0, 1, 2], backend='torch', rounding=int)
    torch.testing.assert_close(out['cam'], ref4, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out['hr_cam'], refhr, rtol=1e-4, atol=1e-5)


def test_batch_equals_single_images():
    rng = np.random.default_rng(2)
    model = PoolConvCAM(num_classes=3, stride=8).eval()
    imgs = [rand_img(rng, 33, 45) for _ in range(3)]
    b4, bhr, bp = multiscale_cam(model, imgs)
    for i, im in enumerate(imgs):
        s4, shr, sp = multiscale_cam(model, im)
        torch.testing.assert_close(b4[i], s4[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(bhr[i], shr[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(bp[i], sp[0])


def symmetric_img(rng, H, W):
    half = rand_img(rng, H, W // 2)
    return np.ascontiguousarray(np.concatenate([half, half[:, ::-1]], 1))


def test_flip_sum_makes_symmetric_input_mirror_exactly():
    rng = np.random.default_rng(3)
    img = symmetric_img(rng, 48, 64)
    # flip=True: mirrored for ANY model (the flip pair is summed)
    _, hr, _ = multiscale_cam(RampCAM(num_classes=2).eval(), img)
    torch.testing.assert_close(hr, hr.flip(-1), rtol=1e-5, atol=1e-5)
    # flip=False: the ramp model is not flip-equivariant -> not mirrored
    _, hr_nf, _ = multiscale_cam(
        RampCAM(num_classes=2).eval(), img, flip=False)
    assert not torch.allclose(hr_nf, hr_nf.flip(-1), atol=1e-3)
    # flip=False with an equivariant model (W_s multiple of 8 at every
    # scale): mirrored as well
    _, hr_eq, _ = multiscale_cam(
        PoolConvCAM(num_classes=2).eval(), img, flip=False)
    torch.testing.assert_close(hr_eq, hr_eq.flip(-1), rtol=1e-5, atol=1e-5)


def test_norm_params_from_data_preprocessor():
    from mmseg.models import SegDataPreProcessor
    rng = np.random.default_rng(4)
    img = rand_img(rng, 20, 24)
    model = PoolConvCAM(num_classes=2, stride=4).eval()
    model.data_preprocessor = SegDataPreProcessor(
        mean=[10.0, 20.0, 30.0], std=[2.0, 3.0, 4.0], bgr_to_rgb=True)
    a = multiscale_cam(model, img, scales=(1.0, ))[1]
    del model.data_preprocessor
    b = multiscale_cam(
        model, img, scales=(1.0, ), mean=[10, 20, 30], std=[2, 3, 4])[1]
    torch.testing.assert_close(a, b)
    # no BGR->RGB conversion in the preprocessor: the model sees BGR
    model.data_preprocessor = SegDataPreProcessor(
        mean=[10.0, 20.0, 30.0], std=[2.0, 3.0, 4.0], bgr_to_rgb=False)
    c = multiscale_cam(model, img, scales=(1.0, ))[1]
    del model.data_preprocessor
    d = multiscale_cam(
        model,
        np.ascontiguousarray(img[..., ::-1]),
        scales=(1.0, ),
        mean=[10, 20, 30],
        std=[2, 3, 4],
        channel_order='rgb')[1]
    torch.testing.assert_close(c, d)


def test_amp_smoke():
    rng = np.random.default_rng(5)
    model = PoolConvCAM(num_classes=2, stride=4).eval()
    img = rand_img(rng, 16, 16)
    ref = multiscale_cam(model, img, scales=(1.0, ))[1]
    got = multiscale_cam(model, img, scales=(1.0, ), amp=True)[1]
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, ref, rtol=0.05, atol=0.05)


def test_bad_inputs():
    model = PoolConvCAM().eval()
    with pytest.raises(TypeError, match='extract_cam'):
        multiscale_cam(NoCAM(), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match='uint8'):
        multiscale_cam(model, np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match='same size'):
        multiscale_cam(
            model,
            [np.zeros((8, 8, 3), np.uint8),
             np.zeros((8, 9, 3), np.uint8)])
    with pytest.raises(ValueError, match='resize_backend'):
        multiscale_cam(
            model, np.zeros((8, 8, 3), np.uint8), resize_backend='cv2')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_multiscale_cuda_matches_cpu():
    rng = np.random.default_rng(6)
    img = rand_img(rng, 70, 90)
    model = PoolConvCAM(num_classes=5).eval()
    c4, hr, p = multiscale_cam(model, img)
    g4, ghr, gp = multiscale_cam(model.cuda(), img)
    assert ghr.is_cuda
    torch.testing.assert_close(ghr.cpu(), hr, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gp.cpu(), p, rtol=1e-4, atol=1e-5)
