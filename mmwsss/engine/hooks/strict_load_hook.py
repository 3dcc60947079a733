# Copyright (c) mmwsss contributors. All rights reserved.
"""Refuse a checkpoint that does not fit the model before it is loaded."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from mmwsss.utils.checkpoint import check_checkpoint_fits

__all__ = ['StrictLoadHook']


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Strict checkpoint loading for inference runs (``tools/test.py``).

    MMEngine's ``Runner`` loads ``load_from`` non-strictly: a checkpoint of
    another architecture, or a 20-class head for a 5-class config, loads
    with a "missing keys" log line and the run predicts with random
    weights. This hook runs in ``after_load_checkpoint`` -- after the file
    is read, before its weights reach the model -- and raises
    :class:`~mmwsss.utils.CheckpointMismatchError` (naming the checkpoint,
    the config and the first missing / unexpected / shape-mismatched keys)
    unless the ``state_dict`` has exactly the keys and shapes of the model
    (DDP and test-time-augmentation wrappers are looked through).

    ``tools/test.py`` adds it unless ``--no-strict`` is given; training
    configs do not use it (``load_from`` / ``init_cfg`` stay non-strict).

    Args:
        checkpoint (str, optional): Checkpoint path, for the message.
        config (str, optional): Config path, for the message (default: the
            runner config's file name).
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 config: Optional[str] = None) -> None:
        self.checkpoint = checkpoint
        self.config = config

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Compare the loaded checkpoint with ``runner.model``."""
        config = self.config or getattr(runner.cfg, 'filename', None)
        check_checkpoint_fits(runner.model, checkpoint,
                              self.checkpoint or '<load_from>', config)
