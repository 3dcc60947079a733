"""Edge and region operators of the EdgePredict ("EP") step of RS+EPM.

The three helpers that the official repository added
in its EPM commit (their call site was never released) are [code]:

- (i) an edge function: 5x5 Gaussian blur -> Canny with the fixed thresholds
  10 / 100 (:func:`canny_edges`, :func:`batch_canny_edges`; a median based
  "auto-Canny" variant was present but commented out:
  :func:`median_canny_thresholds`);
- (ii) a median threshold ``min(255, (1 + σ)·median{v >= 0.10·255})``,
  σ = 0.25 (:func:`masked_median`, :func:`median_threshold`);
- (iii) the connected-component fill of the non-edge pixels
  (:func:`component_fill`, :func:`batch_component_fill`).

Applying (i) to every probability channel, the ``'tv'`` edge strength
(:func:`tv_edge_strength`, :func:`tv_edges`) and the exact glue (uint8
conversion by truncation, ``>`` for the binarisation of (ii), fallbacks for
empty median sets, tie breaking of the majority vote) are reconstructions
[inferred].

Canny and the connected components run on CPU with OpenCV (maps are at
stride 4, about 1 ms per image); everything else
is batched torch that stays on the maps' device.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'prob_to_uint8', 'masked_median', 'median_cut', 'median_threshold',
    'median_canny_thresholds', 'canny_edges', 'batch_canny_edges',
    'tv_edge_strength', 'tv_edges', 'component_fill', 'batch_component_fill'
]

Number = Union[int, float]


def prob_to_uint8(prob: Tensor) -> Tensor:
    """``u8(255·p)``: scale, clip to [0, 255] and truncate [inferred].

    Args:
        prob (Tensor): Probabilities in [0, 1], any shape.

    Returns:
        Tensor: ``torch.uint8`` tensor of the same shape and device.
    """
    return (prob.float() * 255.0).clamp_(0.0, 255.0).to(torch.uint8)


def masked_median(values: Tensor, min_value: float) -> Tensor:
    """Per-row median of the values ``>= min_value``.

    The median of an even number of values is the mean of the two middle
    ones (as ``numpy.median``).

    Args:
        values (Tensor): ``(N, ...)`` tensor; every row (all dimensions but
            the first) is one sample set.
        min_value (float): Values below it are left out.

    Returns:
        Tensor: ``(N,)`` float32 medians, NaN where no value is kept.
    """
    flat = values.reshape(values.shape[0], -1).float()
    flat = torch.where(flat >= min_value, flat,
                       torch.full_like(flat, float('nan')))
    return torch.nanquantile(flat, 0.5, dim=1)


def median_cut(min_ratio: float) -> int:
    """The integer lower cut of the median set: ``int(min_ratio·255)``
    (25 for 0.10), compared with ``>=`` on the u8 values [code]."""
    return int(min_ratio * 255)


def median_threshold(values_u8: Tensor,
                     sigma: float = 0.25,
                     min_ratio: float = 0.10) -> Tensor:
    """Helper (ii): ``int(min(255, (1 + σ)·median{v >= int(min_ratio·255)}))``.

    Exactly as the official helper [code]: the median set keeps the u8
    values ``v >= 25`` (an integer compare), the threshold is truncated to
    an integer, and binarising with it means ``v >= threshold``. When no
    value reaches the cut the threshold is 255 (every value is then below
    25, so nothing is selected) [inferred: the official helper fails on an
    empty set].

    Args:
        values_u8 (Tensor): ``(N, ...)`` uint8 (or float on the 0..255
            scale) values, one sample set per row.
        sigma (float): σ. Defaults to 0.25 [code].
        min_ratio (float): Values below ``int(min_ratio·255)`` are ignored
            by the median. Defaults to 0.10 [code].

    Returns:
        Tensor: ``(N,)`` float32 integer-valued thresholds on 0..255.
    """
    med = masked_median(values_u8, median_cut(min_ratio))
    th = ((1.0 + sigma) * med).clamp(max=255.0).floor()
    return torch.nan_to_num(th, nan=255.0)


def median_canny_thresholds(values_u8: Tensor,
                            sigma: float = 0.25,
                            min_ratio: float = 0.10) -> Tuple[Tensor, Tensor]:
    """Median ("auto-Canny") thresholds ``(1 ∓ σ)·v``.

    ``v`` is the median of the values ``>= int(min_ratio·255)``
    (``ep_canny_th='median'``); ``lo = max(0, (1 - σ)·v)``, ``hi = min(255,
    (1 + σ)·v)``.

    Args:
        values_u8 (Tensor): ``(N, ...)`` values on the 0..255 scale.
        sigma (float): σ. Defaults to 0.25.
        min_ratio (float): Lower cut of the median set. Defaults to 0.10.

    Returns:
        tuple[Tensor, Tensor]: ``(lo, hi)``, each ``(N,)`` float32, NaN
        where the median set is empty.
    """
    med = masked_median(values_u8, median_cut(min_ratio))
    lo = ((1.0 - sigma) * med).clamp(min=0.0)
    hi = ((1.0 + sigma) * med).clamp(max=255.0)
    return lo, hi


def canny_edges(maps_u8: np.ndarray,
                low: Union[Number, Sequence[Number]] = 10,
                high: Union[Number, Sequence[Number]] = 100,
                blur: bool = True) -> np.ndarray:
    """Helper (i) on every channel, OR-ed: one binary edge map.

    ``E_q = Canny(GaussianBlur5x5(map_q), low_q, high_q)`` with OpenCV
    (``cv2.GaussianBlur(ksize=(5, 5), sigma=0)``, ``cv2.Canny`` with a 3x3
    Sobel aperture and the L1 gradient norm), ``edge = OR_q E_q``.

    Args:
        maps_u8 (np.ndarray): ``(Q, h, w)`` uint8 maps.
        low (float | Sequence[float]): Lower hysteresis threshold, one for
            all channels or one per channel. Defaults to 10 [code].
        high (float | Sequence[float]): Upper hysteresis threshold.
            Defaults to 100 [code].
        blur (bool): Blur before Canny. Defaults to True [code].

    Returns:
        np.ndarray: ``(h, w)`` bool, True on edge pixels.
    """
    maps_u8 = np.ascontiguousarray(maps_u8, dtype=np.uint8)
    q, h, w = maps_u8.shape
    lows = np.broadcast_to(np.asarray(low, dtype=np.float64), (q, ))
    highs = np.broadcast_to(np.asarray(high, dtype=np.float64), (q, ))
    edge = np.zeros((h, w), dtype=bool)
    for c in range(q):
        img = maps_u8[c]
        if blur:
            img = cv2.GaussianBlur(img, (5, 5), 0)
        edge |= cv2.Canny(img, float(lows[c]), float(highs[c])) > 0
    return edge


def batch_canny_edges(maps: Tensor,
                      channel_mask: Optional[Tensor] = None,
                      thresholds: str = 'fixed',
                      low: float = 10,
                      high: float = 100,
                      blur: bool = True,
                      sigma: float = 0.25,
                      min_ratio: float = 0.10) -> Tensor:
    """Per-channel Canny edges of a batch of probability maps, OR-ed.

    The maps are converted with :func:`prob_to_uint8` on their device and
    copied to the CPU once for OpenCV (one loop over images; channels that
    ``channel_mask`` drops are skipped, e.g. absent classes whose maps are
    all zero).

    With ``thresholds='median'`` each channel gets ``(lo, hi)`` from
    :func:`median_canny_thresholds` of the (blurred when ``blur``) image
    that enters Canny; a channel without any value ``>= min_ratio·255``
    falls back to ``(low, high)`` [inferred].

    Args:
        maps (Tensor): ``(B, Q, h, w)`` maps in [0, 1].
        channel_mask (Tensor, optional): ``(B, Q)`` bool, channels to use.
            Defaults to all.
        thresholds (str): ``'fixed'`` (default) or ``'median'``.
        low (float): Fixed lower threshold. Defaults to 10.
        high (float): Fixed upper threshold. Defaults to 100.
        blur (bool): 5x5 Gaussian blur first. Defaults to True.
        sigma (float): σ of the median thresholds. Defaults to 0.25.
        min_ratio (float): Cut of the median set. Defaults to 0.10.

    Returns:
        Tensor: ``(B, h, w)`` bool edge maps on ``maps.device``.
    """
    if thresholds not in ('fixed', 'median'):
        raise ValueError(f'thresholds must be "fixed" or "median", got '
                         f'{thresholds!r}')
    b, q, h, w = maps.shape
    maps_u8 = prob_to_uint8(maps).cpu().numpy()
    if channel_mask is None:
        chans = np.ones((b, q), dtype=bool)
    else:
        chans = channel_mask.detach().bool().cpu().numpy()
    edges = np.zeros((b, h, w), dtype=bool)
    for i in range(b):
        sel = maps_u8[i, chans[i]]
        if sel.shape[0] == 0:
            continue
        if thresholds == 'fixed':
            edges[i] = canny_edges(sel, low, high, blur=blur)
            continue
        if blur:
            sel = np.stack([cv2.GaussianBlur(m, (5, 5), 0) for m in sel])
        lo, hi = median_canny_thresholds(
            torch.from_numpy(sel), sigma=sigma, min_ratio=min_ratio)
        lo = torch.nan_to_num(lo, nan=float(low)).numpy()
        hi = torch.nan_to_num(hi, nan=float(high)).numpy()
        edges[i] = canny_edges(sel, lo, hi, blur=False)
    return torch.from_numpy(edges).to(maps.device)


def tv_edge_strength(maps: Tensor) -> Tensor:
    """``max_{j ∈ N8(i)} ½ Σ_q |M_q(i) - M_q(j)|`` (``ep_edge='tv'``).

    The total-variation distance between the probability vectors of a pixel
    and each of its 8 neighbours, maximised over the neighbours. Neighbours
    outside the map are left out (replicate padding gives them distance 0).

    Args:
        maps (Tensor): ``(B, Q, h, w)`` probability maps.

    Returns:
        Tensor: ``(B, h, w)`` float strengths in [0, 1] for probability
        vectors.
    """
    b, q, h, w = maps.shape
    pad = F.pad(maps.float(), (1, 1, 1, 1), mode='replicate')
    centre = pad[:, :, 1:h + 1, 1:w + 1]
    out = maps.new_zeros((b, h, w), dtype=torch.float32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            nb = pad[:, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            out = torch.maximum(out, 0.5 * (centre - nb).abs().sum(1))
    return out


def tv_edges(maps: Tensor,
             sigma: float = 0.25,
             min_ratio: float = 0.10) -> Tensor:
    """``'tv'`` edges: :func:`tv_edge_strength` binarised by helper (ii).

    ``edge = u8(255·strength) >= median_threshold(u8(255·strength))`` per
    image.

    Args:
        maps (Tensor): ``(B, Q, h, w)`` probability maps.
        sigma (float): σ of helper (ii). Defaults to 0.25.
        min_ratio (float): Cut of the median set. Defaults to 0.10.

    Returns:
        Tensor: ``(B, h, w)`` bool edge maps.
    """
    strength = prob_to_uint8(tv_edge_strength(maps))
    th = median_threshold(strength, sigma=sigma, min_ratio=min_ratio)
    return strength.float() >= th[:, None, None]


def component_fill(labels: np.ndarray,
                   edge: np.ndarray,
                   num_classes: int,
                   ignore_index: int = 255,
                   region: Optional[np.ndarray] = None) -> np.ndarray:
    """Helper (iii): fill uncertain pixels with their region's majority.

    1. Background pixels on an edge become ``ignore_index``.
    2. The non-edge pixels (``~edge``, restricted to ``region`` when given)
       are split into 4-connected components with
       ``cv2.connectedComponents``.
    3. In every component that holds more than one distinct label value
       (0 and ``ignore_index`` counted), the ``ignore_index`` pixels take
       the component's mode. Ties break towards the smaller mask class:
       background first, then 1..K, ``ignore_index`` last [inferred]; a
       mode equal to ``ignore_index`` changes nothing.

    Counting is one ``np.bincount`` over ``component * (K + 2) + value``.

    Args:
        labels (np.ndarray): ``(h, w)`` integer labels in
            ``{0..K, ignore_index}``.
        edge (np.ndarray): ``(h, w)`` bool, True on edge pixels.
        num_classes (int): K, the number of foreground classes.
        ignore_index (int): Uncertain label. Defaults to 255.
        region (np.ndarray, optional): ``(h, w)`` bool; pixels outside are
            in no component (e.g. crop padding). Defaults to everything.

    Returns:
        np.ndarray: ``(h, w)`` int64 filled labels (a new array).
    """
    lab = np.array(labels, dtype=np.int64, copy=True)
    edge = np.asarray(edge, dtype=bool)
    lab[edge & (lab == 0)] = ignore_index
    inside = ~edge
    if region is not None:
        inside &= np.asarray(region, dtype=bool)
    n, comp = cv2.connectedComponents(
        inside.astype(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    if n <= 1:
        return lab
    nv = num_classes + 2  # values 0..K and ignore -> K + 1
    code = np.where(lab == ignore_index, num_classes + 1, lab)
    code = np.clip(code, 0, num_classes + 1)
    counts = np.bincount(
        (comp.astype(np.int64) * nv + code).ravel(),
        minlength=n * nv).reshape(n, nv)
    counts[0] = 0  # label 0 of connectedComponents = outside (edges)
    distinct = (counts > 0).sum(1)
    mode = counts.argmax(1)  # first maximum -> smaller value wins ties
    mode_val = np.where(mode == num_classes + 1, ignore_index, mode)
    fill = (comp > 0) & (lab == ignore_index) & (distinct[comp] > 1)
    lab[fill] = mode_val[comp[fill]]
    return lab


def batch_component_fill(labels: Tensor,
                         edges: Tensor,
                         num_classes: int,
                         ignore_index: int = 255,
                         region: Optional[Tensor] = None) -> Tensor:
    """:func:`component_fill` over a batch (one loop over images, CPU).

    Args:
        labels (Tensor): ``(B, h, w)`` integer labels.
        edges (Tensor): ``(B, h, w)`` bool edge maps.
        num_classes (int): K.
        ignore_index (int): Uncertain label. Defaults to 255.
        region (Tensor, optional): ``(B, h, w)`` bool region of the
            components. Defaults to everything.

    Returns:
        Tensor: ``(B, h, w)`` int64 labels on ``labels.device``.
    """
    lab_np = labels.detach().cpu().numpy()
    edge_np = edges.detach().bool().cpu().numpy()
    reg_np = None if region is None else region.detach().bool().cpu().numpy()
    out = np.stack([
        component_fill(
            lab_np[i],
            edge_np[i],
            num_classes,
            ignore_index=ignore_index,
            region=None if reg_np is None else reg_np[i])
        for i in range(lab_np.shape[0])
    ]) if lab_np.shape[0] else lab_np.astype(np.int64)
    return torch.from_numpy(out).to(labels.device)
