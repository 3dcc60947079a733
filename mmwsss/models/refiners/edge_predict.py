# Copyright (c) mmwsss contributors. All rights reserved.
"""EdgePredict: the edge-aware pseudo labels M_ep of RS+EPM (the "EP" of
EdgePredictMix, with the certain filter and PAMR)."""
from typing import Optional, Union

import torch
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from torch import Tensor, nn

from mmwsss.utils.checks import check_choices
from .edge_ops import (batch_canny_edges, batch_component_fill,
                       median_threshold, prob_to_uint8, tv_edges)

__all__ = ['EdgePredict']


@MODELS.register_module()
class EdgePredict(nn.Module):
    """Edge-aware labels of the decoder prediction (per image at stride 4,
    no grad); the batch augment :class:`~mmwsss.models.PartnerMix` pastes
    their objects.

    .. code-block:: none

        P      = softmax(S) over {bg} ∪ present classes (absent -> 0)
        M_dec  = PAMR(G4, P)                    # G4: image resized to S
        lab    = CF(M_dec[1:])                  # K channels, valid4
        edge   = OR_q Canny(blur5x5(u8(255·M_dec[q])), 10, 100)
                 (ep_edge_map='max_prob': Canny of u8(255·max_q M_dec[q]))
        lab[edge ∧ lab == 0] = 255
        each 4-connected component R of ¬edge with > 1 distinct labels:
            lab[R ∧ lab == 255] = mode(lab[R])  (0 and 255 counted)
        M_ep = lab;  M_ep[~valid4] = 255

    Evidence: the data flow (M̂_dec -> PAMR -> M_dec -> M_ep) is
    [figure]; the Canny helper (blur 5x5, 10 / 100), the median threshold
    and the component fill are [code] helpers whose call site was never
    released; applying Canny to every probability channel, the CF on M_dec
    and every option below are reconstructions [inferred].

    Args:
        pamr (dict | nn.Module, optional): PAMR config (built with
            ``MODELS``). None disables it (``M_dec = P``). Defaults to
            ``dict(type='PAMR')``.
        certain_filter (dict | nn.Module): Certain-filter config. Defaults
            to ``dict(type='CertainFilter')`` (c 0.55, u 0.10).
        ep_edge (str): ``'canny'`` (default, helper (i) on every channel of
            M_dec) or ``'tv'`` (``max_{j∈N8} ½Σ_q|M_q(i) - M_q(j)|``
            binarised with helper (ii)) [inferred].
        ep_edge_map (str): The maps the edges are taken from [inferred]:
            ``'channels'`` (default, every channel of M_dec, edges OR-ed) or
            ``'max_prob'`` (the one map ``max_q M_dec[q]`` over background
            and the present classes: it dips where two classes meet).
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
        ignore_index (int): Uncertain / ignored label. Defaults to 255.
        fill_valid_only (bool): The connected components of the fill are
            built on the valid pixels only, so crop padding neither joins
            regions nor votes [inferred]. Defaults to True.
    """

    def __init__(self,
                 pamr: Union[OptConfigType, nn.Module] = dict(type='PAMR'),
                 certain_filter: Union[OptConfigType,
                                       nn.Module] = dict(type='CertainFilter'),
                 ep_edge: str = 'canny',
                 ep_canny_th: str = 'fixed',
                 ep_edge_map: str = 'channels',
                 canny_low: float = 10,
                 canny_high: float = 100,
                 ep_blur: bool = True,
                 median_sigma: float = 0.25,
                 median_min: float = 0.10,
                 cf_mode: str = 'fixed',
                 ep_label_source: str = 'M_dec',
                 ignore_index: int = 255,
                 fill_valid_only: bool = True) -> None:
        super().__init__()
        check_choices(
            ep_edge=(ep_edge, ('canny', 'tv')),
            ep_canny_th=(ep_canny_th, ('fixed', 'median')),
            ep_edge_map=(ep_edge_map, ('channels', 'max_prob')),
            cf_mode=(cf_mode, ('fixed', 'median')),
            ep_label_source=(ep_label_source, ('M_dec', 'M_seg')))
        self.pamr = self._build(pamr)
        self.certain_filter = self._build(certain_filter)
        if self.certain_filter is None and ep_label_source == 'M_dec':
            raise ValueError('certain_filter is required when '
                             'ep_label_source="M_dec"')
        self.ep_edge = ep_edge
        self.ep_canny_th = ep_canny_th
        self.ep_edge_map = ep_edge_map
        self.canny_low = float(canny_low)
        self.canny_high = float(canny_high)
        self.ep_blur = bool(ep_blur)
        self.median_sigma = float(median_sigma)
        self.median_min = float(median_min)
        self.cf_mode = cf_mode
        self.ep_label_source = ep_label_source
        self.ignore_index = int(ignore_index)
        self.fill_valid_only = bool(fill_valid_only)

    @staticmethod
    def _build(cfg) -> Optional[nn.Module]:
        if cfg is None or isinstance(cfg, nn.Module):
            return cfg
        return MODELS.build(cfg)

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
    def forward(self,
                image: Tensor,
                seg_logits: Tensor,
                img_labels: Tensor,
                valid4: Optional[Tensor] = None,
                seg_labels: Optional[Tensor] = None) -> Tensor:
        """Edge-aware labels ``M_ep``, no grad.

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
        maps = m_dec
        if self.ep_edge_map == 'max_prob':
            maps, channels = m_dec.amax(1, keepdim=True), None
        if self.ep_edge == 'tv':
            edges = tv_edges(
                maps, sigma=self.median_sigma, min_ratio=self.median_min)
        else:
            edges = batch_canny_edges(
                maps,
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

    def extra_repr(self) -> str:
        return (f'ep_edge={self.ep_edge}, ep_edge_map={self.ep_edge_map}, '
                f'ep_canny_th={self.ep_canny_th}, '
                f'canny=({self.canny_low}, {self.canny_high}), '
                f'cf_mode={self.cf_mode}, '
                f'ep_label_source={self.ep_label_source}')
