"""RSEPMPhaseHook: cls -> rs -> rs_epm by iteration (RS+EPM schedule)."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.logging import MessageHub
from mmseg.registry import HOOKS
from torch.utils.data import DataLoader

import mmwsss.engine.hooks.rsepm_phase_hook as hook_mod
from mmwsss.engine.hooks import RSEPMPhaseHook

IPE = 10  # iterations per epoch in these tests


class _Model:

    def __init__(self):
        self.calls = []

    def set_phase(self, phase):
        self.calls.append(phase)


def _runner(t, loader=None, max_iters=20 * IPE, name='rsepm_phase_test'):
    return SimpleNamespace(
        model=_Model(),
        iter=t,
        max_iters=max_iters,
        train_dataloader=loader if loader is not None else list(range(IPE)),
        message_hub=MessageHub.get_instance(name))


def _expected(t, rs_start, epm_start):
    """The schedule written out: start epochs in epochs of IPE iters."""
    epoch = t / IPE
    if epoch >= epm_start:
        return 'rs_epm'
    if epoch >= rs_start:
        return 'rs'
    return 'cls'


# reading (b) 'start': cls [0, 5), rs [5, 15), rs_epm [15, 20)
START_CASES = [(0, 'cls'), (49, 'cls'), (50, 'rs'), (51, 'rs'), (149, 'rs'),
               (150, 'rs_epm'), (199, 'rs_epm')]
# reading (a) 'duration' of the same numbers: rs [0, 5), rs_epm [5, 20)
DURATION_CASES = [(0, 'rs'), (49, 'rs'), (50, 'rs_epm'), (51, 'rs_epm'),
                  (149, 'rs_epm'), (199, 'rs_epm')]


@pytest.mark.parametrize('t,phase', START_CASES)
def test_start_reading(t, phase):
    hook = HOOKS.build(dict(type='RSEPMPhaseHook'))  # 5 / 15 / 20, 'start'
    runner = _runner(t)
    hook.before_train(runner)
    hook.before_train_iter(runner, batch_idx=t)
    assert runner.model.calls == [phase]
    assert phase == _expected(t, 5, 15)
    assert runner.message_hub.get_scalar('train/phase').current() == \
        ['cls', 'rs', 'rs_epm'].index(phase)


@pytest.mark.parametrize('t,phase', DURATION_CASES)
def test_duration_reading(t, phase):
    hook = RSEPMPhaseHook(
        rs_start_epoch=5,
        epm_start_epoch=15,
        max_epochs=20,
        reading='duration')
    assert hook.milestones() == (0.0, 5.0)
    runner = _runner(t)
    hook.before_train(runner)
    hook.before_train_iter(runner, batch_idx=t)
    assert runner.model.calls == [phase]
    assert phase == _expected(t, 0, 5)


def test_transitions_logged_once_and_resume(monkeypatch):
    msgs = []
    monkeypatch.setattr(hook_mod, 'print_log',
                        lambda msg, **kw: msgs.append(msg))
    hook = RSEPMPhaseHook(
        iters_per_epoch=2, rs_start_epoch=1, epm_start_epoch=2, max_epochs=3)
    runner = _runner(0, max_iters=6)
    hook.before_train(runner)
    phases = []
    for t in range(6):
        runner.iter = t
        hook.before_train_iter(runner, batch_idx=t)
        phases.append(runner.model.calls[-1])
    assert phases == ['cls', 'cls', 'rs', 'rs', 'rs_epm', 'rs_epm']
    changes = [m for m in msgs if m.startswith('RS+EPM phase')]
    assert changes == [
        'RS+EPM phase: start -> cls at iter 0',
        'RS+EPM phase: cls -> rs at iter 2',
        'RS+EPM phase: rs -> rs_epm at iter 4'
    ]
    # resume at iteration 3: a fresh hook starts directly in 'rs'
    msgs.clear()
    hook2 = RSEPMPhaseHook(
        iters_per_epoch=2, rs_start_epoch=1, epm_start_epoch=2, max_epochs=3)
    runner2 = _runner(3, max_iters=6)
    hook2.before_train(runner2)
    hook2.before_train_iter(runner2, batch_idx=0)
    assert runner2.model.calls == ['rs']
    assert 'RS+EPM phase: start -> rs at iter 3' in msgs


def test_iters_per_epoch_from_dataloader(monkeypatch):
    data = list(range(100))
    loader = DataLoader(
        data, batch_size=4, sampler=DefaultSampler(data, shuffle=False))
    assert RSEPMPhaseHook.infer_iters_per_epoch(_runner(0, loader)) == 25
    inf = DataLoader(
        data, batch_size=4, sampler=InfiniteSampler(data, shuffle=False))
    # InfiniteSampler reports the whole dataset on every rank
    monkeypatch.setattr(hook_mod, 'get_world_size', lambda: 1)
    assert RSEPMPhaseHook.infer_iters_per_epoch(_runner(0, inf)) == 25
    monkeypatch.setattr(hook_mod, 'get_world_size', lambda: 4)
    assert RSEPMPhaseHook.infer_iters_per_epoch(_runner(0, inf)) == 6
    hook = RSEPMPhaseHook()
    runner = _runner(29, inf)
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)  # 6 iters/epoch: rs from iter 30
    hook.before_train_iter(SimpleNamespace(**{**vars(runner), 'iter': 30}), 0)
    assert runner.model.calls == ['cls', 'rs']


def test_fractional_epochs_and_validation():
    hook = RSEPMPhaseHook(rs_start_epoch=0.5, epm_start_epoch=1.25)
    assert hook.milestone_iters(8) == (4, 10)
    assert [hook.phase_at(t, 8) for t in (3, 4, 9, 10)] == \
        ['cls', 'rs', 'rs', 'rs_epm']
    with pytest.raises(ValueError):
        RSEPMPhaseHook(reading='epochs')
    with pytest.raises(ValueError):
        RSEPMPhaseHook(rs_start_epoch=10, epm_start_epoch=5)
    with pytest.raises(ValueError):
        RSEPMPhaseHook(iters_per_epoch=0)
    hook = RSEPMPhaseHook()
    with pytest.raises(AttributeError):
        hook.before_train(SimpleNamespace(model=torch.nn.Linear(1, 1), iter=0))
