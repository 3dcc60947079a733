"""Puzzle-CAM reconstruction loss between the full and the merged CAM."""
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from mmwsss.utils.cam_ops import normalise_cam
from mmwsss.utils.checks import check_choices

__all__ = ['PuzzleReconstructionLoss', 'puzzle_reconstruction_loss']

RE_LEVELS = ('feature', 'cam')
RE_LOSSES = ('l1', 'l2')
RE_MASKS = ('masking', 'selection', 'none')


def puzzle_reconstruction_loss(cam: Tensor,
                               cam_re: Tensor,
                               labels: Tensor,
                               re_level: str = 'feature',
                               re_loss: str = 'l1',
                               re_mask: str = 'masking') -> Tensor:
    """Reconstruction loss ``L_re`` of Puzzle-CAM.

    Default (``'feature'``, ``'l1'``, ``'masking'``)::

        L_re = (1 / (B*K*h*w)) * sum_{b,k,i,j} |A - A_re|[b,k,i,j] * y[b,k]

    i.e. the masked element-wise L1 averaged over *all* B*K*h*w elements,
    absent classes counted as zeros. Both maps receive gradients.

    Args:
        cam (Tensor): Full-image CAM logits A, shape (B, K, h, w).
        cam_re (Tensor): Merged tile CAM logits A_re, same shape.
        labels (Tensor): Multi-hot image labels y, shape (B, K).
        re_level (str): ``'feature'`` (raw pre-ReLU logits) or ``'cam'``
            (both maps max-normalised first).
        re_loss (str): ``'l1'`` (absolute) or ``'l2'`` (squared)
            difference.
        re_mask (str): ``'masking'`` (mask by y, mean over all elements),
            ``'selection'`` (per image: mean over its present classes and
            the h*w cells, then mean over the batch; every image needs a
            present class: the official result of an image without one is
            NaN, here a ``ValueError`` naming the option) or ``'none'`` (mean
            over all elements, no mask).

    Returns:
        Tensor: Scalar loss (float32).
    """
    check_choices(
        re_level=(re_level, RE_LEVELS),
        re_loss=(re_loss, RE_LOSSES),
        re_mask=(re_mask, RE_MASKS))
    if cam.shape != cam_re.shape:
        raise ValueError(f'cam {tuple(cam.shape)} and cam_re '
                         f'{tuple(cam_re.shape)} must have the same shape')
    if labels.shape != cam.shape[:2]:
        raise ValueError(f'labels {tuple(labels.shape)} must be (B, K) = '
                         f'{tuple(cam.shape[:2])}')
    cam, cam_re, labels = cam.float(), cam_re.float(), labels.float()
    if re_level == 'cam':
        cam, cam_re = normalise_cam(cam), normalise_cam(cam_re)
    diff = cam - cam_re
    err = diff.abs() if re_loss == 'l1' else diff * diff
    if re_mask == 'none':
        return err.mean()
    masked = err * labels[:, :, None, None]
    if re_mask == 'masking':
        return masked.mean()
    # 'selection': mean over the present classes of each image
    count = labels.sum(dim=1)
    if bool((count <= 0).any()):
        empty = (count <= 0).nonzero()[:, 0].tolist()
        raise ValueError(
            f"re_mask='selection' averages over the present classes of each "
            f'image, but image(s) {empty} of the batch have none (the '
            f"official result is NaN); use re_mask='masking' or keep images "
            f'without labels out of the Puzzle-CAM training set.')
    h, w = err.shape[-2:]
    per_image = masked.flatten(1).sum(dim=1) / (count * h * w)
    return per_image.mean()


@MODELS.register_module()
class PuzzleReconstructionLoss(nn.Module):
    """Registered reconstruction loss of Puzzle-CAM.

    See :func:`puzzle_reconstruction_loss`. The α ramp is *not* applied
    here: the head multiplies by the current α (set by ``PuzzleAlphaHook``).

    Args:
        re_level (str): ``'feature'`` or ``'cam'``. Defaults to
            ``'feature'``.
        re_loss (str): ``'l1'`` or ``'l2'``. Defaults to ``'l1'``.
        re_mask (str): ``'masking'``, ``'selection'`` or ``'none'``.
            Defaults to ``'masking'``.
        loss_weight (float): Constant weight (on top of α). Defaults to 1.
        loss_name (str): Name in the log dict. Defaults to ``'loss_re'``.
    """

    def __init__(self,
                 re_level: str = 'feature',
                 re_loss: str = 'l1',
                 re_mask: str = 'masking',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_re') -> None:
        super().__init__()
        check_choices(
            re_level=(re_level, RE_LEVELS),
            re_loss=(re_loss, RE_LOSSES),
            re_mask=(re_mask, RE_MASKS))
        self.re_level = re_level
        self.re_loss = re_loss
        self.re_mask = re_mask
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, cam: Tensor, cam_re: Tensor, labels: Tensor,
                **kwargs) -> Tensor:
        """Compute the weighted loss."""
        return self.loss_weight * puzzle_reconstruction_loss(
            cam, cam_re, labels, self.re_level, self.re_loss, self.re_mask)

    @property
    def loss_name(self) -> str:
        """Loss name, used as the key of the log dict."""
        return self._loss_name
