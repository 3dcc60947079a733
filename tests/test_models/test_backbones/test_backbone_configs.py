"""Backbone config snippets: build without weights, check stride/channels."""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import mmwsss  # noqa: F401

CFG_DIR = osp.join(
    osp.dirname(__file__), '..', '..', '..', 'configs', '_base_', 'models',
    'backbones')

# snippet -> (type, last-output channels, last-output stride)
SNIPPETS = {
    'resnet50_os16.py': ('ResNet', 2048, 16),
    'resnet101_os16.py': ('ResNet', 2048, 16),
    'resnet50_os8.py': ('ResNet', 2048, 8),
    'resnetv1c50.py': ('ResNetV1c', 2048, 8),
    'resnest50_os16.py': ('ResNeSt', 2048, 16),
    'resnest101_os16.py': ('ResNeSt', 2048, 16),
    'efficientnet_lite0.py': ('EfficientNetLite', 1280, 16),
    'efficientnet_lite1.py': ('EfficientNetLite', 1280, 16),
    'efficientnet_lite2.py': ('EfficientNetLite', 1280, 16),
}


def _load(name):
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    return cfg


def _check_build(backbone_cfg, channels, stride, size=(65, 70)):
    model = MODELS.build(backbone_cfg)
    model.init_weights()
    model.eval()
    h, w = size
    with torch.no_grad():
        outs = model(torch.randn(1, 3, h, w))
    last = outs[-1]
    assert last.shape == (1, channels, math.ceil(h / stride),
                          math.ceil(w / stride))
    return model, outs


def _check_layout(name, model):
    """Details of the official backbone layouts (stem, strides, dilations)."""
    if name == 'resnet50_os16.py':
        assert model.conv1.kernel_size == (7, 7)  # torchvision stem, not V1c
        assert model.layer4[0].conv2.stride == (1, 1)
        assert all(m.conv2.dilation == (1, 1) for m in model.layer4)
    elif name.startswith('resnest'):
        stem = 64 if '50' in name else 128
        assert model.stem[-2].num_features == stem  # deep stem output
        # layer4: stride 1; first block dilation 1, the others dilation 2
        blocks = list(model.layer4)
        assert blocks[0].conv2.conv.stride == (1, 1)
        assert blocks[0].conv2.conv.dilation == (1, 1)
        assert all(m.conv2.conv.dilation == (2, 2) for m in blocks[1:])
    elif name == 'resnet50_os8.py':
        assert [m.conv2.dilation for m in model.layer4] == [(2, 2), (4, 4),
                                                            (4, 4)]


@pytest.mark.parametrize('name', sorted(SNIPPETS))
def test_snippet_builds_with_expected_stride(name):
    typ, channels, stride = SNIPPETS[name]
    cfg = _load(name)
    assert cfg.backbone['type'] == typ
    assert cfg.backbone_channels == channels
    assert cfg.backbone_stride == stride
    assert cfg.backbone['init_cfg']['type'] == 'Pretrained'
    assert cfg.backbone['norm_eval'] is False
    assert cfg.backbone['norm_cfg'] == dict(type='BN', requires_grad=True)
    bb = copy.deepcopy(cfg.backbone.to_dict())
    bb['init_cfg'] = None  # no downloads in tests
    model, outs = _check_build(bb, channels, stride)
    if typ != 'EfficientNetLite':
        assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]
    _check_layout(name, model)


def test_official_checkpoints():
    ckpts = {
        name: _load(name).backbone['init_cfg']['checkpoint']
        for name in SNIPPETS
    }
    assert ckpts['resnet50_os16.py'] == 'torchvision://resnet50'
    assert ckpts['resnet101_os16.py'] == 'torchvision://resnet101'
    assert ckpts['resnest50_os16.py'] == 'open-mmlab://resnest50'
    assert ckpts['resnest101_os16.py'] == 'open-mmlab://resnest101'
    assert ckpts['efficientnet_lite1.py'] == 'efficientnet-lite1'


def test_resnest269_snippet_through_mmpretrain_scope():
    cfg = _load('resnest269_mmpretrain.py')
    bb = cfg.backbone.to_dict()
    assert bb['type'] == 'mmpretrain.ResNeSt'
    assert bb['depth'] == 269 and bb['stem_channels'] == 128
    assert bb['init_cfg'] is None
    assert tuple(bb['strides']) == (1, 2, 2, 1)
    assert tuple(bb['dilations']) == (1, 1, 1, 2)
    assert cfg.backbone_channels == 2048 and cfg.backbone_stride == 16
    # depth 269 is slow to build on CPU: check the scope with depth 50
    small = dict(bb, depth=50, stem_channels=64)
    model, outs = _check_build(small, 2048, 16)
    assert type(model).__module__.startswith('mmpretrain.')
    assert len(outs) == 4
