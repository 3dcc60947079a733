"""WSSSOptimWrapperConstructor groups, SGD presets and the poly schedule."""
import os.path as osp

import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import PolyLR, build_optim_wrapper

import mmwsss  # noqa: F401
from mmwsss.engine.optimizers import (WSSSOptimWrapperConstructor,
                                      wsss_sgd_optim_wrapper)

SCHED_DIR = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', '_base_', 'schedules')
LR, WD = 0.1, 1e-4


class _Backbone(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.conv_b = nn.Conv2d(4, 4, 1, bias=True)


class _Toy(nn.Module):

    def __init__(self, head_bias=True):
        super().__init__()
        self.backbone = _Backbone()
        self.head = nn.Conv2d(4, 2, 1, bias=head_bias)
        self.neck_gn = nn.GroupNorm(2, 4)
        self.frozen = nn.Conv2d(4, 4, 1)
        for p in self.frozen.parameters():
            p.requires_grad = False


def _cfg(**paramwise):
    return dict(
        type='OptimWrapper',
        optimizer=dict(
            type='SGD', lr=LR, momentum=1e-4, weight_decay=WD, nesterov=True),
        constructor='WSSSOptimWrapperConstructor',
        paramwise_cfg=paramwise or None)


def _group_of(optimizer):
    out = {}
    for g in optimizer.param_groups:
        for p in g['params']:
            assert id(p) not in out, 'parameter in two groups'
            out[id(p)] = g
    return out


# hand-computed table (official 1x / 2x / 10x / 20x lr rule):
# name -> (lr, wd, group name)
EXPECTED = {
    'backbone.conv.weight': (LR, WD, 'backbone_weight'),
    'backbone.bn.weight': (LR, WD, 'backbone_weight'),
    'backbone.bn.bias': (2 * LR, 0.0, 'backbone_bias'),
    'backbone.conv_b.weight': (LR, WD, 'backbone_weight'),
    'backbone.conv_b.bias': (2 * LR, 0.0, 'backbone_bias'),
    'head.weight': (10 * LR, WD, 'new_weight'),
    'head.bias': (20 * LR, 0.0, 'new_bias'),
    'neck_gn.weight': (10 * LR, WD, 'new_weight'),
    'neck_gn.bias': (20 * LR, 0.0, 'new_bias'),
}


def test_four_groups_every_parameter():
    model = _Toy()
    ow = build_optim_wrapper(model, _cfg())
    groups = _group_of(ow.optimizer)
    names = [g['name'] for g in ow.optimizer.param_groups]
    assert names == [
        'backbone_weight', 'backbone_bias', 'new_weight', 'new_bias'
    ]
    seen = set()
    for name, p in model.named_parameters():
        if name.startswith('frozen.'):
            assert id(p) not in groups  # requires_grad=False: skipped
            continue
        lr, wd, gname = EXPECTED[name]
        g = groups[id(p)]
        assert g['lr'] == pytest.approx(lr), name
        assert g['weight_decay'] == pytest.approx(wd), name
        assert g['name'] == gname, name
        assert g['momentum'] == pytest.approx(1e-4) and g['nesterov']
        seen.add(name)
    assert seen == set(EXPECTED)
    assert sum(len(g['params']) for g in ow.optimizer.param_groups) == 9


def test_custom_multipliers_prefixes_and_empty_groups():
    model = _Toy(head_bias=False)
    model.neck_gn = nn.GroupNorm(2, 4, affine=False)  # no new biases left
    cfg = _cfg(
        new_lr_mult=5.0,
        bias_lr_mult=3.0,
        bias_decay_mult=0.5,
        backbone_prefixes=('backbone.conv', 'backbone.bn'))
    ow = build_optim_wrapper(model, cfg)
    groups = _group_of(ow.optimizer)
    # the empty new_bias group is dropped
    assert [g['name'] for g in ow.optimizer.param_groups
            ] == ['backbone_weight', 'backbone_bias', 'new_weight']
    expected = {
        'backbone.conv.weight': (LR, WD),
        'backbone.bn.weight': (LR, WD),
        'backbone.bn.bias': (3 * LR, 0.5 * WD),
        # 'backbone.conv_b.*' starts with 'backbone.conv' -> backbone
        'backbone.conv_b.weight': (LR, WD),
        'backbone.conv_b.bias': (3 * LR, 0.5 * WD),
        'head.weight': (5 * LR, WD),
    }
    for name, p in model.named_parameters():
        if name.startswith('frozen.'):
            continue
        lr, wd = expected[name]
        assert groups[id(p)]['lr'] == pytest.approx(lr), name
        assert groups[id(p)]['weight_decay'] == pytest.approx(wd), name

    # only-backbone prefix mismatch -> the whole model is "new";
    # and a model without biases has no bias groups at all
    model = nn.Sequential(nn.Conv2d(3, 3, 1, bias=False))
    ow = build_optim_wrapper(model, _cfg())
    (g, ) = ow.optimizer.param_groups
    assert g['name'] == 'new_weight' and g['lr'] == pytest.approx(10 * LR)


def test_single_group():
    model = _Toy()
    ow = build_optim_wrapper(model, _cfg(single_group=True))
    (g, ) = ow.optimizer.param_groups
    assert g['name'] == 'all'
    assert g['lr'] == pytest.approx(LR)
    assert g['weight_decay'] == pytest.approx(WD)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert {id(p) for p in g['params']} == trainable
    assert len(g['params']) == 9


def test_wrapped_model_and_validation():
    model = _Toy()

    class _Wrap(nn.Module):

        def __init__(self, module):
            super().__init__()
            self.module = module

    ow = build_optim_wrapper(_Wrap(model), _cfg())
    assert len(ow.optimizer.param_groups) == 4
    with pytest.raises(KeyError, match='new_lr_multt'):
        WSSSOptimWrapperConstructor(
            dict(optimizer=dict(type='SGD', lr=0.1)), dict(new_lr_multt=1.0))
    with pytest.raises(ValueError, match='lr'):
        WSSSOptimWrapperConstructor(dict(optimizer=dict(type='SGD')))


def test_official_and_momentum_presets():
    official = Config.fromfile(osp.join(SCHED_DIR, 'wsss_official_sgd.py'))
    momentum = Config.fromfile(osp.join(SCHED_DIR, 'wsss_momentum_sgd.py'))
    assert official.optim_preset == 'official'
    assert momentum.optim_preset == 'momentum'
    model = _Toy()
    ow = build_optim_wrapper(model, official.optim_wrapper)
    for g in ow.optimizer.param_groups:
        assert g['momentum'] == pytest.approx(1e-4)  # = weight decay (quirk)
        assert g['nesterov'] is True
    lrs = {g['name']: g['lr'] for g in ow.optimizer.param_groups}
    assert lrs == pytest.approx(
        dict(
            backbone_weight=0.1,
            backbone_bias=0.2,
            new_weight=1.0,
            new_bias=2.0))
    ow = build_optim_wrapper(model, momentum.optim_wrapper)
    for g in ow.optimizer.param_groups:
        assert g['momentum'] == pytest.approx(0.9) and g['nesterov'] is True
    assert ow.optimizer.param_groups[0]['lr'] == pytest.approx(0.01)
    # the helper produces exactly the snippets
    assert wsss_sgd_optim_wrapper('official') == official.optim_wrapper
    assert wsss_sgd_optim_wrapper('momentum') == momentum.optim_wrapper
    assert wsss_sgd_optim_wrapper(
        'official', lr=0.007, weight_decay=4e-5)['optimizer'] == dict(
            type='SGD',
            lr=0.007,
            momentum=4e-5,
            weight_decay=4e-5,
            nesterov=True)
    with pytest.raises(ValueError):
        wsss_sgd_optim_wrapper('adam')


def test_poly_schedule_snippet():
    sched = Config.fromfile(osp.join(SCHED_DIR, 'schedule_poly_iters.py'))
    assert sched.train_cfg['type'] == 'IterBasedTrainLoop'
    assert sched.train_cfg['max_iters'] == 4950 == 15 * 330
    (ps, ) = sched.param_scheduler
    assert ps['type'] == 'PolyLR' and ps['power'] == 0.9
    assert ps['eta_min'] == 0.0 and ps['by_epoch'] is False
    # MMEngine's PolyLR hits eta_min at step end - 1: end = T + 1 gives the
    # official lr_t = lr_0 (1 - t/T)^0.9, t = 0..T-1
    assert ps['end'] == sched.train_cfg['max_iters'] + 1
    T = 20  # short T for speed
    model = _Toy()
    ow = build_optim_wrapper(model, _cfg())
    base = [g['lr'] for g in ow.optimizer.param_groups]
    kw = {k: v for k, v in ps.items() if k not in ('type', 'end')}
    scheduler = PolyLR(ow, end=T + 1, **kw)
    for t in range(T):
        factor = (1 - t / T)**0.9
        for g, lr0 in zip(ow.optimizer.param_groups, base):
            assert g['lr'] == pytest.approx(lr0 * factor, rel=1e-6, abs=1e-12)
        ow.optimizer.step()
        scheduler.step()
