"""RampedEMA: the decay ramp d·(1 − exp(−t/ramp)) on hand-worked numbers,
and its use through MMEngine's EMAHook registry lookup."""
import pytest
import torch
from mmengine.hooks import EMAHook
from mmengine.registry import MODELS as ENGINE_MODELS
from torch import nn

from mmwsss.models.layers import RampedEMA


def _net(value):
    net = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(value)
    return net


def _updates(ema, values):
    out = []
    for v in values:
        ema.update_parameters(_net(v))
        out.append(ema.module.weight.item())
    return out


def test_hand_worked_ramp():
    # d = 0.5, ramp 1: d_1 = 0.5 (1 - e^-1) = 0.31606028,
    # d_2 = 0.5 (1 - e^-2) = 0.43233236
    # weights 1, 3, 0: avg 1 (copy); 0.31606028·1 + 0.68393972·3 =
    # 2.36787944; 0.43233236·2.36787944 + 0 = 1.02371115
    ema = RampedEMA(_net(0.0), decay=0.5, ramp_iters=1)
    got = _updates(ema, [1.0, 3.0, 0.0])
    assert got == pytest.approx([1.0, 2.36787944, 1.02371115], rel=1e-6)
    assert ema.decay_at(1) == pytest.approx(0.31606028, rel=1e-7)


def test_late_decay_and_no_ramp():
    ema = RampedEMA(_net(0.0), decay=0.9999, ramp_iters=2000)
    # after ten time constants the ramp is within 5e-5 of d
    assert ema.decay_at(20000) == pytest.approx(
        0.9999 * (1 - 4.54e-5), rel=1e-7)
    assert ema.decay_at(1) == pytest.approx(0.9999 * 4.99875e-4, rel=1e-5)
    const = RampedEMA(_net(0.0), decay=0.75, ramp_iters=0)
    # constant decay 0.75: 2, 0.75·2 + 0.25·6 = 3, 0.75·3 + 0.25·(-1) = 2
    assert _updates(const, [2.0, 6.0, -1.0]) == pytest.approx([2, 3, 2])


def test_bad_options():
    with pytest.raises(ValueError, match='decay'):
        RampedEMA(_net(0.0), decay=1.0)
    with pytest.raises(ValueError, match='ramp_iters'):
        RampedEMA(_net(0.0), ramp_iters=-1)


def test_built_by_the_ema_hook_config():
    """EMAHook builds ``ema_type`` from MMEngine's MODELS; with the mmseg
    default scope the lookup reaches the registered RampedEMA."""
    hook = EMAHook(ema_type='RampedEMA', decay=0.5, ramp_iters=1)
    ema = ENGINE_MODELS.build(hook.ema_cfg, default_args=dict(model=_net(0.0)))
    assert isinstance(ema, RampedEMA)
    assert (ema.decay, ema.ramp_iters) == (0.5, 1.0)
