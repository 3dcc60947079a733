"""Training phases of RS+EPM: cls -> rs -> rs_epm."""
import math
from typing import Optional, Tuple

from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from mmwsss.utils.checkpoint import unwrap_model

__all__ = ['RSEPMPhaseHook']

DATA_BATCH = Optional[dict]

#: Phase names in order; their index is logged as ``train/phase``.
PHASES = ('cls', 'rs', 'rs_epm')
READINGS = ('start', 'duration')


@HOOKS.register_module()
class RSEPMPhaseHook(Hook):
    """Switch the RS+EPM phase from the current iteration.

    The official experiment tag is ``RS(ep=5, ...) + CM(ep=15, ...)``
    [code]; the numbers have two readings, selected by
    ``reading`` with the *same* arguments:

    - ``'start'`` (reading (b), default): the numbers are start epochs.
      Epochs ``[0, rs_start_epoch)`` train L_cls only (``'cls'``), RS
      losses from ``rs_start_epoch`` (``'rs'``), EPM from
      ``epm_start_epoch`` (``'rs_epm'``) until ``max_epochs``. With the
      defaults: cls 0-5, rs 5-15, rs_epm 15-20.
    - ``'duration'`` (reading (a)): the numbers are durations. RS from
      epoch 0 for ``rs_start_epoch`` epochs, then RS + EPM for
      ``epm_start_epoch`` epochs. With the defaults: rs 0-5, rs_epm 5-20
      (``max_epochs`` should equal the sum; a mismatch is warned about).

    :meth:`milestones` returns the effective start epochs of 'rs' and
    'rs_epm'. Epoch numbers may be fractional.

    Training is iteration based: the phase is a function of ``runner.iter``
    only, so a resumed run continues in the right phase. Before every
    training iteration the hook calls ``model.set_phase(phase)``, logs a
    line when the phase changes (``RS+EPM phase: cls -> rs at iter N``)
    and puts ``train/phase`` (0 cls, 1 rs, 2 rs_epm) into the message hub.

    Args:
        rs_start_epoch (float): See ``reading``. Defaults to 5.
        epm_start_epoch (float): See ``reading``. Defaults to 15.
        max_epochs (float): Length of the schedule in epochs; only used to
            check the runner's ``max_iters``. Defaults to 20.
        reading (str): ``'start'`` or ``'duration'``. Defaults to
            ``'start'`` [inferred].
        iters_per_epoch (int, optional): Iterations per epoch. None derives
            it from the train dataloader: ``len(runner.train_dataloader)``,
            divided by the world size when the sampler is an
            :class:`InfiniteSampler` (which reports the whole dataset on
            every rank), i.e. one epoch = one pass over the dataset with
            the global batch.
    """

    priority = 'NORMAL'

    def __init__(self,
                 rs_start_epoch: float = 5,
                 epm_start_epoch: float = 15,
                 max_epochs: float = 20,
                 reading: str = 'start',
                 iters_per_epoch: Optional[int] = None) -> None:
        if reading not in READINGS:
            raise ValueError(f'reading must be in {READINGS}, got {reading!r}')
        if min(rs_start_epoch, epm_start_epoch, max_epochs) < 0:
            raise ValueError('epoch numbers must be >= 0')
        if reading == 'start' and epm_start_epoch < rs_start_epoch:
            raise ValueError(f'epm_start_epoch ({epm_start_epoch}) must be '
                             f'>= rs_start_epoch ({rs_start_epoch})')
        if iters_per_epoch is not None and iters_per_epoch < 1:
            raise ValueError(
                f'iters_per_epoch must be >= 1, got {iters_per_epoch}')
        self.rs_start_epoch = rs_start_epoch
        self.epm_start_epoch = epm_start_epoch
        self.max_epochs = max_epochs
        self.reading = reading
        self.iters_per_epoch = iters_per_epoch
        self._ipe: Optional[int] = iters_per_epoch
        self._phase: Optional[str] = None

    # ------------------------------------------------------------ schedule
    def milestones(self) -> Tuple[float, float]:
        """Effective start epochs ``(rs_start, epm_start)``."""
        if self.reading == 'start':
            return float(self.rs_start_epoch), float(self.epm_start_epoch)
        return 0.0, float(self.rs_start_epoch)

    def milestone_iters(self, iters_per_epoch: int) -> Tuple[int, int]:
        """Start iterations of 'rs' and 'rs_epm' (rounded)."""
        rs, epm = self.milestones()
        return (int(round(rs * iters_per_epoch)),
                int(round(epm * iters_per_epoch)))

    def phase_at(self, it: int, iters_per_epoch: int) -> str:
        """Phase at (0-based) iteration ``it``."""
        rs_it, epm_it = self.milestone_iters(iters_per_epoch)
        if it >= epm_it:
            return 'rs_epm'
        if it >= rs_it:
            return 'rs'
        return 'cls'

    @staticmethod
    def infer_iters_per_epoch(runner: Runner) -> int:
        """Iterations per epoch from the runner's train dataloader."""
        loader = runner.train_dataloader
        n = len(loader)
        sampler = getattr(loader, 'sampler', None)
        if isinstance(sampler, InfiniteSampler):
            n = n // max(get_world_size(), 1)
        return max(int(n), 1)

    # ------------------------------------------------------------ hooks
    def before_train(self, runner: Runner) -> None:
        model = unwrap_model(runner.model)
        if not hasattr(model, 'set_phase'):
            raise AttributeError(f'RSEPMPhaseHook: the model '
                                 f'{type(model).__name__} has no set_phase()')
        if self._ipe is None:
            self._ipe = self.infer_iters_per_epoch(runner)
        rs_it, epm_it = self.milestone_iters(self._ipe)
        if self.reading == 'duration' and not math.isclose(
                self.rs_start_epoch + self.epm_start_epoch, self.max_epochs):
            print_log(
                'RSEPMPhaseHook: reading="duration" with '
                f'{self.rs_start_epoch} + {self.epm_start_epoch} epochs != '
                f'max_epochs={self.max_epochs}',
                logger='current',
                level=30)
        max_iters = getattr(runner, 'max_iters', None)
        planned = int(round(self.max_epochs * self._ipe))
        if max_iters is not None and max_iters != planned:
            print_log(
                f'RSEPMPhaseHook: max_epochs={self.max_epochs} x '
                f'{self._ipe} iters/epoch = {planned} iterations, but the '
                f'runner trains {max_iters}; the phases still start at '
                f'iterations {rs_it} (rs) and {epm_it} (rs_epm).',
                logger='current',
                level=30)
        print_log(
            f'RSEPMPhaseHook: reading={self.reading!r}, {self._ipe} iters/'
            f'epoch, rs from iter {rs_it}, rs_epm from iter {epm_it}',
            logger='current')

    def before_train_iter(self,
                          runner: Runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        if self._ipe is None:
            self._ipe = self.infer_iters_per_epoch(runner)
        phase = self.phase_at(runner.iter, self._ipe)
        unwrap_model(runner.model).set_phase(phase)
        if phase != self._phase:
            old = 'start' if self._phase is None else self._phase
            print_log(
                f'RS+EPM phase: {old} -> {phase} at iter {runner.iter}',
                logger='current')
            self._phase = phase
        runner.message_hub.update_scalar('train/phase', PHASES.index(phase))
