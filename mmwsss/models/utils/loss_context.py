"""Data samples for the losses of an mmseg decode head.

mmseg's ``BaseDecodeHead.loss_by_feat`` calls each ``loss_decode`` with the
logits and the label only. A loss that needs more of the batch (RRM's dense
energy loss needs the RGB image and the crop-valid mask) declares
``uses_data_samples = True``; the segmentor runs the head's loss inside
:func:`losses_see_samples`, which hands such losses the data samples for
that call. Any mmseg decode head works unchanged.
"""
from contextlib import contextmanager
from typing import Iterator

from mmseg.utils import SampleList
from torch import nn

__all__ = ['losses_see_samples', 'decode_losses']


def decode_losses(head: nn.Module) -> list:
    """The loss modules of a decode head's ``loss_decode``."""
    losses = getattr(head, 'loss_decode', None)
    if losses is None:
        return []
    if isinstance(losses, (nn.ModuleList, list, tuple)):
        return list(losses)
    return [losses]


@contextmanager
def losses_see_samples(head: nn.Module,
                       data_samples: SampleList) -> Iterator[None]:
    """Give ``data_samples`` to the losses of ``head`` that declare
    ``uses_data_samples`` for the duration of the block."""
    users = [
        loss for loss in decode_losses(head)
        if getattr(loss, 'uses_data_samples', False)
    ]
    for loss in users:
        loss.data_samples = data_samples
    try:
        yield
    finally:
        for loss in users:
            loss.data_samples = None
