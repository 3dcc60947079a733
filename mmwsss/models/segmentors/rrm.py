"""RRM: Reliable Region Mining, one-step end-to-end WSSS."""
import copy
import time
from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList, add_prefix)
from torch import Tensor

from mmwsss.utils.cam_ops import normalise_cam, scaled_size
from mmwsss.utils.checks import check_choices
from ..heads.cam_head import CAMHead, stack_img_labels
from ..utils.images import crop_valid_mask, images_u8, restored_image_u8
from ..utils.loss_context import losses_see_samples

__all__ = ['RRM']

PHASES = ('cls', 'joint')

DEFAULT_TRAIN_CFG = dict(
    cam_scales=(0.5, 1.5, 2.0),
    crf_denorm='round',
    ignore_outside_roi=False,
    seed_stats=True,
)
DEFAULT_TEST_CFG = dict(crf=None, crf_denorm='round')


def _bilinear(x: Tensor, size: Sequence[int]) -> Tensor:
    size = tuple(int(s) for s in size)
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


@MODELS.register_module()
class RRM(BaseSegmentor):
    """Reliable Region Mining (Zhang et al., AAAI 2020), one step.

    A shared backbone with two branches [code]:

    - classification: ``cam_head`` (:class:`CAMHead`, Dropout2d before GAP
      for the image logits z, no dropout for the CAM) on
      ``feats[cam_in_index]``; ``loss_cls`` = MLSM(z, y).
    - segmentation: ``decode_head``, any mmseg decode head with K + 1
      classes (:class:`RRMSegHead` is the official one). Its
      ``loss_decode`` holds the losses on the mined labels, in RRM
      ``BgFgCrossEntropyLoss`` (L_ce) and ``DenseEnergyLoss`` (L_energy);
      losses with ``uses_data_samples`` get the data samples, which carry
      ``gt_rgb`` (the denormalised crop, float 0-255) and ``gt_valid``
      (the crop-valid mask, the ROI).

    **Training step** (:meth:`loss`), phase ``'joint'``:

    1. One forward with gradient: CAM_1 = relu(cam_head(F)), z, Sg.
    2. Training-time multi-scale CAM, no gradient
       (:meth:`training_cams`): the images bilinearly resized to
       ``int(H s) x int(W s)`` for s in ``train_cfg.cam_scales``
       (0.5, 1.5, 2.0), no flip, in train mode (dropout of the backbone
       active; frozen BN stays frozen); ``cam = mean(CAM_1, CAM_s resized
       bilinearly to CAM_1's grid)``, bilinear to H x W, absent classes
       zeroed, max-normalised per class -> ``P_fg``.
    3. ``mining`` (:class:`ReliableRegionMining`) on the uint8 crops
       (round-denormalised, the container padding has the mean colour):
       labels in ``{0..K, 255}``; the time it takes is logged as
       ``time_mining`` (seconds; MMEngine's ``time`` is the whole step).
    4. ``decode.*`` losses of the decode head against the mined labels.

    Phase ``'cls'`` (the L_cls-only first half of the from-ImageNet
    recipe, set by a hook): L_cls only, plus ``0 * Sg.sum()`` so that
    every parameter takes part in the graph (DDP).

    Logged besides the losses: ``acc_cls``, ``decode.acc_seg``,
    ``seed_fg_ratio``, ``seed_bg_ratio`` and ``seed_ignore_ratio`` (of the
    crop-valid pixels).

    ``train_cfg`` keys [inferred where not official]:

    - ``cam_scales``: extra CAM scales (0.5, 1.5, 2.0) [code].
    - ``crf_denorm``: ``'round'`` (default) or ``'truncate'`` (the uint8
      CRF image).
    - ``ignore_outside_roi``: ignore the mined labels outside the crop
      (False: the official code labels the padding too).
    - ``seed_stats``: log the label ratios. Defaults to True.

    **Inference** [code]: single scale, no flip; Sg bilinearly resized to
    the image, softmax, argmax. ``test_cfg.crf``: None (default), a
    :class:`DenseCRF` config or a preset name (``'rrm_test'``: Gaussian
    3/3, bilateral 83/5/4; ``--cfg-options model.test_cfg.crf=rrm_test``)
    run on the softmax at the original size; ``seg_logits`` are then the
    CRF marginals.

    Args:
        backbone (dict): Backbone config.
        cam_head (dict): :class:`CAMHead` config (K classes).
        decode_head (dict): Decode head config (K + 1 classes).
        mining (dict): :class:`ReliableRegionMining` config.
        cam_in_index (int): Backbone output of the CAM head. Defaults to
            -1.
        phase (str): ``'joint'`` (default) or ``'cls'``.
        train_cfg (dict, optional): See above.
        test_cfg (dict, optional): See above.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 cam_head: ConfigType,
                 decode_head: ConfigType,
                 mining: ConfigType = dict(type='ReliableRegionMining'),
                 cam_in_index: int = -1,
                 phase: str = 'joint',
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.cam_head: CAMHead = MODELS.build(cam_head)
        self.decode_head = MODELS.build(decode_head)
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels
        self.align_corners = False
        if self.num_classes != self.cam_head.num_classes + 1:
            raise ValueError(
                f'decode_head.num_classes ({self.num_classes}) must be '
                f'cam_head.num_classes + 1 ({self.cam_head.num_classes + 1}):'
                ' background + K foreground classes')
        self.mining = MODELS.build(mining) if isinstance(mining,
                                                         dict) else mining
        self.cam_in_index = int(cam_in_index)
        self.train_cfg = copy.deepcopy(DEFAULT_TRAIN_CFG)
        self.train_cfg.update(train_cfg or {})
        self.test_cfg = copy.deepcopy(DEFAULT_TEST_CFG)
        self.test_cfg.update(test_cfg or {})
        for s in self.train_cfg['cam_scales']:
            if not s > 0:
                raise ValueError('train_cfg.cam_scales must be > 0, got '
                                 f'{tuple(self.train_cfg["cam_scales"])}')
        check_choices(
            **{
                'train_cfg.crf_denorm': (self.train_cfg['crf_denorm'],
                                         ('round', 'truncate')),
                'test_cfg.crf_denorm': (self.test_cfg['crf_denorm'],
                                        ('round', 'truncate'))
            })
        self._test_crf = None
        self.phase = 'joint'
        self.set_phase(phase)

    def set_phase(self, phase: str) -> None:
        """``'joint'`` (all losses) or ``'cls'`` (L_cls only)."""
        check_choices(phase=(phase, PHASES))
        self.phase = phase

    # ------------------------------------------------------------ network
    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone features."""
        return list(self.backbone(inputs))

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Segmentation logits resized (bilinear) to the input size."""
        seg = self.decode_head(self.extract_feat(inputs))
        return _bilinear(seg, inputs.shape[2:])

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Segmentation logits at the feature resolution."""
        return self.decode_head(self.extract_feat(inputs))

    @torch.no_grad()
    def training_cams(self, inputs: Tensor, cam: Tensor,
                      img_labels: Tensor) -> Tensor:
        """The training-time multi-scale CAM ``P_fg`` (no gradient).

        Args:
            inputs (Tensor): Normalised images (B, 3, H, W).
            cam (Tensor): CAM logits of the main forward (B, K, h, w).
            img_labels (Tensor): (B, K) multi-hot.

        Returns:
            Tensor: (B, K, H, W) float32 in [0, 1), 0 for absent classes.
        """
        H, W = inputs.shape[-2:]
        size = cam.shape[-2:]
        total = F.relu(cam.detach().float())
        scales = tuple(self.train_cfg['cam_scales'])
        for s in scales:
            x = _bilinear(inputs, scaled_size(H, W, s, 'int'))
            feat = self.extract_feat(x)[self.cam_in_index]
            cam_s = F.relu(self.cam_head(feat).float())
            total = total + _bilinear(cam_s, size)
        up = _bilinear(total / (len(scales) + 1), (H, W))
        up = up * (img_labels.to(up.device) > 0.5).float()[:, :, None, None]
        return normalise_cam(up)

    # ------------------------------------------------------------ losses
    @staticmethod
    def _mined_samples(images: np.ndarray, labels: Tensor, valid: Tensor,
                       data_samples: SampleList) -> SampleList:
        """Data samples with the mined labels (``gt_sem_seg``), the uint8
        crops as float RGB (``gt_rgb``) and the ROI (``gt_valid``)."""
        rgb = torch.from_numpy(images).permute(0, 3, 1, 2).to(
            labels.device).float()
        samples = []
        for i, ds in enumerate(data_samples):
            new = SegDataSample(metainfo=ds.metainfo)
            new.gt_sem_seg = PixelData(data=labels[i][None].long())
            new.gt_rgb = PixelData(data=rgb[i])
            new.gt_valid = PixelData(data=valid[i][None])
            samples.append(new)
        return samples

    def _label_stats(self, labels: Tensor,
                     valid: Tensor) -> Dict[str, Tensor]:
        if not self.train_cfg['seed_stats']:
            return {}
        ignore = self.mining.ignore_index
        n = valid.sum().clamp(min=1).float()
        return {
            'seed_fg_ratio':
            ((labels != ignore) & (labels > 0) & valid).sum().float() / n,
            'seed_bg_ratio': ((labels == 0) & valid).sum().float() / n,
            'seed_ignore_ratio':
            ((labels == ignore) & valid).sum().float() / n,
        }

    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """L_cls + the decode head's losses on the mined labels (see the
        class docstring)."""
        img_labels = stack_img_labels(data_samples).to(inputs.device)
        feats = self.extract_feat(inputs)
        cam, logits = self.cam_head.cam_and_logits(feats[self.cam_in_index])
        seg = self.decode_head(feats)
        losses = self.cam_head.loss_by_logits(logits, img_labels)
        with torch.no_grad():
            losses['acc_cls'] = ((logits > 0).float() == img_labels).float(
            ).mean()
        if self.phase == 'cls':
            losses['decode.loss_zero'] = seg.sum() * 0
            return losses

        t0 = time.perf_counter()
        with torch.no_grad(), torch.autocast(
                device_type=inputs.device.type, enabled=False):
            p_fg = self.training_cams(inputs, cam, img_labels)
            valid = crop_valid_mask(inputs, data_samples)
            images = images_u8(inputs, self.data_preprocessor,
                               self.train_cfg['crf_denorm'])
            mined = self.mining(list(images), p_fg, img_labels)
            if self.train_cfg['ignore_outside_roi']:
                mined = mined.masked_fill(~valid, self.mining.ignore_index)
        losses['time_mining'] = torch.tensor(
            time.perf_counter() - t0, device=inputs.device)
        samples = self._mined_samples(images, mined, valid, data_samples)
        with losses_see_samples(self.decode_head, samples):
            losses.update(
                add_prefix(
                    self.decode_head.loss_by_feat(seg, samples), 'decode'))
        losses.update(self._label_stats(mined, valid))
        return losses

    # ------------------------------------------------------------ inference
    def _build_test_crf(self):
        if self._test_crf is None:
            cfg = self.test_cfg['crf']
            if isinstance(cfg, str):  # a preset name (command line)
                cfg = dict(type='DenseCRF', preset=cfg)
            self._test_crf = MODELS.build(cfg) if isinstance(cfg,
                                                             dict) else cfg
        return self._test_crf

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Single-scale segmentation (+ the optional test CRF): fills
        ``seg_logits`` and ``pred_sem_seg`` at the original size."""
        if data_samples is not None:
            metas = [ds.metainfo for ds in data_samples]
        else:
            metas = [
                dict(
                    ori_shape=inputs.shape[2:],
                    img_shape=inputs.shape[2:],
                    pad_shape=inputs.shape[2:],
                    padding_size=[0, 0, 0, 0])
            ] * inputs.shape[0]
        seg = self.encode_decode(inputs, metas)
        results = self.postprocess_result(seg, data_samples)
        if self.test_cfg['crf'] is None:
            return results
        crf = self._build_test_crf()
        for i, ds in enumerate(results):
            probs = ds.seg_logits.data.detach().float().softmax(dim=0)
            image = restored_image_u8(inputs, ds, i, self.data_preprocessor,
                                      self.test_cfg['crf_denorm'])
            q = torch.from_numpy(crf.refine_probs(
                image,
                probs.cpu().numpy())).to(probs.device)
            ds.seg_logits = PixelData(data=q)
            ds.pred_sem_seg = PixelData(data=q.argmax(dim=0, keepdim=True))
        return results

    def close(self) -> None:
        """Stop the CRF processes of the mining."""
        close = getattr(self.mining, 'close', None)
        if close is not None:
            close()
