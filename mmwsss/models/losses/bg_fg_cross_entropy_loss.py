"""Cross-entropy with background and foreground averaged separately (RRM's
L_ce)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['BgFgCrossEntropyLoss', 'bg_fg_cross_entropy']


def bg_fg_cross_entropy(logits: Tensor,
                        label: Tensor,
                        ignore_index: int = 255,
                        bg_index: int = 0) -> Tensor:
    """``CE(logits, label_bg) + CE(logits, label_fg)``.

    ``label_bg`` keeps only the background pixels of ``label`` (every other
    value ignored), ``label_fg`` only the foreground ones; each term is the
    mean over its own non-ignored pixels across the whole batch, so
    background and foreground weigh the same whatever their pixel counts.
    A term without pixels is 0 (``F.cross_entropy`` would give NaN).

    Args:
        logits (Tensor): (B, C, H, W) class logits.
        label (Tensor): (B, H, W) class ids, ``ignore_index`` = unlabelled.
        ignore_index (int): Unlabelled value. Defaults to 255.
        bg_index (int): Background class id. Defaults to 0.

    Returns:
        Tensor: Scalar loss (float32).
    """
    if logits.dim() != 4 or label.shape != (logits.shape[0], ) + tuple(
            logits.shape[2:]):
        raise ValueError(f'logits must be (B, C, H, W) and label (B, H, W), '
                         f'got {tuple(logits.shape)} and '
                         f'{tuple(label.shape)}')
    label = label.long()
    valid = label != ignore_index
    nll = -F.log_softmax(logits.float(), dim=1).gather(
        1, torch.where(valid, label, torch.zeros_like(label))[:, None])[:, 0]
    is_bg = label == bg_index
    total = logits.new_zeros((), dtype=torch.float32)
    for part in (valid & is_bg, valid & ~is_bg):
        n = part.sum()
        # an empty set contributes 0 (and a zero gradient), never NaN
        total = total + torch.where(part, nll, torch.zeros_like(nll)).sum() \
            / n.clamp(min=1).float()
    return total


@MODELS.register_module()
class BgFgCrossEntropyLoss(nn.Module):
    """RRM's L_ce as an mmseg decode-head loss (``loss_decode``).

    The sum of two cross-entropies: one over the background pixels of the
    label, one over its foreground pixels, each averaged over its own
    pixels in the batch (:func:`bg_fg_cross_entropy`).

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        bg_index (int): Background class id. Defaults to 0.
        loss_name (str): Name in the log dict. Defaults to ``'loss_ce'``.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 bg_index: int = 0,
                 loss_name: str = 'loss_ce') -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.bg_index = int(bg_index)
        self._loss_name = loss_name

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        """The weighted loss (mmseg's ``loss_decode`` call signature; a
        per-pixel ``weight`` is not supported)."""
        if weight is not None:
            raise ValueError('BgFgCrossEntropyLoss does not take per-pixel '
                             'weights (decode head sampler): remove the '
                             'sampler from the decode head config.')
        return self.loss_weight * bg_fg_cross_entropy(
            cls_score, label, ignore_index, self.bg_index)

    @property
    def loss_name(self) -> str:
        """Loss name, used as the key of the log dict."""
        return self._loss_name
