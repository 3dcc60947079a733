"""RandomWalkMaps: the random walk of a batch of saved CAMs (padding of
mixed sizes and class counts) equals the walk of each image alone and the
formula written out here."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models import SegDataPreProcessor
from mmseg.structures import SegDataSample
from torch import nn

from mmwsss.models.refiners import random_walk
from mmwsss.models.segmentors import RandomWalkMaps
from mmwsss.utils.fileio import DataFileError


class EdgeNet(nn.Module):
    """extract_edge = sigmoid of a fixed 1x1 map of the stride-4 average of
    the normalised image; 1 outside each image (the padding value)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1)
        with torch.no_grad():
            self.conv.weight.copy_(
                torch.tensor([[[[0.8]], [[-0.5]], [[0.3]]]]))
            self.conv.bias.fill_(-0.2)
        self.data_preprocessor = SegDataPreProcessor(
            mean=[100.0, 110.0, 120.0],
            std=[50.0, 60.0, 70.0],
            bgr_to_rgb=True)
        self.test_cfg = dict(rw_beta=8.0, rw_exp_times=3, rw_radius=3)

    def extract_edge(self, x, sizes):
        out = x.new_ones(
            (x.shape[0], -(-x.shape[2] // 4), -(-x.shape[3] // 4)))
        for b, (h, w) in enumerate(sizes):
            e = torch.sigmoid(
                self.conv(
                    F.avg_pool2d(x[b:b + 1, :, :h, :w], 4, 4, ceil_mode=True)))
            out[b, :e.shape[2], :e.shape[3]] = e[0, 0]
        return out

    def test_step(self, data):
        return data


def sample(rng, h, w, k):
    img = torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8))
    ds = SegDataSample(metainfo=dict(img_path=f'{h}x{w}.png'))
    cam = torch.from_numpy(
        rng.random((k, -(-h // 4), -(-w // 4))).astype(np.float32))
    ds.pred_cam_s4 = PixelData(data=cam)
    ds.cam_keys = torch.arange(k + 1)
    return img, ds


def test_batch_equals_single_and_formula():
    rng = np.random.default_rng(0)
    net = EdgeNet().eval()
    wrapper = RandomWalkMaps(net)
    assert (wrapper.refiner.beta, wrapper.refiner.exp_times,
            wrapper.refiner.radius) == (8.0, 3, 3)
    items = [
        sample(rng, 23, 30, 2),
        sample(rng, 16, 16, 3),
        sample(rng, 21, 9, 1)
    ]
    many = wrapper.test_step(
        dict(inputs=[i for i, _ in items], data_samples=[d for _, d in items]))
    for (img, ds), got in zip(items, many):
        one = RandomWalkMaps(net).test_step(
            dict(inputs=[img], data_samples=[ds.clone()]))[0]
        torch.testing.assert_close(
            got.pred_rw.data, one.pred_rw.data, rtol=1e-5, atol=1e-6)
        # the formula: edge of the image, walk, x4 bilinear, crop, / max
        h, w = img.shape[1:]
        x = net.data_preprocessor(dict(inputs=[img]), False)['inputs']
        edge = net.extract_edge(x, [(h, w)])
        cam = ds.pred_cam_s4.data[None]
        rw = random_walk(cam, edge, 8.0, 3, 3)[0]
        up = F.interpolate(
            rw[None], scale_factor=4, mode='bilinear',
            align_corners=False)[0, :, :h, :w]
        torch.testing.assert_close(
            got.pred_rw.data, up / up.max(), rtol=1e-5, atol=1e-6)
        assert got.pred_rw.data.shape == (cam.shape[1], h, w)


def test_refiner_options_and_errors():
    net = EdgeNet()
    assert RandomWalkMaps(net, refiner=dict(beta=2.0)).refiner.beta == 2.0
    for bad in (dict(beta=0), dict(exp_times=-1), dict(radius=0),
                dict(exp_times=1.5)):
        with pytest.raises(ValueError):
            RandomWalkMaps(net, refiner=bad)
    no_edge = nn.Sequential()
    no_edge.test_step = lambda data: data
    with pytest.raises(TypeError, match='extract_edge'):
        RandomWalkMaps(no_edge)
    img, ds = sample(np.random.default_rng(1), 16, 16, 2)
    ds.cam_keys = torch.arange(2)
    with pytest.raises(DataFileError, match='16x16.png'):
        RandomWalkMaps(net).test_step(dict(inputs=[img], data_samples=[ds]))
