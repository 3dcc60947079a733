"""WideResNet-38 (RRM backbone): layout against the stage table, output
stride 8, pre-activation units against a functional reference, frozen BN and
stem through a real SGD step, dropout placement, out_indices; the RRM
backbone config snippets (WR38, ResNetV1c-50/101 OS8)."""
import copy
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mmwsss  # noqa: F401
from mmwsss.models.backbones import WideResNet38
from mmwsss.models.backbones.wide_resnet38 import (PreActBasicUnit,
                                                   PreActBottleneckUnit)

CFG_DIR = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', '_base_', 'models',
    'backbones')

# hand-written from the stage table: (units, in, mid, out) per basic stage
BASIC = {
    'b2': (3, 64, 128, 128),
    'b3': (3, 128, 256, 256),
    'b4': (6, 256, 512, 512),
    'b5': (3, 512, 512, 1024),
}
# bottlenecks: (in, 1x1, 3x3, out, dropout)
BOTTLENECK = {'b6': (1024, 512, 1024, 2048, 0.3),
              'b7': (2048, 1024, 2048, 4096, 0.5)}


@pytest.fixture(scope='module')
def wr38():
    torch.manual_seed(0)
    model = WideResNet38(out_indices=range(7))
    model.init_weights()
    _randomise_bn(model)
    return model


