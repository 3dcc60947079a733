"""Puzzle-CAM: a CAM classifier trained on full images and their tiles."""
from typing import Dict

from mmengine.logging import print_log
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from ..heads.cam_head import stack_img_labels
from ..utils.puzzle import PuzzleTiler
from .cam_classifier import CAMClassifier

__all__ = ['PuzzleCAM']


@MODELS.register_module()
class PuzzleCAM(CAMClassifier):
    """Puzzle-CAM (Jo & Yu, ICIP 2021).

    Training runs the same backbone + CAM head twice: on the full image
    (A) and on its n x n tiles stacked on the batch axis (the tiles are
    *images*, each passes through the whole network; trainable BN sees the
    two batches separately). The tiles' CAM logits are merged back into
    A_re and the head computes ``L_cls + L_pcl + alpha * L_re``
    (:class:`PuzzleCAMHead`). ``alpha`` is set every iteration by
    ``PuzzleAlphaHook`` (linear ramp); without the hook it stays at its
    initial value 0 and a warning is logged once.

    Inference is the plain :class:`CAMClassifier` (``extract_cam``,
    ``predict``): the puzzle branch is training-only, so the CAM tools and
    ``tools/test.py`` work unchanged and checkpoints load into a
    ``CAMClassifier`` config.

    Args:
        backbone (dict): Backbone config.
        cam_head (dict): Head config, normally ``PuzzleCAMHead``.
        num_pieces (int): Pieces n * n. Defaults to 4.
        backbone_stride (int): Output stride of the CAM (for the size
            check and the ``'pad'`` mode). Defaults to 16.
        puzzle_size_mode (str): ``'strict'`` (default: the configured crop
            ``data_preprocessor.size`` and every batch must be multiples of
            ``sqrt(num_pieces) * backbone_stride``, checked at build time
            and at each forward), ``'pad'`` or ``'resize'``; see
            :class:`PuzzleTiler`.
        pad_full_image (bool): ``'pad'`` mode: the full forward also sees
            the padded image. Defaults to True (pad before both forwards).
        pad_crop_back (bool): ``'pad'`` mode: compute the losses on the
            cells of the unpadded image only. Defaults to True.
        **kwargs: ``neck``, ``train_cfg``, ``test_cfg``,
            ``data_preprocessor``, ``init_cfg`` of :class:`CAMClassifier`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 cam_head: ConfigType,
                 num_pieces: int = 4,
                 backbone_stride: int = 16,
                 puzzle_size_mode: str = 'strict',
                 pad_full_image: bool = True,
                 pad_crop_back: bool = True,
                 **kwargs) -> None:
        super().__init__(backbone=backbone, cam_head=cam_head, **kwargs)
        if not hasattr(self.cam_head, 'loss_puzzle'):
            raise TypeError('PuzzleCAM needs a cam_head with the puzzle '
                            'losses (type=\'PuzzleCAMHead\'), got '
                            f'{type(self.cam_head).__name__}')
        self.puzzle = PuzzleTiler(
            num_pieces=num_pieces,
            stride=backbone_stride,
            size_mode=puzzle_size_mode,
            pad_full_image=pad_full_image,
            crop_back=pad_crop_back)
        crop = getattr(self.data_preprocessor, 'size', None)
        if crop is not None:
            self.puzzle.check_size(
                crop, where='crop (model.data_preprocessor.size)')
        #: weight of L_re, set by PuzzleAlphaHook each iteration
        self.alpha = 0.0
        self._alpha_from_hook = False
        self._warned_alpha = False

    def set_alpha(self, alpha: float) -> None:
        """Set the current weight of the reconstruction loss (hook API)."""
        self.alpha = float(alpha)
        self._alpha_from_hook = True

    def puzzle_cams(self, inputs: Tensor):
        """Two forwards: full-image CAM A and merged tile CAM A_re.

        Args:
            inputs (Tensor): Normalised images, shape (B, 3, H, W).

        Returns:
            tuple[Tensor, Tensor]: ``(A, A_re)`` of equal shape, aligned
            for the losses (see :class:`PuzzleTiler`).
        """
        full, tiles = self.puzzle.prepare(inputs)
        cam = self.extract_cam(full)
        tile_cams = self.extract_cam(tiles)
        return self.puzzle.merge(cam, tile_cams, inputs.shape[-2:])

    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """``loss_cls``, ``loss_pcl`` and ``loss_re`` (= alpha * L_re)."""
        if (self.training and not self._alpha_from_hook
                and not self._warned_alpha):
            print_log(
                'PuzzleCAM: alpha was not set by a PuzzleAlphaHook; the '
                f'reconstruction loss uses the constant alpha={self.alpha}. '
                "Add custom_hooks=[dict(type='PuzzleAlphaHook', ...)].",
                logger='current',
                level=30)
            self._warned_alpha = True
        cam, cam_re = self.puzzle_cams(inputs)
        labels = stack_img_labels(data_samples).to(cam.device)
        return self.cam_head.loss_puzzle(cam, cam_re, labels, self.alpha)
