"""Class-boundary affinity loss of the boundary network (IRN style)."""
from typing import Dict

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['AffinityLoss', 'affinity_loss_terms']


def affinity_loss_terms(aff: Tensor,
                        pos_bg: Tensor,
                        pos_fg: Tensor,
                        neg: Tensor,
                        eps: float = 1e-5) -> Dict[str, Tensor]:
    """The three terms of the affinity loss (IRN boundary network).

    ``pos = -log(a + 1e-5)``, ``neg = -log(1 + 1e-5 - a)``; each term is a
    masked mean over batch, offsets and sources together::

        L_bg  = Σ pos_bg·pos / (Σ pos_bg + 1e-5)
        L_fg  = Σ pos_fg·pos / (Σ pos_fg + 1e-5)
        L_neg = Σ neg·neg_loss / (Σ neg + 1e-5)

    Args:
        aff (Tensor): Affinities ``a`` in [0, 1], any shape.
        pos_bg (Tensor): bool / float mask of background-background pairs.
        pos_fg (Tensor): Mask of same-foreground-class pairs.
        neg (Tensor): Mask of different-class pairs.
        eps (float): The 1e-5 of the formulas. Defaults to 1e-5.

    Returns:
        dict[str, Tensor]: Scalars ``bg``, ``fg``, ``neg``.
    """
    pos_loss = -torch.log(aff + eps)
    neg_loss = -torch.log(1.0 + eps - aff)
    pos_bg, pos_fg, neg = (m.to(aff.dtype) for m in (pos_bg, pos_fg, neg))
    return dict(
        bg=(pos_bg * pos_loss).sum() / (pos_bg.sum() + eps),
        fg=(pos_fg * pos_loss).sum() / (pos_fg.sum() + eps),
        neg=(neg * neg_loss).sum() / (neg.sum() + eps))


@MODELS.register_module()
class AffinityLoss(nn.Module):
    """``L = ((L_bg + L_fg) / 2 + L_neg) / 2`` [code].

    Args:
        loss_weight (float): Factor on ``L``. Defaults to 1.0.
        eps (float): Epsilon of the log and the normalisers.
            Defaults to 1e-5.
        loss_name (str): Name of the loss in the log (must start with
            ``loss_`` to be optimised). Defaults to 'loss_aff'.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 eps: float = 1e-5,
                 loss_name: str = 'loss_aff') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Name of the loss term in the log."""
        return self._loss_name

    def forward(self, aff: Tensor, pos_bg: Tensor, pos_fg: Tensor,
                neg: Tensor) -> Tensor:
        """Weighted affinity loss.

        Args:
            aff (Tensor): Affinities in [0, 1].
            pos_bg (Tensor): Background-pair mask (same shape).
            pos_fg (Tensor): Foreground-pair mask.
            neg (Tensor): Negative-pair mask.

        Returns:
            Tensor: Scalar loss.
        """
        t = affinity_loss_terms(aff, pos_bg, pos_fg, neg, self.eps)
        return self.loss_weight * ((t['bg'] + t['fg']) / 2 + t['neg']) / 2
