# Copyright (c) mmwsss contributors. All rights reserved.
"""PartnerMix: the object pasting of RS+EPM (the "Mix" of
EdgePredictMix)."""
from typing import Dict, Optional, Union

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from mmwsss.utils.checks import check_choices

__all__ = ['PartnerMix']


@MODELS.register_module()
class PartnerMix(nn.Module):
    """Paste the certain objects of a partner image (a batch augment).

    With the partner ``j = perm[b]`` (default: roll by one,
    ``x[perm] == torch.roll(x, 1, 0)``) and the edge-aware labels ``M_ep``
    of :class:`~mmwsss.models.EdgePredict`: ``obj = 1 <= M_ep[j] <= K``,
    ``obj_full = nearest_x4(obj)[:H, :W] ∧ valid[j]``, ``I_mix =
    obj_full·I[j] + (1 - obj_full)·I``, ``M_seg_mix = where(obj, M_ep[j],
    M_ep)``, ``M_rs_mix = where(obj, M_rs[j], M_rs)``, ``Y_mix = Y ∨
    classes of j in obj``, ``valid_mix = valid ∨ obj_full``.

    Evidence: pasting the partner's objects with their labels is [figure];
    the mixing rules, the partner sampling and every option below are
    reconstructions [inferred].

    Args:
        partner (str): ``'roll'`` (default, roll by one) or ``'random'``
            (uniform random derangement) [inferred].
        class_subset (str): ``'all'`` (default: every certain fg class of
            the partner) or ``'half'`` (a random ``ceil(n / 2)`` of the n
            classes that occur in the partner's certain fg) [inferred].
        stride (int): Map stride: ``obj`` is repeated ``stride`` times per
            axis (nearest) and cropped to ``H x W``. Defaults to 4.
    """

    def __init__(self,
                 partner: str = 'roll',
                 class_subset: str = 'all',
                 stride: int = 4) -> None:
        super().__init__()
        check_choices(
            partner=(partner, ('roll', 'random')),
            class_subset=(class_subset, ('all', 'half')))
        if stride < 1:
            raise ValueError(f'stride must be >= 1, got {stride}')
        self.partner = partner
        self.class_subset = class_subset
        self.stride = int(stride)

    def sample_partners(self,
                        batch_size: int,
                        device: Union[str, torch.device] = 'cpu') -> Tensor:
        """Partner indices ``perm`` (``perm[b]`` = partner of b).

        ``'roll'``: ``perm = roll(arange(B), 1)``; ``'random'``: a uniform
        random derangement (rejection sampling of ``randperm``).

        Args:
            batch_size (int): B (>= 2).
            device (str | torch.device): Output device.

        Returns:
            Tensor: ``(B,)`` int64 without fixed points.
        """
        idx = torch.arange(batch_size)
        if self.partner == 'roll':
            return torch.roll(idx, 1).to(device)
        while True:
            perm = torch.randperm(batch_size)
            if not bool((perm == idx).any()):
                return perm.to(device)

    @staticmethod
    def _random_half(classes: Tensor) -> Tensor:
        """A random ``ceil(n / 2)`` of the n True entries of each row."""
        n = classes.sum(1, keepdim=True)
        score = torch.rand(classes.shape, device=classes.device)
        score = score.masked_fill(~classes, 2.0)
        rank = score.argsort(1).argsort(1)
        return classes & (rank < torch.div(n + 1, 2, rounding_mode='floor'))

    def upsample_obj(self, obj: Tensor, size) -> Tensor:
        """Nearest ``x stride`` upsampling of ``obj``, cropped to ``size``.

        Output pixel ``(y, x)`` reads ``obj[y // stride, x // stride]``
        (clamped to the map).

        Args:
            obj (Tensor): ``(B, h4, w4)`` bool.
            size (tuple[int, int]): ``(H, W)``.

        Returns:
            Tensor: ``(B, H, W)`` bool.
        """
        hh, ww = size
        h4, w4 = obj.shape[-2:]
        rows = torch.div(
            torch.arange(hh, device=obj.device),
            self.stride,
            rounding_mode='floor').clamp_(max=h4 - 1)
        cols = torch.div(
            torch.arange(ww, device=obj.device),
            self.stride,
            rounding_mode='floor').clamp_(max=w4 - 1)
        return obj[:, rows][:, :, cols]

    @torch.no_grad()
    def forward(self,
                inputs: Tensor,
                valid: Optional[Tensor],
                ep_labels: Tensor,
                rs_maps: Optional[Tensor],
                img_labels: Tensor,
                perm: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Paste the partner's certain objects, no grad.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` images I.
            valid (Tensor, optional): ``(B, H, W)`` bool; None = all valid.
            ep_labels (Tensor): ``(B, h4, w4)`` M_ep.
            rs_maps (Tensor, optional): ``(B, K, h4, w4)`` M_rs.
            img_labels (Tensor): ``(B, K)`` multi-hot Y.
            perm (Tensor, optional): ``(B,)`` partners; sampled with
                :meth:`sample_partners` when None.

        Returns:
            dict[str, Tensor]: ``inputs`` (I_mix), ``valid`` (valid_mix),
            ``seg_labels`` (M_seg_mix, int64), ``rs_maps`` (M_rs_mix),
            ``img_labels`` (Y_mix, dtype of Y), ``perm`` and ``obj``
            (``(B, h4, w4)`` bool pasted pixels at stride 4). With B == 1
            the batch comes back unchanged with ``perm = arange(1)``.
        """
        b, _, hh, ww = inputs.shape
        k = img_labels.shape[1]
        inputs = inputs.detach()
        ep_labels = ep_labels.detach().long()
        img_labels = img_labels.detach()
        rs_maps = None if rs_maps is None else rs_maps.detach()
        if valid is None:
            valid = inputs.new_ones((b, hh, ww), dtype=torch.bool)
        valid = valid.bool()
        if b < 2:
            return dict(
                inputs=inputs,
                valid=valid,
                seg_labels=ep_labels,
                rs_maps=rs_maps,
                img_labels=img_labels,
                perm=torch.arange(b, device=inputs.device),
                obj=torch.zeros_like(ep_labels, dtype=torch.bool))
        if perm is None:
            perm = self.sample_partners(b, inputs.device)
        perm = perm.to(inputs.device).long()
        lab_j = ep_labels[perm]
        obj = (lab_j >= 1) & (lab_j <= k)
        cls_idx = torch.where(obj, lab_j, torch.zeros_like(lab_j))
        if self.class_subset == 'half':
            occ_j = self._occurring(cls_idx, obj, k)
            keep = self._random_half(occ_j)
            keep = torch.cat([keep.new_zeros((b, 1)), keep], 1)
            obj &= torch.gather(keep, 1, cls_idx.flatten(1)).view_as(obj)
            cls_idx = torch.where(obj, lab_j, torch.zeros_like(lab_j))
        obj_full = self.upsample_obj(obj, (hh, ww)) & valid[perm]
        inputs_mix = torch.where(obj_full[:, None], inputs[perm], inputs)
        seg_mix = torch.where(obj, lab_j, ep_labels)
        rs_mix = None
        if rs_maps is not None:
            rs_mix = torch.where(obj[:, None], rs_maps[perm], rs_maps)
        occ = self._occurring(cls_idx, obj, k).to(img_labels.dtype)
        return dict(
            inputs=inputs_mix,
            valid=valid | obj_full,
            seg_labels=seg_mix,
            rs_maps=rs_mix,
            img_labels=torch.maximum(img_labels, occ),
            perm=perm,
            obj=obj)

    @staticmethod
    def _occurring(cls_idx: Tensor, obj: Tensor, k: int) -> Tensor:
        """``(B, K)`` bool: classes ``c + 1`` occurring where ``obj``."""
        b = cls_idx.shape[0]
        counts = obj.new_zeros((b, k + 1), dtype=torch.float32)
        counts.scatter_add_(1, cls_idx.flatten(1), obj.flatten(1).float())
        return counts[:, 1:] > 0

    def extra_repr(self) -> str:
        return (f'partner={self.partner}, class_subset={self.class_subset}, '
                f'stride={self.stride}')
