# Copyright (c) mmwsss contributors. All rights reserved.
"""Exponential moving average of the weights with a warm-up ramp."""
import math
from typing import Optional

import torch
from mmengine.model import BaseAveragedModel
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['RampedEMA']


@MODELS.register_module()
class RampedEMA(BaseAveragedModel):
    """EMA whose decay ramps up: ``d_t = decay · (1 − exp(−t / ramp_iters))``.

    The averaged weights follow ``θ̄ ← d_t·θ̄ + (1 − d_t)·θ`` (MMEngine's
    :class:`~mmengine.model.ExponentialMovingAverage` uses a constant
    ``momentum = 1 − d``). Early in training ``d_t`` is small, so the
    average tracks the fast-changing weights instead of keeping the random
    initialisation for thousands of iterations. RS+EPM's trainer utility
    uses ``decay`` 0.9999 with ``ramp_iters`` 2000 [code]; whether the
    unreleased RS+EPM training used it is unknown [inferred], so it is
    off in the configs unless a config adds the hook.

    ``t`` is the number of averaging updates before this one: MMEngine
    copies the weights at the first update (``t = 0``); update ``t >= 1``
    uses ``d_t``. ``ramp_iters=0`` gives the constant decay.

    Use it through MMEngine's ``EMAHook`` (which swaps the averaged weights
    in for validation, testing and the saved ``state_dict``)::

        custom_hooks = [
            dict(type='EMAHook', ema_type='RampedEMA', decay=0.9999,
                 ramp_iters=2000)
        ]

    Args:
        model (nn.Module): The model to average.
        decay (float): Final decay ``d`` in (0, 1). Defaults to 0.9999.
        ramp_iters (float): Time constant of the ramp in updates; 0 turns
            the ramp off. Defaults to 2000.
        interval (int): Update every ``interval`` steps. Defaults to 1.
        device (torch.device, optional): Device of the averaged model.
        update_buffers (bool): Average the buffers too. Defaults to False
            (they are copied).
    """

    def __init__(self,
                 model: nn.Module,
                 decay: float = 0.9999,
                 ramp_iters: float = 2000,
                 interval: int = 1,
                 device: Optional[torch.device] = None,
                 update_buffers: bool = False) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f'RampedEMA: decay must be in (0, 1), got '
                             f'{decay}')
        if ramp_iters < 0:
            raise ValueError(f'RampedEMA: ramp_iters must be >= 0, got '
                             f'{ramp_iters}')
        super().__init__(model, interval, device, update_buffers)
        self.decay = float(decay)
        self.ramp_iters = float(ramp_iters)

    def decay_at(self, steps: int) -> float:
        """The decay ``d_t`` of update ``t = steps``."""
        if self.ramp_iters == 0:
            return self.decay
        return self.decay * (1.0 - math.exp(-steps / self.ramp_iters))

    def avg_func(self, averaged_param: Tensor, source_param: Tensor,
                 steps: int) -> None:
        """``θ̄ ← d_t·θ̄ + (1 − d_t)·θ`` in place."""
        averaged_param.lerp_(source_param, 1.0 - self.decay_at(steps))
