# Copyright (c) mmwsss contributors. All rights reserved.
"""Class-semantics formulas of the SLAMs-like reconstruction (one place
each).

- :func:`class_cosine`: ``cos(cre_bk, crs_k)`` of every image and class;
- :func:`semantics_for`: ``crs'`` with the semantics of the absent classes
  detached (they receive no gradient from an image without them);
- :func:`semantic_targets`: ``ŷ = [1, y]`` (the background is always
  present);
- :func:`present_pairs`: the (image, class) pairs of a batch and, for each,
  the other present classes of its image;
- :func:`contrast_loss`: ``½[(1 - mean pos) + (1 + mean neg)]`` over masked
  cosines, an empty set counting 0.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'class_cosine', 'pixel_class_cosine', 'semantics_for',
    'semantic_targets', 'present_pairs', 'contrast_loss', 'masked_mean'
]


def class_cosine(cre: Tensor, crs: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine of every class embedding with its class semantics.

    Args:
        cre (Tensor): ``(N, K + 1, E)`` class embeddings of N images.
        crs (Tensor): ``(K + 1, E)`` class semantics, or ``(N, K + 1, E)``
            (e.g. from :func:`semantics_for`).
        eps (float): Norm floor of ``torch.cosine_similarity``.

    Returns:
        Tensor: ``(N, K + 1)``.
    """
    if crs.dim() == 2:
        crs = crs[None].expand_as(cre)
    return F.cosine_similarity(cre, crs, dim=-1, eps=eps)


def pixel_class_cosine(emb: Tensor, crs: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine of every pixel embedding with every class semantics, as one
    matrix product of the normalised vectors (no ``(B, K, E, h, w)``
    broadcast).

    Args:
        emb (Tensor): ``(B, E, h, w)`` pixel embeddings.
        crs (Tensor): ``(K + 1, E)`` class semantics.
        eps (float): Norm floor of each vector (as
            ``torch.cosine_similarity``).

    Returns:
        Tensor: ``(B, K + 1, h, w)``.
    """
    e = F.normalize(emb, dim=1, eps=eps)
    c = F.normalize(crs.to(e.dtype), dim=1, eps=eps)
    return torch.einsum('behw,ke->bkhw', e, c)


def semantics_for(crs: Tensor, present: Tensor) -> Tensor:
    """``crs'``: per image, the semantics of the present classes and the
    detached semantics of the absent ones.

    Args:
        crs (Tensor): ``(K + 1, E)``.
        present (Tensor): ``(N, K + 1)`` bool.

    Returns:
        Tensor: ``(N, K + 1, E)``.
    """
    keep = present.bool()[..., None]
    return torch.where(keep, crs[None], crs.detach()[None])


def semantic_targets(img_labels: Tensor) -> Tensor:
    """``ŷ = [1, y]``: ``(N, K)`` multi-hot -> ``(N, K + 1)`` float."""
    y = (img_labels > 0.5).float()
    return torch.cat([y.new_ones(y.shape[0], 1), y], dim=1)


def present_pairs(targets: Tensor,
                  include_bg: bool = True) -> Tuple[Tensor, Tensor, Tensor]:
    """The (image, class) pairs of a batch.

    Args:
        targets (Tensor): ``(B, K + 1)`` presence (see
            :func:`semantic_targets`).
        include_bg (bool): Also make pairs of the background class 0.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``img`` (P,) and ``cls`` (P,) int64
        (ordered by image, then class), and ``others`` ``(P, K + 1)`` bool:
        the present classes of the pair's image except its own class
        (the background included whatever ``include_bg``).
    """
    present = targets > 0.5
    pair_mask = present.clone()
    if not include_bg:
        pair_mask[:, 0] = False
    img, cls = pair_mask.nonzero(as_tuple=True)
    others = present[img].clone()
    others[torch.arange(cls.numel(), device=cls.device), cls] = False
    return img, cls, others


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values[mask]``; 0 (with a graph) when the mask is empty."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1)


def contrast_loss(pos: Tensor, pos_mask: Tensor, neg: Tensor,
                  neg_mask: Tensor) -> Tensor:
    """``½[(1 - mean pos[pos_mask]) + (1 + mean neg[neg_mask])]``; a mean
    over an empty set is 0 (never NaN).

    Both means are over all selected entries of the batch. The SLAMs-like
    category-foreground loss uses, for each pair (b, k) and the masked
    image ``x_b ⊙ M_bk``: pos = the cosine of class k, neg = the cosines of
    the other present classes of image b; the category-background loss on
    ``x_b ⊙ (1 - M_bk)`` swaps the roles.
    """
    return 0.5 * ((1 - masked_mean(pos, pos_mask)) +
                  (1 + masked_mean(neg, neg_mask)))
