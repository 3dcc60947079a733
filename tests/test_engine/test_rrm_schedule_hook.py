"""RRMScheduleHook: phases and the restarted poly lr of the from-ImageNet
RRM recipe, driven by a fake runner (hand-computed values)."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mmwsss.engine.hooks import RRMScheduleHook


class _Model(nn.Module):

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2)
        self.b = nn.Linear(2, 2)
        self.phases = []

    def set_phase(self, phase):
        self.phases.append(phase)


def _runner(model, lrs=(0.01, 0.1)):
    opt = torch.optim.SGD([
        dict(params=model.a.parameters(), lr=lrs[0]),
        dict(params=model.b.parameters(), lr=lrs[1])
    ],
                          lr=lrs[0])
    return SimpleNamespace(
        model=model,
        iter=0,
        max_iters=10,
        optim_wrapper=SimpleNamespace(optimizer=opt))


def test_phases_and_restarted_lr():
    model = _Model()
    runner = _runner(model)
    hook = RRMScheduleHook(joint_start_iter=4, second_half_lr=7e-4)
    hook.before_train(runner)
    seen = []
    for it in range(10):
        runner.iter = it
        hook.before_train_iter(runner, it)
        seen.append([g['lr'] for g in runner.optim_wrapper.optimizer.
                     param_groups])
    assert model.phases == ['cls'] * 4 + ['joint'] * 6
    # first half: the config's own lrs are untouched (PolyLR's job)
    assert seen[:4] == [[0.01, 0.1]] * 4
    # second half: every group 7e-4 * (1 - (t - 4) / 6) ** 0.9
    for it in range(4, 10):
        want = 7e-4 * (1 - (it - 4) / 6)**0.9
        assert seen[it] == pytest.approx([want, want], rel=1e-12)
    assert seen[4] == pytest.approx([7e-4, 7e-4])


def test_without_restart_and_bad_args():
    model = _Model()
    runner = _runner(model)
    hook = RRMScheduleHook(joint_start_iter=2, second_half_lr=None)
    for it in range(5):
        runner.iter = it
        hook.before_train_iter(runner, it)
    assert [g['lr'] for g in runner.optim_wrapper.optimizer.param_groups
            ] == [0.01, 0.1]
    assert model.phases == ['cls', 'cls', 'joint', 'joint', 'joint']
    with pytest.raises(ValueError, match='joint_start_iter'):
        RRMScheduleHook(joint_start_iter=-1)
    with pytest.raises(ValueError, match='second_half_lr'):
        RRMScheduleHook(joint_start_iter=1, second_half_lr=0)
    no_phase = SimpleNamespace(model=nn.Linear(1, 1))
    with pytest.raises(AttributeError, match='set_phase'):
        RRMScheduleHook(1).before_train(no_phase)
