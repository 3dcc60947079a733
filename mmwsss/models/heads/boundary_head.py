"""Edge (class-boundary) head of the boundary network (IRN style)."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig
from torch import Tensor, nn

from ..losses.affinity_loss import affinity_loss_terms
from ..refiners.random_walk import PathIndex

__all__ = ['BoundaryHead']


@MODELS.register_module()
class BoundaryHead(BaseModule):
    """Per-stage 1x1 branches fused into a stride-4 edge map (the
    class-boundary branch of IRN, as used by Puzzle-CAM).

    Branch ``i`` takes feature ``feats[in_index[i]]`` and applies a 1x1 conv
    to ``channels`` (no bias), GroupNorm, a bilinear ×``scale_factors[i]``
    upsampling (``align_corners=False``, skipped for 1) and ReLU, in that
    order. The branches are cropped top-left to the size of branch
    ``ref_index`` (e2 = layer1, stride 4), concatenated, and a 1x1 conv with
    bias gives the edge logits ``E``; ``e = sigmoid(E)``.

    ResNet-50 / ResNeSt-50 [code]: inputs ``(S1, layer1..layer4)`` with
    ``in_channels=(64, 256, 512, 1024, 2048)``,
    ``scale_factors=(1, 1, 2, 4, 4)``, GN(4, 32) (S1 = stem after maxpool,
    provided by :class:`~mmwsss.models.BoundaryNet`).

    Training pairs use the path-index affinities of radius ``radius``
    (10 in the official recipe) between sources and destinations of the
    stride-4 map; the affinity label map is nearest-resized to the edge size
    (``'nearest-exact'``, the pixel-centre sampling of PIL ``NEAREST``).

    Args:
        in_channels (Sequence[int]): Channels of every branch input.
        scale_factors (Sequence[int]): Upsampling factor of every branch to
            stride 4.
        in_index (Sequence[int], optional): Which features feed the branches
            (default: ``0 .. len(in_channels) - 1``).
        channels (int): Channels of every branch. Defaults to 32.
        ref_index (int): Branch whose size the others are cropped to.
            Defaults to 1 (e2).
        norm_cfg (dict): Branch norm. Defaults to GN with 4 groups.
        radius (int): Path-index radius of the training pairs.
            Defaults to 10.
        ignore_index (int): Unknown affinity label. Defaults to 255.
        label_resize_mode (str): ``F.interpolate`` mode that brings the
            affinity labels to the edge size. Defaults to 'nearest-exact'.
        loss_aff (dict): Loss config. Defaults to ``AffinityLoss``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 256, 512, 1024, 2048),
                 scale_factors: Sequence[int] = (1, 1, 2, 4, 4),
                 in_index: Optional[Sequence[int]] = None,
                 channels: int = 32,
                 ref_index: int = 1,
                 norm_cfg: ConfigType = dict(
                     type='GN', num_groups=4, requires_grad=True),
                 radius: int = 10,
                 ignore_index: int = 255,
                 label_resize_mode: str = 'nearest-exact',
                 loss_aff: ConfigType = dict(type='AffinityLoss'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(scale_factors):
            raise ValueError(f'in_channels ({len(in_channels)}) and '
                             f'scale_factors ({len(scale_factors)}) must have '
                             f'the same length.')
        self.in_channels = list(in_channels)
        self.scale_factors = [int(s) for s in scale_factors]
        self.in_index = list(
            range(len(in_channels)) if in_index is None else in_index)
        if len(self.in_index) != len(self.in_channels):
            raise ValueError('in_index must list one feature per branch.')
        if not 0 <= ref_index < len(self.in_channels):
            raise ValueError(f'ref_index {ref_index} out of range.')
        self.channels = channels
        self.ref_index = ref_index
        self.radius = radius
        self.ignore_index = ignore_index
        self.label_resize_mode = label_resize_mode
        self.branches = nn.ModuleList([
            ConvModule(
                c, channels, 1, bias=False, norm_cfg=norm_cfg, act_cfg=None)
            for c in self.in_channels
        ])
        self.conv_edge = nn.Conv2d(channels * len(self.in_channels), 1, 1)
        self.loss_aff = MODELS.build(loss_aff)
        self.path_index = PathIndex(radius)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Edge logits.

        Args:
            feats (Sequence[Tensor]): Backbone features (detached).

        Returns:
            Tensor: ``(B, 1, h, w)`` edge logits at stride 4.
        """
        outs = []
        for branch, idx, s in zip(self.branches, self.in_index,
                                  self.scale_factors):
            x = branch(feats[idx])
            if s != 1:
                x = F.interpolate(
                    x, scale_factor=s, mode='bilinear', align_corners=False)
            outs.append(F.relu(x))
        h, w = outs[self.ref_index].shape[-2:]
        for i, x in enumerate(outs):
            if x.shape[-2] < h or x.shape[-1] < w:
                raise ValueError(
                    f'branch {i} output {tuple(x.shape[-2:])} is smaller '
                    f'than the reference branch ({h}, {w}); check '
                    f'scale_factors / in_index.')
        x = torch.cat([o[..., :h, :w] for o in outs], dim=1)
        return self.conv_edge(x)

    def affinity_targets(self, labels: Tensor,
                         size: Sequence[int]) -> List[Tensor]:
        """Resize the affinity label maps and build the pair masks.

        Args:
            labels (Tensor): ``(B, 1, H, W)`` affinity labels (0..K, 255).
            size (Sequence[int]): Edge map size ``(h, w)``.

        Returns:
            list[Tensor]: ``pos_bg``, ``pos_fg``, ``neg`` masks
            ``(B, |D_r|, h_s, w_s)``.
        """
        lab = F.interpolate(
            labels.float(), size=tuple(size),
            mode=self.label_resize_mode).long()
        return list(self.path_index.pair_labels(lab, self.ignore_index))

    def loss(self, feats: Sequence[Tensor],
             labels: Tensor) -> Dict[str, Tensor]:
        """Affinity loss on the path-index affinities of the edge map.

        Args:
            feats (Sequence[Tensor]): Backbone features.
            labels (Tensor): ``(B, 1, H, W)`` affinity labels.

        Returns:
            dict[str, Tensor]: ``loss_aff`` (optimised) and the detached
            terms ``aff_bg``, ``aff_fg``, ``aff_neg`` (logged).
        """
        edge = torch.sigmoid(self.forward(feats))
        pos_bg, pos_fg, neg = self.affinity_targets(labels, edge.shape[-2:])
        aff = self.path_index.affinity(edge)
        losses = {
            self.loss_aff.loss_name: self.loss_aff(aff, pos_bg, pos_fg, neg)
        }
        with torch.no_grad():
            terms = affinity_loss_terms(aff, pos_bg, pos_fg, neg,
                                        self.loss_aff.eps)
        losses.update({f'aff_{k}': v for k, v in terms.items()})
        return losses
