"""EdgePredictMix: edge-aware pseudo labels (EP) and object pasting (Mix).

Spec ``rs_epm.md`` §6, with the certain filter of §4 and PAMR of §3.
"""
from typing import Dict, Optional, Union

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from torch import Tensor, nn

from .edge_ops import (batch_canny_edges, batch_component_fill,
                       median_threshold, prob_to_uint8, tv_edges)

__all__ = ['EdgePredictMix']


@MODELS.register_module()
class EdgePredictMix(nn.Module):
    """EdgePredictMix (RS+EPM, spec ``rs_epm.md`` §6) as a batch augment.

    **EP** (:meth:`edge_predict`, per image at stride 4, no grad):

    .. code-block:: none

        P      = softmax(S) over {bg} ∪ present classes (absent -> 0)
        M_dec  = PAMR(G4, P)                    # G4: image resized to S
        lab    = CF(M_dec[1:])                  # K channels, valid4
        edge   = OR_q Canny(blur5x5(u8(255·M_dec[q])), 10, 100)
        lab[edge ∧ lab == 0] = 255
        each 4-connected component R of ¬edge with > 1 distinct labels:
            lab[R ∧ lab == 255] = mode(lab[R])  (0 and 255 counted)
        M_ep = lab;  M_ep[~valid4] = 255

    **Mix** (:meth:`mix`): with the partner ``j = perm[b]`` (default: roll
    by one, ``x[perm] == torch.roll(x, 1, 0)``), ``obj = 1 <= M_ep[j] <=
    K``, ``obj_full = nearest_x4(obj)[:H, :W] ∧ valid[j]``,
    ``I_mix = obj_full·I[j] + (1 - obj_full)·I``, ``M_seg_mix =
    where(obj, M_ep[j], M_ep)``, ``M_rs_mix = where(obj, M_rs[j], M_rs)``,
    ``Y_mix = Y ∨ classes of j in obj``, ``valid_mix = valid ∨ obj_full``.

    Evidence: the data flow (M̂_dec -> PAMR -> M_dec, labels of both images
    from M_ep, pasted objects) is [figure]; the Canny helper (blur 5x5,
    10 / 100), the median threshold and the component fill are [code]
    helpers whose call site was never released; applying Canny to every
    probability channel, the CF on M_dec, the mixing rules, the partner
    sampling and every option below are reconstructions [inferred].

    Args:
        pamr (dict | nn.Module, optional): PAMR config (built with
            ``MODELS``). None disables it (``M_dec = P``). Defaults to
            ``dict(type='PAMR')``.
        certain_filter (dict | nn.Module): Certain-filter config. Defaults
            to ``dict(type='CertainFilter')`` (c 0.55, u 0.10).
        ep_edge (str): ``'canny'`` (default, helper (i) on every channel of
            M_dec) or ``'tv'`` (``max_{j∈N8} ½Σ_q|M_q(i) - M_q(j)|``
            binarised with helper (ii)) [inferred].
        ep_canny_th (str): ``'fixed'`` (default, ``canny_low`` /
            ``canny_high``) or ``'median'`` (``(1 ∓ σ)·v`` per channel, v
            the median of the blurred u8 values ``>= median_min·255``;
            fixed thresholds when that set is empty) [inferred].
        canny_low (float): Canny lower threshold. Defaults to 10 [code].
        canny_high (float): Canny upper threshold. Defaults to 100 [code].
        ep_blur (bool): 5x5 Gaussian blur before Canny. Defaults to True
            [code].
        median_sigma (float): σ of helper (ii). Defaults to 0.25 [code].
        median_min (float): Lower cut (fraction of 255) of the median set.
            Defaults to 0.10 [code].
        cf_mode (str): ``'fixed'`` (default: the certain filter's own
            threshold) or ``'median'``: per image, certain threshold =
            helper (ii) of ``u8(255·max_k M_dec[1+k])`` over the valid
            pixels, divided by 255 [inferred].
        ep_label_source (str): ``'M_dec'`` (default: ``lab = CF(M_dec)``)
            or ``'M_seg'`` (``lab`` = the given RecurSeed labels; edges
            still from M_dec) [inferred].
        partner (str): ``'roll'`` (default, roll by one) or ``'random'``
            (uniform random derangement) [inferred].
        class_subset (str): ``'all'`` (default: every certain fg class of
            the partner) or ``'half'`` (a random ``ceil(n / 2)`` of the n
            classes that occur in the partner's certain fg) [inferred].
        ignore_index (int): Uncertain / ignored label. Defaults to 255.
        fill_valid_only (bool): The connected components of the fill are
            built on the valid pixels only, so crop padding neither joins
            regions nor votes [inferred]. Defaults to True.
        stride (int): Map stride: ``obj`` is repeated ``stride`` times per
            axis (nearest) and cropped to ``H x W``. Defaults to 4.
    """

    def __init__(self,
                 pamr: Union[OptConfigType, nn.Module] = dict(type='PAMR'),
                 certain_filter: Union[OptConfigType,
                                       nn.Module] = dict(type='CertainFilter'),
                 ep_edge: str = 'canny',
                 ep_canny_th: str = 'fixed',
                 canny_low: float = 10,
                 canny_high: float = 100,
                 ep_blur: bool = True,
                 median_sigma: float = 0.25,
                 median_min: float = 0.10,
                 cf_mode: str = 'fixed',
                 ep_label_source: str = 'M_dec',
                 partner: str = 'roll',
                 class_subset: str = 'all',
                 ignore_index: int = 255,
                 fill_valid_only: bool = True,
                 stride: int = 4) -> None:
        super().__init__()
        choices = dict(
            ep_edge=(ep_edge, ('canny', 'tv')),
            ep_canny_th=(ep_canny_th, ('fixed', 'median')),
            cf_mode=(cf_mode, ('fixed', 'median')),
            ep_label_source=(ep_label_source, ('M_dec', 'M_seg')),
            partner=(partner, ('roll', 'random')),
            class_subset=(class_subset, ('all', 'half')))
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(
                    f'{name} must be one of {allowed}, got {value!r}')
        if stride < 1:
            raise ValueError(f'stride must be >= 1, got {stride}')
        self.pamr = self._build(pamr)
        self.certain_filter = self._build(certain_filter)
        if self.certain_filter is None and ep_label_source == 'M_dec':
            raise ValueError('certain_filter is required when '
                             'ep_label_source="M_dec"')
        self.ep_edge = ep_edge
        self.ep_canny_th = ep_canny_th
        self.canny_low = float(canny_low)
        self.canny_high = float(canny_high)
        self.ep_blur = bool(ep_blur)
        self.median_sigma = float(median_sigma)
        self.median_min = float(median_min)
        self.cf_mode = cf_mode
        self.ep_label_source = ep_label_source
        self.partner = partner
        self.class_subset = class_subset
        self.ignore_index = int(ignore_index)
        self.fill_valid_only = bool(fill_valid_only)
        self.stride = int(stride)

    @staticmethod
    def _build(cfg) -> Optional[nn.Module]:
        if cfg is None or isinstance(cfg, nn.Module):
            return cfg
        return MODELS.build(cfg)

    # ------------------------------------------------------------------
    # EP
    # ------------------------------------------------------------------
    @staticmethod
    def downsample_valid(valid: Tensor, size) -> Tensor:
        """``valid4 = nearest(valid, size)`` (``F.interpolate`` nearest).

        Args:
            valid (Tensor): ``(B, H, W)`` bool.
            size (tuple[int, int]): ``(h4, w4)``.

        Returns:
            Tensor: ``(B, h4, w4)`` bool.
        """
        if tuple(valid.shape[-2:]) == tuple(size):
            return valid.bool()
        down = F.interpolate(
            valid[:, None].float(), size=tuple(size), mode='nearest')
        return down[:, 0] > 0.5

    def decoder_probs(self, image: Tensor, seg_logits: Tensor,
                      img_labels: Tensor) -> Tensor:
        """``M_dec = PAMR(G4, softmax(S) over {bg} ∪ present)``.

        Args:
            image (Tensor): ``(B, 3, H, W)`` image (PAMR resizes it to the
                map bilinearly).
            seg_logits (Tensor): ``(B, K+1, h4, w4)`` decoder logits.
            img_labels (Tensor): ``(B, K)`` multi-hot labels.

        Returns:
            Tensor: ``(B, K+1, h4, w4)`` float32 probabilities; absent
            classes are exactly 0.
        """
        with torch.no_grad():
            b = seg_logits.shape[0]
            keep = torch.cat([
                img_labels.new_ones((b, 1), dtype=torch.bool),
                img_labels.detach() > 0
            ], 1)[:, :, None, None]
            logits = seg_logits.detach().float().masked_fill(
                ~keep, float('-inf'))
            probs = logits.softmax(1)
            if self.pamr is not None:
                probs = self.pamr(image.detach().float(), probs).float()
                probs = probs * keep
            return probs

    @torch.no_grad()
    def edge_predict(self,
                     image: Tensor,
                     seg_logits: Tensor,
                     img_labels: Tensor,
                     valid4: Optional[Tensor] = None,
                     seg_labels: Optional[Tensor] = None) -> Tensor:
        """EP: edge-aware labels ``M_ep`` (spec §6), no grad.

        Args:
            image (Tensor): ``(B, 3, H, W)`` normalised image.
            seg_logits (Tensor): ``(B, K+1, h4, w4)`` decoder logits S.
            img_labels (Tensor): ``(B, K)`` multi-hot labels Y.
            valid4 (Tensor, optional): ``(B, h4, w4)`` bool; None = all.
            seg_labels (Tensor, optional): ``(B, h4, w4)`` RecurSeed labels
                M_seg, required when ``ep_label_source='M_seg'``.

        Returns:
            Tensor: ``(B, h4, w4)`` int64 labels in ``{0..K,
            ignore_index}``.
        """
        b, k1, h, w = seg_logits.shape
        k = k1 - 1
        if img_labels.shape != (b, k):
            raise ValueError(f'img_labels must be {(b, k)}, got '
                             f'{tuple(img_labels.shape)}')
        if valid4 is not None:
            valid4 = valid4.bool()
        m_dec = self.decoder_probs(image, seg_logits, img_labels)
        present = img_labels.detach() > 0
        if self.ep_label_source == 'M_seg':
            if seg_labels is None:
                raise ValueError('ep_label_source="M_seg" needs seg_labels')
            lab = seg_labels.detach().long().clone()
        else:
            certain_th = None
            if self.cf_mode == 'median':
                s = m_dec[:, 1:].amax(1) if k > 0 else m_dec[:, 0] * 0
                if valid4 is not None:
                    s = s * valid4
                certain_th = median_threshold(
                    prob_to_uint8(s),
                    sigma=self.median_sigma,
                    min_ratio=self.median_min) / 255.0
            lab = self.certain_filter(
                m_dec[:, 1:],
                img_labels=img_labels.detach(),
                valid=valid4,
                certain_th=certain_th).long()
        channels = torch.cat([present.new_ones((b, 1)), present], 1)
        if self.ep_edge == 'tv':
            edges = tv_edges(
                m_dec, sigma=self.median_sigma, min_ratio=self.median_min)
        else:
            edges = batch_canny_edges(
                m_dec,
                channel_mask=channels,
                thresholds=self.ep_canny_th,
                low=self.canny_low,
                high=self.canny_high,
                blur=self.ep_blur,
                sigma=self.median_sigma,
                min_ratio=self.median_min)
        region = valid4 if self.fill_valid_only else None
        lab = batch_component_fill(
            lab, edges, k, ignore_index=self.ignore_index, region=region)
        if valid4 is not None:
            lab[~valid4] = self.ignore_index
        return lab

    # ------------------------------------------------------------------
    # Mix
    # ------------------------------------------------------------------
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
    def mix(self,
            inputs: Tensor,
            valid: Optional[Tensor],
            ep_labels: Tensor,
            rs_maps: Optional[Tensor],
            img_labels: Tensor,
            perm: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Paste the partner's certain objects (spec §6 "Mixing"), no grad.

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

    @torch.no_grad()
    def forward(self,
                inputs: Tensor,
                valid: Optional[Tensor],
                seg_logits: Tensor,
                rs_maps: Optional[Tensor],
                img_labels: Tensor,
                seg_labels: Optional[Tensor] = None,
                perm: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """:meth:`edge_predict` then :meth:`mix`.

        ``valid4`` is ``valid`` resized (nearest) to the map size.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` images.
            valid (Tensor, optional): ``(B, H, W)`` bool; None = all valid.
            seg_logits (Tensor): ``(B, K+1, h4, w4)`` decoder logits S.
            rs_maps (Tensor, optional): ``(B, K, h4, w4)`` M_rs.
            img_labels (Tensor): ``(B, K)`` multi-hot Y.
            seg_labels (Tensor, optional): ``(B, h4, w4)`` M_seg (for
                ``ep_label_source='M_seg'``).
            perm (Tensor, optional): ``(B,)`` partners.

        Returns:
            dict[str, Tensor]: :meth:`mix`'s dict plus ``ep_labels``
            (un-mixed M_ep).
        """
        valid4 = None
        if valid is not None:
            valid4 = self.downsample_valid(valid, seg_logits.shape[-2:])
        ep = self.edge_predict(
            inputs,
            seg_logits,
            img_labels,
            valid4=valid4,
            seg_labels=seg_labels)
        out = self.mix(inputs, valid, ep, rs_maps, img_labels, perm=perm)
        out['ep_labels'] = ep
        return out

    def extra_repr(self) -> str:
        return (f'ep_edge={self.ep_edge}, ep_canny_th={self.ep_canny_th}, '
                f'canny=({self.canny_low}, {self.canny_high}), '
                f'cf_mode={self.cf_mode}, '
                f'ep_label_source={self.ep_label_source}, '
                f'partner={self.partner}, class_subset={self.class_subset}')
