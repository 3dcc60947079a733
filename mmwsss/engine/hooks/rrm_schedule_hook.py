"""The from-ImageNet schedule of RRM: L_cls only, then joint training with
a restarted poly learning rate."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from mmwsss.utils.checkpoint import unwrap_model

__all__ = ['RRMScheduleHook']

DATA_BATCH = Optional[dict]


@HOOKS.register_module()
class RRMScheduleHook(Hook):
    """RRM trained from ImageNet weights [code]: iterations
    ``[0, joint_start_iter)`` train L_cls only (``model.set_phase('cls')``),
    the rest the joint losses (``'joint'``). From ``joint_start_iter`` on,
    the learning rate restarts: *every* parameter group gets

    ``lr_t = second_half_lr * (1 - (t - s) / (T - s)) ** power``

    with ``s = joint_start_iter`` and ``T`` the run's ``max_iters``. The
    official script hard-codes this value for all groups, so the 2x / 10x /
    20x multipliers of the first half are dropped; ``second_half_lr=None``
    keeps the config's own ``param_scheduler`` instead. The first half's
    poly decay is an ordinary ``PolyLR`` ending at ``s + 1``.

    The phase and the lr are functions of ``runner.iter`` only, so a
    resumed run continues where it stopped. A change of phase is logged.

    Args:
        joint_start_iter (int): First iteration of the joint phase (half of
            the run in the official recipe).
        second_half_lr (float, optional): The restarted lr of every group.
            Defaults to 7e-4 (the official ``rrm_init_second_half_lr``).
        power (float): Poly power. Defaults to 0.9.
    """

    priority = 'NORMAL'

    def __init__(self,
                 joint_start_iter: int,
                 second_half_lr: Optional[float] = 7e-4,
                 power: float = 0.9) -> None:
        if joint_start_iter < 0:
            raise ValueError(
                f'joint_start_iter must be >= 0, got {joint_start_iter}')
        if second_half_lr is not None and not second_half_lr > 0:
            raise ValueError(
                f'second_half_lr must be > 0 or None, got {second_half_lr}')
        self.joint_start_iter = int(joint_start_iter)
        self.second_half_lr = second_half_lr
        self.power = float(power)
        self._phase: Optional[str] = None

    def lr_at(self, it: int, max_iters: int) -> Optional[float]:
        """The restarted lr at (0-based) iteration ``it``; None before the
        joint phase or without ``second_half_lr``."""
        s = self.joint_start_iter
        if self.second_half_lr is None or it < s or max_iters <= s:
            return None
        return self.second_half_lr * (1 - (it - s) /
                                      (max_iters - s))**self.power

    def before_train(self, runner: Runner) -> None:
        if not hasattr(unwrap_model(runner.model), 'set_phase'):
            raise AttributeError(
                'RRMScheduleHook: the model '
                f'{type(unwrap_model(runner.model)).__name__} has no '
                'set_phase()')

    def before_train_iter(self,
                          runner: Runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        it = runner.iter
        phase = 'cls' if it < self.joint_start_iter else 'joint'
        if phase != self._phase:
            print_log(
                f'RRM phase: {self._phase or "start"} -> {phase} at iter '
                f'{it}',
                logger='current')
            self._phase = phase
        unwrap_model(runner.model).set_phase(phase)
        lr = self.lr_at(it, runner.max_iters)
        if lr is not None:
            for group in runner.optim_wrapper.optimizer.param_groups:
                group['lr'] = lr
