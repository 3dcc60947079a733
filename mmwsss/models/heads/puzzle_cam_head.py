"""CAM head with the Puzzle-CAM losses (L_cls, L_p-cls, alpha * L_re)."""
from typing import Dict

import torch
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from mmwsss.utils.cam_ops import normalise_cam
from .cam_head import CAMHead

__all__ = ['PuzzleCAMHead']


@MODELS.register_module()
class PuzzleCAMHead(CAMHead):
    """:class:`CAMHead` that also owns the two Puzzle-CAM losses.

    Same classifier (1x1 conv, no bias) and parameter names as
    :class:`CAMHead`, so Puzzle-CAM checkpoints load into a plain
    ``CAMClassifier``. :meth:`loss_puzzle` computes::

        L_cls = MLSM(mean_hw(A), y)            # loss_cls
        L_pcl = MLSM(mean_hw(A_re), y)         # loss_pcl (use_pcl)
        L_re  = reconstruction(A, A_re, y)     # loss_re = alpha * L_re

    With ``loss_re.re_level='cam'`` the official code computes L_pcl on the
    max-normalised merged map, ``MLSM(mean_hw(norm(A_re)), y)``, and so does
    this head [code].

    Args:
        loss_pcl (dict): Classification loss on the merged map. Defaults
            to MLSM named ``loss_pcl``.
        loss_re (dict): Reconstruction loss. Defaults to
            ``PuzzleReconstructionLoss`` (``re_level='feature'``,
            ``re_loss='l1'``, ``re_mask='masking'``).
        use_pcl (bool): Add ``loss_pcl``. Defaults to True.
        **kwargs: :class:`CAMHead` arguments (``in_channels``,
            ``num_classes``, ``loss_cls``, ...). ``dropout_ratio`` is not
            used by the puzzle losses (the image logits are the GAP of A).
    """

    def __init__(self,
                 loss_pcl: ConfigType = dict(
                     type='MultiLabelSoftMarginLoss',
                     loss_weight=1.0,
                     loss_name='loss_pcl'),
                 loss_re: ConfigType = dict(
                     type='PuzzleReconstructionLoss',
                     re_level='feature',
                     re_loss='l1',
                     re_mask='masking',
                     loss_name='loss_re'),
                 use_pcl: bool = True,
                 init_cfg: OptConfigType = None,
                 **kwargs) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.use_pcl = use_pcl
        self.loss_pcl = MODELS.build(loss_pcl)
        self.loss_re = MODELS.build(loss_re)

    def loss_puzzle(self, cam: Tensor, cam_re: Tensor, labels: Tensor,
                    alpha: float) -> Dict[str, Tensor]:
        """Puzzle-CAM loss dict.

        Args:
            cam (Tensor): Full-image CAM logits A, shape (B, K, h, w).
            cam_re (Tensor): Merged tile CAM logits A_re, same shape.
            labels (Tensor): Multi-hot image labels, shape (B, K).
            alpha (float): Current weight of the reconstruction loss.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_pcl`` (if ``use_pcl``)
            and ``loss_re`` (already multiplied by ``alpha``) are summed by
            the model; ``re_raw`` (unweighted L_re) and ``acc_cls`` are
            logged only.
        """
        logits = cam.float().mean(dim=(2, 3))
        losses = self.loss_by_logits(logits, labels)
        if self.use_pcl:
            pcl_map = cam_re.float()
            if getattr(self.loss_re, 're_level', 'feature') == 'cam':
                pcl_map = normalise_cam(pcl_map)
            losses[self.loss_pcl.loss_name] = self.loss_pcl(
                pcl_map.mean(dim=(2, 3)), labels)
        re = self.loss_re(cam, cam_re, labels)
        losses[self.loss_re.loss_name] = float(alpha) * re
        with torch.no_grad():
            losses['re_raw'] = re.detach()
            losses['acc_cls'] = ((logits > 0).float() == labels).float().mean()
        return losses
