"""MultiScaleCAM: multi-scale x flip CAMs (and RS+EPM seeds) against an
independent transcription of the formulas, written here."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models import SegDataPreProcessor
from mmseg.structures import SegDataSample
from PIL import Image
from torch import nn

from mmwsss.models.segmentors import MultiScaleCAM
from mmwsss.utils.fileio import DataFileError

SCALES = (0.5, 1.0, 1.5, 2.0)
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


class PoolConvCAM(nn.Module):
    """avg-pool (stride ``stride``) + fixed 1x1 conv; optional left-to-right
    ramp (then not flip-equivariant)."""

    def __init__(self,
                 num_classes=3,
                 stride=8,
                 seed=0,
                 ramp=False,
                 bgr_to_rgb=True):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.stride, self.ramp = stride, ramp
        self.conv = nn.Conv2d(3, num_classes, 1, bias=True)
        with torch.no_grad():
            self.conv.weight.copy_(
                torch.randn(num_classes, 3, 1, 1, generator=g))
            self.conv.bias.copy_(torch.randn(num_classes, generator=g) * 0.1)
        self.data_preprocessor = SegDataPreProcessor(
            mean=(255 * MEAN).tolist(),
            std=(255 * STD).tolist(),
            bgr_to_rgb=bgr_to_rgb)

    def extract_cam(self, x):
        a = self.conv(
            F.avg_pool2d(x, self.stride, self.stride, ceil_mode=True))
        if self.ramp:
            a = a + torch.linspace(-1, 2, a.shape[-1])
        return a

    def test_step(self, data):
        return data


def independent_reference(model,
                          img,
                          present,
                          scales=SCALES,
                          backend='pil',
                          rounding=round,
                          flip=True):
    """The formulas of the docs, one RGB uint8 image, written out."""
    H, W = img.shape[:2]
    cam4 = hr = probs = 0
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
        X = torch.stack([x, x.flip(-1)] if flip else [x])
        with torch.no_grad():
            A = model.extract_cam(X)
        probs = probs + torch.sigmoid(A.mean((2, 3))).sum(0)
        R = F.relu(A)
        c = R[0] + R[1].flip(-1) if flip else R[0]
        c4 = F.interpolate(
            c[None], (math.ceil(H / 4), math.ceil(W / 4)),
            mode='bilinear',
            align_corners=False)[0]
        chr_ = F.interpolate(
            c[None], (16 * math.ceil(H / 16), 16 * math.ceil(W / 16)),
            mode='bilinear',
            align_corners=False)[0][:, :H, :W]
        cam4, hr = cam4 + c4, hr + chr_
    P = list(present)
    cam4, hr = cam4[P], hr[P]
    cam4 = cam4 / (cam4.amax((1, 2), keepdim=True) + 1e-5)
    hr = hr / (hr.amax((1, 2), keepdim=True) + 1e-5)
    return [0] + [k + 1 for k in P], cam4, hr, probs / (
        (2 if flip else 1) * len(scales))


def rand_img(rng, H, W):
    return rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)


def batch(imgs, labels=None):
    """What the dataloader gives: BGR uint8 CHW tensors + data samples."""
    inputs, samples = [], []
    for i, img in enumerate(imgs):
        inputs.append(
            torch.from_numpy(
                np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1))))
        ds = SegDataSample(
            metainfo=dict(img_path=f'img{i}.png', ori_shape=img.shape[:2]))
        if labels is not None:
            ds.gt_img_labels = torch.tensor(labels[i], dtype=torch.float32)
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('size', [(37, 50), (48, 64)])
def test_cam_matches_reference(size):
    rng = np.random.default_rng(0)
    model = PoolConvCAM(num_classes=4).eval()
    img = rand_img(rng, *size)
    out = MultiScaleCAM(model).test_step(batch([img], [[1, 0, 1, 1]]))[0]
    keys, ref4, refhr, refp = independent_reference(model, img, [0, 2, 3])
    assert out.cam_keys.tolist() == keys
    assert out.pred_cam.data.shape == (3, ) + size
    torch.testing.assert_close(
        out.pred_cam_s4.data, ref4, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.pred_cam.data, refhr, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.cam_probs, refp, rtol=1e-4, atol=1e-6)


def test_torch_backend_int_rounding_no_flip():
    rng = np.random.default_rng(1)
    model = PoolConvCAM(num_classes=3, stride=4).eval()
    img = rand_img(rng, 29, 41)
    wrapper = MultiScaleCAM(
        model,
        resize_backend='torch',
        size_rounding='int',
        flip=False,
        scales=[1.0, 0.7])
    out = wrapper.test_step(batch([img], [[1, 1, 1]]))[0]
    _, ref4, refhr, _ = independent_reference(
        model,
        img, [0, 1, 2],
        scales=(1.0, 0.7),
        backend='torch',
        rounding=int,
        flip=False)
    torch.testing.assert_close(
        out.pred_cam_s4.data, ref4, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.pred_cam.data, refhr, rtol=1e-4, atol=1e-5)


def test_mixed_sizes_batch_equals_single_images_and_pred_labels():
    rng = np.random.default_rng(2)
    model = PoolConvCAM(num_classes=3).eval()
    imgs = [
        rand_img(rng, 33, 45),
        rand_img(rng, 40, 24),
        rand_img(rng, 33, 45)
    ]
    wrapper = MultiScaleCAM(model, use_gt_labels=False, conf_th=0.4)
    many = wrapper.test_step(batch(imgs))
    for img, got in zip(imgs, many):
        one = wrapper.test_step(batch([img]))[0]
        present = (one.cam_probs >= 0.4).nonzero()[:, 0].tolist()
        assert got.cam_keys.tolist() == [0] + [c + 1 for c in present]
        torch.testing.assert_close(got.pred_cam.data, one.pred_cam.data)
        torch.testing.assert_close(got.cam_probs, one.cam_probs)


def test_flip_sum_makes_symmetric_input_mirror_exactly():
    rng = np.random.default_rng(3)
    half = rand_img(rng, 48, 32)
    img = np.ascontiguousarray(np.concatenate([half, half[:, ::-1]], 1))
    ramp = PoolConvCAM(num_classes=2, ramp=True).eval()
    hr = MultiScaleCAM(ramp).test_step(batch([img], [[1, 1]]))[0]
    torch.testing.assert_close(
        hr.pred_cam.data, hr.pred_cam.data.flip(-1), rtol=1e-5, atol=1e-5)
    nf = MultiScaleCAM(ramp, flip=False).test_step(batch([img], [[1, 1]]))[0]
    assert not torch.allclose(
        nf.pred_cam.data, nf.pred_cam.data.flip(-1), atol=1e-3)


def test_normalisation_is_the_modules_data_preprocessor():
    rng = np.random.default_rng(4)
    img = rand_img(rng, 20, 24)
    rgb = PoolConvCAM(num_classes=2, stride=4).eval()
    bgr = PoolConvCAM(num_classes=2, stride=4, bgr_to_rgb=False).eval()
    # without the BGR->RGB conversion the model sees the loaded BGR image:
    # the same as an RGB model given the channel-reversed image
    a = MultiScaleCAM(
        bgr, scales=[1.0]).test_step(batch([img], [[1, 1]]))[0].pred_cam.data
    bgr.data_preprocessor = rgb.data_preprocessor
    b = MultiScaleCAM(
        bgr, scales=[1.0]).test_step(
            batch([np.ascontiguousarray(img[..., ::-1])], [[1, 1]]))[0]
    torch.testing.assert_close(a, b.pred_cam.data)


def test_amp_and_bad_arguments():
    rng = np.random.default_rng(5)
    model = PoolConvCAM(num_classes=2, stride=4).eval()
    img = rand_img(rng, 16, 16)
    ref = MultiScaleCAM(
        model, scales=[1.0]).test_step(batch([img], [[1, 1]]))[0].pred_cam.data
    got = MultiScaleCAM(
        model, scales=[1.0],
        amp=True).test_step(batch([img], [[1, 1]]))[0].pred_cam.data
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, ref, rtol=0.05, atol=0.05)
    for kwargs, match in ((dict(scales=[0.0]),
                           'scales'), (dict(scales=[]),
                                       'scales'), (dict(conf_th=2), 'conf_th'),
                          (dict(resize_backend='cv2'), 'resize_backend'),
                          (dict(size_rounding='ceil'),
                           'round'), (dict(source='sigma'), 'source')):
        with pytest.raises(ValueError, match=match):
            MultiScaleCAM(model, **kwargs)
    with pytest.raises(TypeError, match='predict_seed'):
        MultiScaleCAM(model, source='seed')
    with pytest.raises(DataFileError, match='img0.png: no image labels'):
        MultiScaleCAM(model).test_step(batch([img]))
    with pytest.raises(DataFileError, match='3 classes but the model'):
        MultiScaleCAM(model).test_step(batch([img], [[1, 1, 0]]))
    resized = batch([img], [[1, 1]])
    resized['data_samples'][0].set_metainfo(dict(ori_shape=(32, 32)))
    with pytest.raises(DataFileError, match='without resizing'):
        MultiScaleCAM(model).test_step(resized)


class SeedModel(PoolConvCAM):
    """predict_seed of a known form: the seed is sigmoid(conv) resized,
    records what it was called with."""

    def __init__(self):
        super().__init__(num_classes=3, stride=4)
        self.test_cfg = dict(scales=(1.0, 0.5), flip=True, conf_th=0.3)

    def predict_seed(self, x, labels, scales, flip, conf_th, return_probs):
        self.called = dict(scales=scales, flip=flip, conf_th=conf_th)
        a = self.extract_cam(x)
        seed = F.interpolate(
            torch.sigmoid(a),
            x.shape[-2:],
            mode='bilinear',
            align_corners=False)
        probs = torch.sigmoid(a.mean((2, 3)))
        present = labels > 0.5 if labels is not None else probs >= conf_th
        seed = seed / seed.amax(
            (2, 3), keepdim=True) * present[..., None, None]
        return seed, present, probs


def test_seed_source_files_the_seed():
    rng = np.random.default_rng(6)
    img = rand_img(rng, 22, 30)
    model = SeedModel().eval()
    out = MultiScaleCAM(
        model, source='seed').test_step(batch([img], [[0, 1, 1]]))[0]
    assert model.called == dict(scales=(1.0, 0.5), flip=True, conf_th=0.3)
    x = torch.from_numpy(
        ((img / 255.0 - MEAN) / STD).transpose(2, 0, 1)).float()[None]
    seed, _, probs = model.predict_seed(x, torch.tensor([[0., 1, 1]]), (1.0, ),
                                        True, 0.3, True)
    assert out.cam_keys.tolist() == [0, 2, 3]
    torch.testing.assert_close(
        out.pred_cam.data, seed[0, 1:], rtol=1e-5, atol=1e-6)
    # stride-4 cam: the mean over each cell (area = adaptive average
    # pooling to (ceil(22/4), ceil(30/4))), max-normalised again
    area = F.adaptive_avg_pool2d(seed[0, 1:], (6, 8))
    torch.testing.assert_close(
        out.pred_cam_s4.data,
        area / (area.amax((1, 2), keepdim=True) + 1e-5),
        rtol=1e-5,
        atol=1e-6)
    over = MultiScaleCAM(
        model,
        source='seed',
        scales=[2.0],
        flip=False,
        conf_th=0.9,
        use_gt_labels=False)
    none = over.test_step(batch([img]))[0]
    assert model.called == dict(scales=[2.0], flip=False, conf_th=0.9)
    assert none.pred_cam.data.shape[0] == none.cam_keys.numel() - 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu():
    rng = np.random.default_rng(7)
    img = rand_img(rng, 70, 90)
    model = PoolConvCAM(num_classes=5).eval()
    cpu = MultiScaleCAM(model).test_step(batch([img], [[1] * 5]))[0]
    gpu = MultiScaleCAM(model.cuda()).test_step(batch([img], [[1] * 5]))[0]
    assert gpu.pred_cam.data.is_cuda
    torch.testing.assert_close(
        gpu.pred_cam.data.cpu(), cpu.pred_cam.data, rtol=1e-4, atol=1e-4)


def test_pixel_data_without_classes():
    ds = SegDataSample()
    ds.pred_cam = PixelData(data=torch.zeros(0, 4, 5))
    assert ds.pred_cam.data.shape == (0, 4, 5)
