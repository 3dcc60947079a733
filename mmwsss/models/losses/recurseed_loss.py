"""RecurSeed reconstruction loss L_rec of RS+EPM."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from mmwsss.utils.cam_ops import normalise_cam
from mmwsss.utils.checks import check_choices

__all__ = ['RecurSeedLoss', 'recurseed_loss']

REC_FORMS = ('l1_norm_cam', 'l1_sigmoid', 'mse')
RESIZE_ORDERS = ('map_first', 'resize_first')


def _cam_map(cam_logits: Tensor, form: str, eps: float) -> Tensor:
    """The CAM map compared with the seed, for ``form``."""
    if form == 'l1_sigmoid':
        return torch.sigmoid(cam_logits)
    return normalise_cam(cam_logits, eps)


def recurseed_loss(cam_logits: Tensor,
                   target: Tensor,
                   img_labels: Tensor,
                   valid: Optional[Tensor] = None,
                   form: str = 'l1_norm_cam',
                   resize_order: str = 'map_first',
                   align_corners: bool = False,
                   eps: float = 1e-5) -> Tensor:
    """L_rec between the CAM and the RecurSeed map M_rs.

    ``m = map(A)`` with ``map`` given by ``form``:

    - ``'l1_norm_cam'`` (default): ``m = relu(A) / (max_{h,w} relu(A) +
      eps)`` per image and class, ``|m - M_rs|``;
    - ``'l1_sigmoid'``: ``m = sigmoid(A)``, ``|m - M_rs|``;
    - ``'mse'``: the max-normalised map as in ``'l1_norm_cam'``,
      ``(m - M_rs)^2``.

    Reduction: the error is summed over the *present* classes
    and the *valid* pixels and divided by ``sum_b |Y_b| * |valid_b|``;
    a batch with nothing to compare gives 0 (with a graph). Gradients reach
    ``cam_logits`` only: ``target`` is detached.

    When ``cam_logits`` is smaller than ``target`` (e.g. the stride-16 CAM
    A and the stride-4 seed), it is bilinearly resized here. The training
    step is ``|bilinear(norm(A)) - M_rs|``: ``resize_order='map_first'``
    (default) applies ``map`` on the CAM grid and resizes the map;
    ``'resize_first'`` resizes the logits and then applies ``map``
    [inferred]. A ``cam_logits`` of the target size is used as it is.

    Args:
        cam_logits (Tensor): Pre-ReLU CAM logits A, (B, K, h', w').
        target (Tensor): Seed M_rs in [0, 1], (B, K, h, w).
        img_labels (Tensor): Multi-hot image labels, (B, K).
        valid (Tensor, optional): bool (B, h, w), True on real image
            pixels. None means all valid.
        form (str): ``'l1_norm_cam'``, ``'l1_sigmoid'`` or ``'mse'``.
        resize_order (str): ``'map_first'`` or ``'resize_first'``.
        align_corners (bool): Of the bilinear resize. Defaults to False.
        eps (float): Of the max normalisation. Defaults to 1e-5.

    Returns:
        Tensor: Scalar loss (float32).
    """
    check_choices(
        form=(form, REC_FORMS), resize_order=(resize_order, RESIZE_ORDERS))
    if cam_logits.dim() != 4 or target.dim() != 4 or \
            cam_logits.shape[:2] != target.shape[:2]:
        raise ValueError(f'cam_logits {tuple(cam_logits.shape)} and target '
                         f'{tuple(target.shape)} must be (B, K, h, w) with '
                         'the same B and K')
    if img_labels.shape != target.shape[:2]:
        raise ValueError(f'img_labels {tuple(img_labels.shape)} must be '
                         f'(B, K) = {tuple(target.shape[:2])}')
    size = target.shape[-2:]
    x = cam_logits.float()
    if x.shape[-2:] != size:
        if resize_order == 'map_first':
            x = F.interpolate(
                _cam_map(x, form, eps),
                size=size,
                mode='bilinear',
                align_corners=align_corners)
        else:
            x = _cam_map(
                F.interpolate(
                    x, size=size, mode='bilinear',
                    align_corners=align_corners), form, eps)
    else:
        x = _cam_map(x, form, eps)
    diff = x - target.detach().float()
    err = diff * diff if form == 'mse' else diff.abs()
    labels = (img_labels.detach() > 0.5).float()
    if valid is None:
        valid_f = err.new_ones(err.shape[0], *size)
    else:
        if valid.shape != (err.shape[0], *size):
            raise ValueError(f'valid {tuple(valid.shape)} must be (B, h, w) '
                             f'= {(err.shape[0], *size)}')
        valid_f = valid.to(err.dtype)
    weight = labels[:, :, None, None] * valid_f[:, None]
    denom = (labels.sum(dim=1) * valid_f.flatten(1).sum(dim=1)).sum()
    return (err * weight).sum() / denom.clamp(min=1.0)


@MODELS.register_module()
class RecurSeedLoss(nn.Module):
    """Registered RecurSeed loss L_rec (its form is an [inferred] option).

    The loss pulls the CAM towards the refined seed M_rs (SCG -> PAMR) so
    that the next iteration's seed starts from an already refined CAM
    ([figure] ``L_rec(M_cam, M_rs)``; the L1 form, the normalisation and
    the reduction over present classes x valid pixels are [inferred]).
    See :func:`recurseed_loss`.

    Args:
        form (str): ``'l1_norm_cam'`` (default), ``'l1_sigmoid'`` or
            ``'mse'`` [inferred].
        loss_weight (float): lambda_rec. Defaults to 1.0 [code: experiment
            tag ``cam=1.0``].
        loss_name (str): Key in the loss dict. Defaults to ``'loss_rec'``.
        resize_order (str): ``'map_first'`` (default, ``bilinear(norm(A))``
            as in the training-step formula) or ``'resize_first'`` [inferred].
        align_corners (bool): Of the bilinear resize. Defaults to False.
        eps (float): Of the max normalisation. Defaults to 1e-5 [code].
    """

    def __init__(self,
                 form: str = 'l1_norm_cam',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_rec',
                 resize_order: str = 'map_first',
                 align_corners: bool = False,
                 eps: float = 1e-5) -> None:
        super().__init__()
        check_choices(
            form=(form, REC_FORMS), resize_order=(resize_order, RESIZE_ORDERS))
        self.form = form
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name
        self.resize_order = resize_order
        self.align_corners = align_corners
        self.eps = eps

    def forward(self,
                cam_logits: Tensor,
                target: Tensor,
                img_labels: Tensor,
                valid: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        """Weighted L_rec.

        Args:
            cam_logits (Tensor): CAM logits (B, K, h, w), already at the
                target size or on a coarser grid (resized here).
            target (Tensor): M_rs (B, K, h, w) in [0, 1].
            img_labels (Tensor): (B, K) multi-hot.
            valid (Tensor, optional): bool (B, h, w).

        Returns:
            Tensor: Scalar loss.
        """
        return self.loss_weight * recurseed_loss(
            cam_logits,
            target,
            img_labels,
            valid,
            form=self.form,
            resize_order=self.resize_order,
            align_corners=self.align_corners,
            eps=self.eps)

    @property
    def loss_name(self) -> str:
        """Loss name, used as the key of the log dict."""
        return self._loss_name

    def extra_repr(self) -> str:
        return (f'form={self.form!r}, loss_weight={self.loss_weight}, '
                f'resize_order={self.resize_order!r}')
