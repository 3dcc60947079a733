# Copyright (c) mmwsss contributors. All rights reserved.
"""A log processor that adds fixed tags to every log record."""
from typing import Dict, Optional

from mmengine.runner import LogProcessor
from mmseg.registry import LOG_PROCESSORS

__all__ = ['TaggedLogProcessor']


@LOG_PROCESSORS.register_module()
class TaggedLogProcessor(LogProcessor):
    """MMEngine's ``LogProcessor`` + constant ``tags`` in every record.

    Every train / val / test record written to the JSON log (and shown in
    the text log) carries the tags, e.g. ``method_status='reconstruction'``
    for a reconstructed method. Scalar-only visualisation backends
    (TensorBoard) skip non-numeric tags with a warning.

    Args:
        tags (dict, optional): ``name -> value`` (JSON-serialisable).
        **kwargs: :class:`mmengine.runner.LogProcessor` arguments.
    """

    def __init__(self, tags: Optional[Dict] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tags = dict(tags or {})

    def _tagged(self, tag: dict, log_str: str):
        tag.update(self.tags)
        extra = '  '.join(f'{k}: {v}' for k, v in self.tags.items())
        return tag, f'{log_str}  {extra}' if extra else log_str

    def get_log_after_iter(self, runner, batch_idx: int, mode: str):
        """Record of an iteration, with the tags."""
        return self._tagged(
            *super().get_log_after_iter(runner, batch_idx, mode))

    def get_log_after_epoch(self,
                            runner,
                            batch_idx: int,
                            mode: str,
                            with_non_scalar: bool = False):
        """Record of an epoch / loop, with the tags."""
        return self._tagged(*super().get_log_after_epoch(
            runner, batch_idx, mode, with_non_scalar))