def _randomise_bn(model):
    """Non-trivial BN statistics/affine so a BN mistake shows in values."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
            m.running_var.copy_(0.5 + torch.rand(n, generator=g))
            m.weight.data.copy_(0.5 + 0.5 * torch.rand(n, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=g))


def _bn(x, m):
    return F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias,
                        False, 0.0, m.eps)


def test_layout_matches_stage_table(wr38):
    assert wr38.conv1a.weight.shape == (64, 3, 3, 3)
    assert wr38.conv1a.bias is None and wr38.conv1a.padding == (1, 1)
    for name, (units, cin, mid, cout) in BASIC.items():
        stage = getattr(wr38, name)
        assert len(stage) == units
        for i, u in enumerate(stage):
            assert isinstance(u, PreActBasicUnit)
            assert u.conv1.weight.shape[:2] == (mid, cin if i == 0 else cout)
            assert u.conv2.weight.shape[:2] == (cout, mid)
            stride = 2 if i == 0 and name != 'b5' else 1
            assert u.conv1.stride == (stride, stride)
            # b5: dilation 2, but 1 in the first conv of its first unit
            d2 = 2 if name == 'b5' else 1
            d1 = 1 if i == 0 else d2
            assert u.conv1.dilation == (d1, d1) and u.conv1.padding == (d1,
                                                                        d1)
            assert u.conv2.dilation == (d2, d2) and u.conv2.padding == (d2,
                                                                        d2)
            has_proj = i == 0  # every first unit changes shape
            assert (u.shortcut is not None) == has_proj
            if has_proj:
                assert u.shortcut.stride == (stride, stride)
    for name, (cin, m1, m2, cout, p) in BOTTLENECK.items():
        (u, ) = getattr(wr38, name)
        assert isinstance(u, PreActBottleneckUnit)
        assert u.conv1.weight.shape == (m1, cin, 1, 1)
        assert u.conv2.weight.shape == (m2, m1, 3, 3)
        assert u.conv2.dilation == (4, 4) and u.conv2.padding == (4, 4)
        assert u.conv3.weight.shape == (cout, m2, 1, 1)
        assert u.shortcut.weight.shape == (cout, cin, 1, 1)
        assert u.drop1.p == p and u.drop2.p == p
    assert wr38.bn7.num_features == 4096
    assert all(m.bias is None for m in wr38.modules()
               if isinstance(m, torch.nn.Conv2d))
    n = sum(p.numel() for p in wr38.parameters())
    assert 100e6 < n < 110e6  # ~105M parameters (WR38 "ResNet-38")
    assert wr38.out_channels == [128, 256, 512, 1024, 2048, 4096, 4096]
    assert wr38.out_strides == [2, 4, 8, 8, 8, 8, 8]


@pytest.mark.parametrize('size', [(33, 47), (40, 17)])
def test_output_sizes_are_ceil_of_stride(wr38, size):
    wr38.eval()
    h, w = size
    with torch.no_grad():
        outs = wr38(torch.randn(1, 3, h, w))
    for out, c, s in zip(outs, wr38.out_channels, wr38.out_strides):
        assert out.shape == (1, c, math.ceil(h / s), math.ceil(w / s))


def test_321_crop_gives_41x41(wr38):
    wr38.eval()
    torch.manual_seed(0)
    x = torch.randn(1, 3, 321, 321)
    with torch.no_grad():
        feat = wr38(x)[-1]
    assert feat.shape == (1, 4096, 41, 41)
    assert feat.min() >= 0  # bn7 + ReLU


def test_units_match_functional_reference(wr38):
    """Pre-activation: BN-ReLU first, the projection shortcut on the
    BN-ReLU'd input, an identity shortcut on the raw input."""
    torch.manual_seed(0)
    x = torch.randn(2, 64, 13, 11)
    u = wr38.b2[0]  # projection, stride 2
    y = F.relu(_bn(x, u.norm1))
    ref = F.conv2d(y, u.conv1.weight, stride=2, padding=1)
    ref = F.conv2d(F.relu(_bn(ref, u.norm2)), u.conv2.weight, padding=1)
    ref = ref + F.conv2d(y, u.shortcut.weight, stride=2)
    x5 = torch.randn(1, 1024, 6, 7)
    v = wr38.b5[1]  # identity shortcut, dilation 2
    y5 = F.relu(_bn(x5, v.norm1))
    ref5 = F.conv2d(y5, v.conv1.weight, padding=2, dilation=2)
    ref5 = F.conv2d(F.relu(_bn(ref5, v.norm2)), v.conv2.weight, padding=2,
                    dilation=2) + x5
    x6 = torch.randn(1, 1024, 6, 5)
    b = wr38.b6[0]
    y6 = F.relu(_bn(x6, b.norm1))
    r6 = F.conv2d(F.relu(_bn(F.conv2d(y6, b.conv1.weight), b.norm2)),
                  b.conv2.weight, padding=4, dilation=4)
    r6 = F.conv2d(F.relu(_bn(r6, b.norm3)), b.conv3.weight)
    r6 = r6 + F.conv2d(y6, b.shortcut.weight)
    wr38.eval()
    with torch.no_grad():
        torch.testing.assert_close(u(x), ref, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(v(x5), ref5, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(b(x6), r6, rtol=1e-4, atol=1e-4)
        # bn7 output = ReLU(BN(b7 output)) with the running statistics
        outs = wr38(torch.randn(1, 3, 24, 24))
        torch.testing.assert_close(outs[6], F.relu(_bn(outs[5], wr38.bn7)))


def _dropout_check(wr38):
    """In train mode, the input of conv2 / conv3 of b6 and b7 is
    ReLU(norm2 / norm3 output) with whole channels zeroed and the others
    scaled by 1 / (1 - p); returns the zeroed fraction per conv."""
    pre, post, hooks = {}, {}, []
    for name in ('b6', 'b7'):
        unit = getattr(wr38, name)[0]
        for norm, conv in (('norm2', 'conv2'), ('norm3', 'conv3')):
            key = f'{name}.{conv}'

            def grab_pre(mod, inp, out, key=key):
                pre[key] = F.relu(out.detach().clone())

            def grab_post(mod, inp, key=key):
                post[key] = inp[0].detach().clone()

            hooks.append(
                getattr(unit, norm).register_forward_hook(grab_pre))
            hooks.append(
                getattr(unit, conv).register_forward_pre_hook(grab_post))
    torch.manual_seed(3)
    with torch.no_grad():
        wr38(torch.randn(1, 3, 40, 40))
    for h in hooks:
        h.remove()
    fractions = {}
    for key, a in pre.items():
        p = getattr(wr38, key[:2])[0].drop1.p if wr38.training else 0.0
        b = post[key]
        live = a.flatten(2).amax(2) > 0  # channels ReLU left non-zero
        dropped = b.flatten(2).abs().amax(2) == 0
        kept = live & ~dropped
        torch.testing.assert_close(b[kept], a[kept] / (1 - p))
        fractions[key] = float((dropped & live).sum() / live.sum())
    return fractions


def test_dropout_active_in_train_only(wr38):
    x = torch.randn(1, 3, 24, 24)
    wr38.train()
    with torch.no_grad():
        a, b = wr38(x)[-1], wr38(x)[-1]
    assert not torch.allclose(a, b)
    wr38.eval()
    with torch.no_grad():
        c, d = wr38(x)[-1], wr38(x)[-1]
    torch.testing.assert_close(c, d, rtol=0, atol=0)
    # Dropout2d zeroes whole channels before the 3x3 and the last 1x1 conv
    # of b6 (p 0.3, 1024 / 2048 channels) and b7 (p 0.5, 2048 / 4096)
    wr38.train()
    frac = _dropout_check(wr38)
    for key, p in (('b6.conv2', 0.3), ('b6.conv3', 0.3), ('b7.conv2', 0.5),
                   ('b7.conv3', 0.5)):
        assert abs(frac[key] - p) < 0.06, (key, frac)
    wr38.eval()
    assert all(v == 0 for v in _dropout_check(wr38).values())


def test_frozen_bn_and_stem_survive_a_train_step(wr38):
    model = copy.deepcopy(wr38)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    frozen = [p for m in bns for p in m.parameters()]
    frozen += list(model.conv1a.parameters())
    assert all(not p.requires_grad for p in frozen)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                          lr=0.1)
    torch.manual_seed(0)
    loss = model(torch.randn(2, 3, 24, 24))[-1].square().mean()
    loss.backward()
    assert all(p.grad is None for p in frozen)
    assert model.b4[2].conv1.weight.grad.abs().sum() > 0
    opt.step()
    after = model.state_dict()
    for k, v in before.items():
        changed = not torch.equal(v, after[k])
        is_bn = any(k.endswith(s) for s in ('running_mean', 'running_var',
                                            'num_batches_tracked'))
        if is_bn or k.startswith('conv1a') or 'norm' in k or \
                k.startswith('bn7'):
            assert not changed, k
    assert not torch.equal(before['b4.2.conv1.weight'],
                           after['b4.2.conv1.weight'])
    # without dropout, train mode computes exactly what eval mode computes
    nodrop = copy.deepcopy(wr38)
    for m in nodrop.modules():
        if isinstance(m, torch.nn.Dropout2d):
            m.p = 0.0
    x = torch.randn(1, 3, 24, 24)
    with torch.no_grad():
        t = nodrop.train()(x)[-1]
        e = nodrop.eval()(x)[-1]
    torch.testing.assert_close(t, e, rtol=0, atol=0)


def test_unfrozen_bn_trains():
    model = WideResNet38(
        frozen_bn=False, frozen_stem=False, drop_rates=(0.0, 0.0))
    model.train()
    assert model.bn7.training and model.bn7.weight.requires_grad
    assert model.conv1a.weight.requires_grad
    mean0 = model.bn7.running_mean.clone()
    model(torch.randn(2, 3, 24, 24))
    assert not torch.equal(mean0, model.bn7.running_mean)


def test_out_indices_and_errors():
    model = WideResNet38(out_indices=(2, 6))
    assert model.out_channels == [512, 4096]
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 16, 16))
    assert [o.shape[1] for o in outs] == [512, 4096]
    assert WideResNet38().out_indices == (6, )
    for bad in ((7, ), (), (-1, )):
        with pytest.raises(ValueError, match='out_indices'):
            WideResNet38(out_indices=bad)
    with pytest.raises(ValueError, match='drop_rates'):
        WideResNet38(drop_rates=(0.3, ))


