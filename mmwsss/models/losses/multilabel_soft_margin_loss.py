"""Multi-label soft-margin loss on image logits."""
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['MultiLabelSoftMarginLoss', 'multilabel_soft_margin_loss']


def multilabel_soft_margin_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """MLSM loss, ``mean_b -(1/K) sum_k [y log s(z) + (1-y) log s(-z)]``.

    Equal to BCE-with-logits averaged over all ``B*K`` entries.

    Args:
        logits (Tensor): Image logits, shape (B, K).
        labels (Tensor): Multi-hot labels, shape (B, K).

    Returns:
        Tensor: Scalar loss.
    """
    if logits.shape != labels.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and labels '
                         f'{tuple(labels.shape)} must have the same shape')
    return F.binary_cross_entropy_with_logits(
        logits.float(), labels.float(), reduction='mean')


@MODELS.register_module()
class MultiLabelSoftMarginLoss(nn.Module):
    """Multi-label soft-margin classification loss (registered).

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name in the log dict. Defaults to ``'loss_cls'``.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_cls') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, logits: Tensor, labels: Tensor, **kwargs) -> Tensor:
        """Compute the weighted loss."""
        return self.loss_weight * multilabel_soft_margin_loss(logits, labels)

    @property
    def loss_name(self) -> str:
        """Loss name, used as the key of the log dict."""
        return self._loss_name
