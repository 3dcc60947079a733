# Copyright (c) mmwsss contributors. All rights reserved.
"""Multi-scale x flip CAMs (and RS+EPM seeds) of any CAM-producing model."""
from collections import OrderedDict
from contextlib import nullcontext
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from PIL import Image
from torch import Tensor

from mmwsss.utils.cam_ops import (cam_keys, check_scales, hr_cam_size,
                                  normalise_cam, scaled_size, strided_size)
from mmwsss.utils.checks import check_choices
from mmwsss.utils.fileio import DataFileError

__all__ = ['MultiScaleCAM']

SOURCES = ('cam', 'seed')


@MODELS.register_module()
class MultiScaleCAM(BaseTTAModel):
    """Multi-scale x flip class activation maps of a wrapped model.

    Like mmseg's ``SegTTAModel`` it wraps the model of a config
    (``module``); unlike it, the views are made here, from the decoded
    image of the plain test pipeline (``LoadWSSSImageFromFile`` +
    ``PackWSSSInputs``, no resize), and every view is normalised by the
    module's own data preprocessor. ``predict`` (``test_step``) fills, per
    data sample:

    - ``pred_cam`` (:class:`PixelData` ``(|P|, H, W)``): the maps of the
      present classes at the original size, max-normalised per class;
    - ``pred_cam_s4`` (:class:`PixelData` ``(|P|, ⌈H/4⌉, ⌈W/4⌉)``): the
      same at stride 4, max-normalised again;
    - ``cam_keys`` (int64 ``(|P| + 1,)``): ``[0] + [c + 1 for c in P]``;
    - ``cam_probs`` (``(K,)``): the image-level class probabilities.

    The present classes P are the image labels (``gt_img_labels``) with
    ``use_gt_labels``, else the classes with probability ``>= conf_th``.

    ``source='cam'`` (CAM classifiers, Puzzle-CAM, the RS+EPM classifier):
    for every scale ``s`` the image is resized to ``scaled_size(H, W, s)``
    (``resize_backend='pil'``: PIL bicubic on the uint8 image, as the
    official Puzzle-CAM; ``'torch'``: bilinear on the normalised tensor, as
    RS+EPM), stacked with its horizontal flip,
    ``R = relu(module.extract_cam(x))``, ``c_s = R + hflip(R_flip)``, and
    ``c_s`` is resized bilinearly (``align_corners=False``) to
    ``(⌈H/4⌉, ⌈W/4⌉)`` and to ``(16⌈H/16⌉, 16⌈W/16⌉)`` cropped to ``H x W``;
    both are summed over the scales (fp32) and max-normalised per present
    class. Probabilities: the mean of ``sigmoid(GAP(A))`` over the views.

    ``source='seed'`` (RS+EPM): ``module.predict_seed(x, labels, scales,
    flip, conf_th)`` on the normalised full image (it resizes the inputs
    itself, see :class:`RSEPM`); ``pred_cam`` is the seed of the present
    classes and ``pred_cam_s4`` its ``cam_resize`` resize to stride 4,
    max-normalised.

    Args:
        module (dict | nn.Module): The CAM-producing model.
        source (str): ``'cam'`` or ``'seed'``. Defaults to 'cam'.
        scales (Sequence[float], optional): Test scales (> 0). Defaults to
            (0.5, 1.0, 1.5, 2.0) for ``'cam'`` and to the module's
            ``test_cfg['scales']`` for ``'seed'``.
        flip (bool, optional): Add the horizontal flip. Defaults to True
            (``'cam'``) / the module's ``test_cfg['flip']`` (``'seed'``).
        resize_backend (str): ``'pil'`` or ``'torch'`` (``'cam'`` only).
            Defaults to 'pil'.
        size_rounding (str): ``'round'`` (Puzzle-CAM) or ``'int'`` (RS+EPM)
            for the scaled sizes (``'cam'`` only). Defaults to 'round'.
        use_gt_labels (bool): Present classes from the image labels.
            Defaults to True.
        conf_th (float, optional): Probability threshold of the predicted
            classes, in [0, 1]. Defaults to 0.5 (``'cam'``) / the module's
            ``test_cfg['conf_th']`` (``'seed'``).
        cam_resize (str): ``'seed'``: resize of the seed to stride 4,
            ``'area'``, ``'bilinear'`` or ``'nearest'``. Defaults to 'area'.
        amp (bool): Autocast the forward passes (accumulation stays fp32).
            Defaults to False.
        data_preprocessor (dict, optional): Unused (the module's is used).
    """

    def __init__(self,
                 module,
                 source: str = 'cam',
                 scales: Optional[Sequence[float]] = None,
                 flip: Optional[bool] = None,
                 resize_backend: str = 'pil',
                 size_rounding: str = 'round',
                 use_gt_labels: bool = True,
                 conf_th: Optional[float] = None,
                 cam_resize: str = 'area',
                 amp: bool = False,
                 data_preprocessor=None) -> None:
        super().__init__(module=module)
        check_choices(
            source=(source, SOURCES),
            resize_backend=(resize_backend, ('pil', 'torch')),
            cam_resize=(cam_resize, ('area', 'bilinear', 'nearest')))
        need = 'extract_cam' if source == 'cam' else 'predict_seed'
        if not hasattr(self.module, need):
            raise TypeError(f"{type(self.module).__name__} has no {need}(), "
                            f"needed by source={source!r}.")
        scaled_size(1, 1, 1.0, size_rounding)  # validates the rounding
        if scales is not None:
            check_scales(scales)
        if conf_th is not None and not 0.0 <= float(conf_th) <= 1.0:
            raise ValueError(f'conf_th must be in [0, 1], got {conf_th}.')
        self.source = source
        self.scales = None if scales is None else [float(s) for s in scales]
        self.flip = flip
        self.resize_backend = resize_backend
        self.size_rounding = size_rounding
        self.use_gt_labels = use_gt_labels
        self.conf_th = conf_th
        self.cam_resize = cam_resize
        self.amp = amp

    # ------------------------------------------------------------------
    def merge_preds(self, data_samples_list):
        """Not used: the views are made and merged in :meth:`test_step`."""
        raise NotImplementedError('MultiScaleCAM merges its views itself.')

    def _normalise(self, imgs: List[Tensor]) -> Tensor:
        """uint8 ``(3, H, W)`` images (loaded channel order) -> the model
        input ``(B, 3, H, W)`` through the module's data preprocessor."""
        return self.module.data_preprocessor(dict(inputs=imgs),
                                             False)['inputs']

    def _labels(self, samples, K: int) -> Optional[Tensor]:
        if not self.use_gt_labels:
            return None
        rows = []
        for ds in samples:
            if 'gt_img_labels' not in ds:
                raise DataFileError(
                    f'{ds.metainfo.get("img_path")}: no image labels '
                    f'(gt_img_labels); use predicted labels '
                    f'(use_gt_labels=False) for images without labels.')
            y = ds.gt_img_labels.float().reshape(-1)
            if K and y.numel() != K:
                raise DataFileError(
                    f'{ds.metainfo.get("img_path")}: the image labels have '
                    f'{y.numel()} classes but the model predicts {K}.')
            rows.append(y)
        return torch.stack(rows)

    def _multiscale_cam(self, imgs: List[Tensor]) -> Tuple[Tensor, ...]:
        """Summed ReLU CAMs at stride 4 and at full size, and the mean
        image probabilities, of same-size uint8 images."""
        H, W = imgs[0].shape[-2:]
        B = len(imgs)
        flip = True if self.flip is None else self.flip
        scales = self.scales or [0.5, 1.0, 1.5, 2.0]
        views = 2 if flip else 1
        size4, size_hr = strided_size(H, W, 4), hr_cam_size(H, W)
        device = next(self.module.parameters()).device
        amp = torch.autocast(device.type) if self.amp else nullcontext()
        cam4 = hr = prob_sum = full = None
        for s in scales:
            hs, ws = scaled_size(H, W, s, self.size_rounding)
            if self.resize_backend == 'pil':
                x = self._normalise([_pil_resize(im, (hs, ws)) for im in imgs])
            else:
                if full is None:
                    full = self._normalise(imgs)
                x = full if (hs, ws) == (H, W) else F.interpolate(
                    full, size=(hs, ws), mode='bilinear', align_corners=False)
            if flip:
                x = torch.cat([x, x.flip(-1)], dim=0)
            with amp:
                logits = self.module.extract_cam(x)
            logits = logits.float()
            K = logits.shape[1]
            p = torch.sigmoid(logits.mean(dim=(2, 3))).view(views, B, K).sum(0)
            r = F.relu(logits)
            c = r[:B] + r[B:].flip(-1) if flip else r
            c4 = F.interpolate(
                c, size=size4, mode='bilinear', align_corners=False)
            chr_ = F.interpolate(
                c, size=size_hr, mode='bilinear',
                align_corners=False)[..., :H, :W]
            if cam4 is None:
                cam4, hr, prob_sum = c4, chr_.contiguous(), p
            else:
                cam4, hr, prob_sum = cam4 + c4, hr + chr_, prob_sum + p
        return cam4, hr, prob_sum / (len(scales) * views)

    def _predict_group(self, imgs: List[Tensor], samples: list) -> None:
        """Fill the data samples of same-size images."""
        H, W = imgs[0].shape[-2:]
        for ds in samples:
            ori = tuple(ds.metainfo.get('ori_shape', (H, W))[:2])
            if ori != (H, W):
                raise DataFileError(
                    f'{ds.metainfo.get("img_path")}: the image is {H}x{W} '
                    f'but its ori_shape is {ori}; MultiScaleCAM needs the '
                    f'decoded image, use a test pipeline without resizing.')
        if self.source == 'cam':
            cam4, hr, probs = self._multiscale_cam(imgs)
            labels = self._labels(samples, cam4.shape[1])
            conf_th = 0.5 if self.conf_th is None else self.conf_th
            present = labels > 0.5 if labels is not None else \
                probs >= conf_th
            present = present.to(cam4.device)
            for j, ds in enumerate(samples):
                keys = cam_keys(present[j])
                sel = keys[1:] - 1
                _fill(ds, keys, normalise_cam(hr[j][sel]),
                      normalise_cam(cam4[j][sel]), probs[j])
            return
        x = self._normalise(imgs)
        cfg = self.module.test_cfg
        labels = self._labels(samples, 0)
        with torch.autocast(x.device.type) if self.amp else nullcontext():
            seed, present, probs = self.module.predict_seed(
                x,
                labels,
                scales=self.scales or cfg['scales'],
                flip=cfg['flip'] if self.flip is None else self.flip,
                conf_th=cfg['conf_th']
                if self.conf_th is None else self.conf_th,
                return_probs=True)
        seed = seed.float()
        if labels is not None and labels.shape[1] != seed.shape[1]:
            raise DataFileError(
                f'{samples[0].metainfo.get("img_path")}: the image labels '
                f'have {labels.shape[1]} classes but the model predicts '
                f'{seed.shape[1]}.')
        size4 = strided_size(H, W, 4)
        for j, ds in enumerate(samples):
            keys = cam_keys(present[j])
            hr_j = seed[j][keys[1:] - 1]
            if hr_j.shape[0] == 0:
                cam_j = hr_j.new_zeros((0, ) + size4)
            else:
                kw = dict(align_corners=False) \
                    if self.cam_resize == 'bilinear' else {}
                cam_j = normalise_cam(
                    F.interpolate(
                        hr_j[None], size=size4, mode=self.cam_resize, **kw)[0])
            _fill(ds, keys, hr_j, cam_j, probs[j])

    @torch.no_grad()
    def test_step(self, data: Dict) -> list:
        """Maps of a batch from the dataloader (images of any sizes; the
        same-size images are processed together).

        Args:
            data (dict): ``inputs`` (list of uint8 ``(3, H, W)`` tensors)
                and ``data_samples``.

        Returns:
            list[SegDataSample]: The data samples with the fields above.
        """
        inputs, samples = data['inputs'], data['data_samples']
        groups: 'OrderedDict[tuple, List[int]]' = OrderedDict()
        for i, img in enumerate(inputs):
            groups.setdefault(tuple(img.shape[-2:]), []).append(i)
        for idx in groups.values():
            self._predict_group([inputs[i] for i in idx],
                                [samples[i] for i in idx])
        return samples


def _pil_resize(img: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bicubic PIL resize of a uint8 ``(3, H, W)`` image (each channel on
    its own, so the channel order does not matter)."""
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    arr = img.permute(1, 2, 0).cpu().numpy()
    out = Image.fromarray(np.ascontiguousarray(arr)).resize(
        (size[1], size[0]), resample=Image.BICUBIC)
    return torch.from_numpy(np.asarray(out)).permute(2, 0, 1)


def _fill(ds, keys: Tensor, hr: Tensor, cam4: Tensor, probs: Tensor) -> None:
    ds.pred_cam = PixelData(data=hr)
    ds.pred_cam_s4 = PixelData(data=cam4)
    ds.cam_keys = keys
    ds.cam_probs = probs