def test_syncbn_frozen_runs_on_cpu():
    model = MODELS.build(
        dict(type='WideResNet38', norm_cfg=dict(type='SyncBN')))
    model.train()
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 16, 16))[-1]
    assert out.shape == (1, 4096, 2, 2)


@pytest.mark.parametrize('name,typ,channels', [
    ('wide_resnet38.py', 'WideResNet38', 4096),
    ('resnetv1c50_os8_frozen.py', 'ResNetV1c', 2048),
    ('resnetv1c101_os8_frozen.py', 'ResNetV1c', 2048),
])
def test_rrm_backbone_snippets(tmp_path, name, typ, channels):
    # composes with a model base as a method config uses it
    (tmp_path / 'model_base.py').write_text(
        "model = dict(type='RRM', backbone=dict())\n")
    (tmp_path / 'method.py').write_text(
        f"_base_ = ['./model_base.py', {osp.join(CFG_DIR, name)!r}]\n"
        'model = dict(backbone=_base_.backbone)\n')
    cfg = Config.fromfile(str(tmp_path / 'method.py'))
    assert cfg.model.type == 'RRM'
    bb = copy.deepcopy(cfg.model.backbone.to_dict())
    assert bb == cfg.backbone.to_dict()
    assert bb['type'] == typ
    assert cfg.backbone_channels == channels and cfg.backbone_stride == 8
    if typ == 'ResNetV1c':
        assert bb['strides'] == (1, 2, 1, 1)
        assert bb['dilations'] == (1, 1, 2, 4)
        assert bb['norm_eval'] is True
        assert bb['norm_cfg'] == dict(type='BN', requires_grad=False)
        assert bb['init_cfg']['checkpoint'] == \
            f'open-mmlab://resnet{bb["depth"]}_v1c'
    else:
        assert bb['frozen_bn'] and bb['frozen_stem']
        assert bb['drop_rates'] == (0.3, 0.5)
    bb['init_cfg'] = None  # no downloads in tests
    model = MODELS.build(bb)
    model.init_weights()
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    assert all(not p.requires_grad for m in bns for p in m.parameters())
    h, w = 65, 70
    with torch.no_grad():
        out = model(torch.randn(1, 3, h, w))[-1]
    assert out.shape == (1, channels, math.ceil(h / 8), math.ceil(w / 8))
