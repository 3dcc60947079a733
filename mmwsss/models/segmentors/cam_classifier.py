"""CAM classifier: a segmentor trained on image-level labels only."""
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from mmwsss.utils.cam_ops import cam_keys, normalise_cam
from ..heads.cam_head import CAMHead

__all__ = ['CAMClassifier']


@MODELS.register_module()
class CAMClassifier(BaseSegmentor):
    """Backbone + CAM head, trained with image labels only.

    ``predict`` returns a CAM-based segmentation so that ``tools/test.py``
    with mmseg's ``IoUMetric`` works unchanged: the normalised CAM of the
    present classes is compared with a constant background score
    ``test_cfg.bg_threshold``.

    ``test_cfg`` keys:

    - ``bg_threshold`` (float): background score. Defaults to 0.15.
    - ``use_gt_labels`` (bool): keep the classes of ``gt_img_labels`` when
      the data samples have them. Defaults to True.
    - ``conf_th`` (float): otherwise a class is present when
      ``sigmoid(z) >= conf_th`` [inferred]. Defaults to 0.5.
    - ``flip`` (bool): add the horizontally flipped CAM. Defaults to False.
    - ``with_cam`` (bool): also store ``pred_cam`` / ``cam_keys`` for the
      ``CAMSweepMetric``. Defaults to True.

    Args:
        backbone (dict): Backbone config.
        cam_head (dict): CAM head config.
        train_cfg (dict, optional): Unused, kept for the mmseg interface.
        test_cfg (dict, optional): See above.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 cam_head: ConfigType,
                 neck: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.cam_head: CAMHead = MODELS.build(cam_head)
        self.num_classes = self.cam_head.num_classes
        self.train_cfg = train_cfg or {}
        self.test_cfg = dict(
            bg_threshold=0.15,
            use_gt_labels=True,
            conf_th=0.5,
            flip=False,
            with_cam=True)
        self.test_cfg.update(test_cfg or {})
        self.align_corners = False

    # ------------------------------------------------------------ features
    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone (+ neck) features."""
        x = self.backbone(inputs)
        if self.neck is not None:
            x = self.neck(x)
        return x

    def extract_cam(self, inputs: Tensor) -> Tensor:
        """Pre-ReLU CAM logits A, shape (B, K, h, w)."""
        return self.cam_head(self.extract_feat(inputs))

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """CAM logits at input resolution (bilinear)."""
        cam = self.extract_cam(inputs)
        return F.interpolate(
            cam, size=inputs.shape[2:], mode='bilinear', align_corners=False)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tuple[Tensor, Tensor]:
        """Network forward: (CAM logits, image logits)."""
        return self.cam_head.cam_and_logits(self.extract_feat(inputs))

    # ------------------------------------------------------------ training
    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Multi-label classification loss from image labels."""
        return self.cam_head.loss(self.extract_feat(inputs), data_samples)

    # ------------------------------------------------------------ inference
    def _present(self, logits: Tensor, data_samples: OptSampleList) -> Tensor:
        """(B, K) bool presence mask: GT labels or confident predictions."""
        cfg = self.test_cfg
        if (cfg['use_gt_labels'] and data_samples is not None
                and all('gt_img_labels' in ds for ds in data_samples)):
            return torch.stack([ds.gt_img_labels for ds in data_samples
                                ]).to(logits.device) > 0.5
        return torch.sigmoid(logits) >= cfg['conf_th']

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """CAM-based segmentation (background threshold)."""
        cam, logits = self._forward(inputs)
        cam = F.relu(cam)
        if self.test_cfg['flip']:
            cam_f, logits_f = self._forward(inputs.flip(-1))
            cam = cam + F.relu(cam_f).flip(-1)
            logits = (logits + logits_f) / 2
        present = self._present(logits, data_samples)
        cam = F.interpolate(
            cam, size=inputs.shape[2:], mode='bilinear', align_corners=False)
        cam = normalise_cam(cam) * present[:, :, None, None].to(cam)
        bg = torch.full_like(cam[:, :1], float(self.test_cfg['bg_threshold']))
        seg_logits = torch.cat([bg, cam], dim=1)
        results = self.postprocess_result(seg_logits, data_samples)
        if self.test_cfg['with_cam']:
            for i, ds in enumerate(results):
                keys = cam_keys(present[i])
                ds.pred_cam = PixelData(data=ds.seg_logits.data[keys[1:]])
                ds.cam_keys = keys
        return results
