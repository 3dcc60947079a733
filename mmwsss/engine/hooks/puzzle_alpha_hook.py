"""Linear ramp of the Puzzle-CAM reconstruction-loss weight alpha."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from mmwsss.utils.checkpoint import unwrap_model

__all__ = ['PuzzleAlphaHook']

DATA_BATCH = Optional[dict]


@HOOKS.register_module()
class PuzzleAlphaHook(Hook):
    """Set the model's alpha before every training iteration and log it.

    ``alpha_t = min(alpha_max * t / (alpha_ramp * T), alpha_max)`` with
    ``t = runner.iter`` (0-based) and ``T = runner.max_iters`` (the paper:
    "linearly ramped up to its maximum by half epochs"; computed per
    iteration like the official code). The value goes
    to the model through ``set_alpha`` (or the attribute ``attr``) and to
    the message hub as ``train/alpha``, so ``LoggerHook`` prints it with
    the losses. On resume it is recomputed from the restored iteration.

    Args:
        alpha_max (float): Maximum alpha. Defaults to 4.0 (paper; the
            official argparse default is 1.0).
        alpha_ramp (float): Fraction r of the iterations over which alpha
            ramps from 0 to ``alpha_max``; r <= 0 gives a constant
            ``alpha_max``. Defaults to 0.5.
        attr (str): Model attribute holding alpha, used when the model has
            no ``set_alpha``. Defaults to ``'alpha'``.
        log_name (str): Scalar name in the log. Defaults to ``'alpha'``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 alpha_max: float = 4.0,
                 alpha_ramp: float = 0.5,
                 attr: str = 'alpha',
                 log_name: str = 'alpha') -> None:
        if alpha_max < 0:
            raise ValueError(f'alpha_max must be >= 0, got {alpha_max}')
        self.alpha_max = float(alpha_max)
        self.alpha_ramp = float(alpha_ramp)
        self.attr = attr
        self.log_name = log_name

    def alpha_at(self, t: int, max_iters: int) -> float:
        """alpha at (0-based) iteration ``t`` of ``max_iters``."""
        if self.alpha_ramp <= 0 or max_iters <= 0:
            return self.alpha_max
        return min(self.alpha_max * t / (self.alpha_ramp * max_iters),
                   self.alpha_max)

    def before_train(self, runner: Runner) -> None:
        model = unwrap_model(runner.model)
        if not (hasattr(model, 'set_alpha') or hasattr(model, self.attr)):
            raise AttributeError(
                f'PuzzleAlphaHook: the model {type(model).__name__} has '
                f'neither set_alpha() nor an attribute {self.attr!r}')

    def before_train_iter(self,
                          runner: Runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        alpha = self.alpha_at(runner.iter, runner.max_iters)
        model = unwrap_model(runner.model)
        if hasattr(model, 'set_alpha'):
            model.set_alpha(alpha)
        else:
            setattr(model, self.attr, alpha)
        runner.message_hub.update_scalar(f'train/{self.log_name}', alpha)
