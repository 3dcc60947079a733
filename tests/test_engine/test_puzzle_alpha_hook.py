"""PuzzleAlphaHook: the alpha ramp of the Puzzle-CAM loss."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmseg.registry import HOOKS, MODELS
from mmseg.structures import SegDataSample

T = 8  # max_iters


def _runner(model, t, name='puzzle_alpha_hook_test'):
    return SimpleNamespace(
        model=model,
        iter=t,
        max_iters=T,
        message_hub=MessageHub.get_instance(name))


def _puzzle_model():
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='PuzzleCAM',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                base_channels=8,
                strides=(1, 2, 2, 1),
                out_indices=(3, ),
                norm_cfg=dict(type='BN', requires_grad=True)),
            cam_head=dict(type='PuzzleCAMHead', in_channels=64,
                          num_classes=2)))


@pytest.mark.parametrize('t,expected', [(0, 0.0), (T // 4, 2.0), (T // 2, 4.0),
                                        (T - 1, 4.0), (T, 4.0)])
def test_alpha_ramp_drives_the_model(t, expected):
    hook = HOOKS.build(
        dict(type='PuzzleAlphaHook', alpha_max=4.0, alpha_ramp=0.5))
    model = _puzzle_model().train()
    runner = _runner(model, t)
    hook.before_train(runner)
    hook.before_train_iter(runner, batch_idx=t)
    assert model.alpha == pytest.approx(expected)
    # logged for LoggerHook as train/alpha (current value, not smoothed)
    assert runner.message_hub.get_scalar('train/alpha').current() == \
        pytest.approx(expected)
    # the loss reads it: loss_re = alpha * L_re
    ds = SegDataSample()
    ds.gt_img_labels = torch.tensor([1.0, 0.0])
    losses = model.loss(torch.randn(1, 3, 64, 64), [ds])
    assert losses['re_raw'] > 0
    assert losses['loss_re'].item() == pytest.approx(
        expected * losses['re_raw'].item(), rel=1e-6)


def test_alpha_at_and_constant():
    hook = HOOKS.build(dict(type='PuzzleAlphaHook'))  # defaults 4.0 / 0.5
    assert [hook.alpha_at(t, 100) for t in (0, 10, 25, 50, 99)] == \
        pytest.approx([0.0, 0.8, 2.0, 4.0, 4.0])
    const = HOOKS.build(
        dict(type='PuzzleAlphaHook', alpha_max=1.5, alpha_ramp=0))
    assert const.alpha_at(0, 100) == 1.5
    with pytest.raises(ValueError, match='alpha_max'):
        HOOKS.build(dict(type='PuzzleAlphaHook', alpha_max=-1))


def test_hook_on_a_plain_attribute_and_wrong_model():
    hook = HOOKS.build(dict(type='PuzzleAlphaHook', attr='w_re'))
    model = nn.Linear(1, 1)
    model.w_re = -1.0
    runner = _runner(model, T // 4, name='puzzle_alpha_hook_attr')
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    assert model.w_re == pytest.approx(2.0)
    with pytest.raises(AttributeError, match='set_alpha'):
        hook.before_train(_runner(nn.Linear(1, 1), 0))
