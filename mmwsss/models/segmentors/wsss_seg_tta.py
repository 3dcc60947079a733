"""Test-time augmentation wrapper with the official merge and dense-CRF
post-processing (segmentation stage)."""
from typing import List, Optional

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors.seg_tta import SegTTAModel
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList

from mmwsss.utils.checks import check_choices

__all__ = ['WSSSSegTTAModel']

MERGE_MODES = ('mean_softmax', 'logit_sum')


@MODELS.register_module()
class WSSSSegTTAModel(SegTTAModel):
    """mmseg ``SegTTAModel`` with a choice of merge and an optional CRF.

    Every augmented prediction's ``seg_logits`` has already been resized to
    the original image size by the segmentor (bilinear) and un-flipped.

    - ``merge='mean_softmax'``: mean of the softmaxes (mmseg default);
    - ``merge='logit_sum'``: logits **summed** over all views, then softmax
      (the official Puzzle-CAM test).

    With ``crf`` (e.g. ``dict(type='DenseCRF', preset='softmax')``) the
    merged class probabilities are refined by a dense CRF on the original
    uint8 RGB image (read from ``img_path``, so the test pipeline must not
    change the image content other than resizing/flipping) and the
    prediction is the argmax of the CRF marginals. The CRF runs on all
    ``C`` classes (the present classes of a test image are unknown).

    With ``keep_th`` (RS+EPM's multi-stage test: 0.05) only the classes
    whose merged probability reaches ``keep_th`` somewhere in the image
    (background included) are kept: the CRF runs on their probabilities
    (not renormalised) and the prediction is the argmax over them; the
    other classes get probability 0 in ``seg_logits`` [code]. If no class
    reaches it, the class with the highest probability is kept.

    With ``use_gt_labels`` (a diagnostic, not a weakly-supervised test) only
    the background and the classes of the image's labels
    (``gt_img_labels``; the test dataset needs a ``label_source`` such as
    ``'json'``) are kept, like the CAM tests with ``use_gt_labels``: the
    seg stage scored with the image labels the CAM baseline is scored with,
    so a gap between the two splits into "which classes" and "where".

    Used through ``tools/test.py --tta`` (``tta_model`` / ``tta_pipeline``
    of the config); a single-scale CRF-only test is a ``tta_pipeline`` with
    one scale and no flip.

    Args:
        module (dict): The segmentor config (filled in by tools/test.py).
        merge (str): ``'mean_softmax'`` or ``'logit_sum'``.
            Defaults to 'logit_sum'.
        crf (dict, optional): Refiner config (:class:`DenseCRF`), or None.
        keep_th (float, optional): Keep only the classes with a merged
            probability >= ``keep_th`` (in [0, 1]). Defaults to None (all).
        use_gt_labels (bool): Keep only the background and the classes of
            ``gt_img_labels`` (class ``k`` of the labels is output channel
            ``k + 1``). Defaults to False.
        data_preprocessor (dict, optional): See ``BaseTTAModel``.
    """

    def __init__(self,
                 module: ConfigType,
                 merge: str = 'logit_sum',
                 crf: Optional[ConfigType] = None,
                 keep_th: Optional[float] = None,
                 use_gt_labels: bool = False,
                 data_preprocessor: Optional[ConfigType] = None) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        check_choices(merge=(merge, MERGE_MODES))
        if keep_th is not None and not 0.0 <= float(keep_th) <= 1.0:
            raise ValueError(f'keep_th must be in [0, 1], got {keep_th}.')
        self.merge = merge
        self.keep_th = keep_th
        self.use_gt_labels = bool(use_gt_labels)
        self.crf = MODELS.build(crf) if isinstance(crf, dict) else crf

    def _merge_probs(self, data_samples: SampleList) -> torch.Tensor:
        logits = torch.stack([ds.seg_logits.data for ds in data_samples])
        if self.module.out_channels == 1:
            return logits.sigmoid().mean(0)
        if self.merge == 'logit_sum':
            return logits.sum(0).softmax(dim=0)
        return logits.softmax(dim=1).mean(0)

    def _crf(self, probs: torch.Tensor, img_path: str) -> torch.Tensor:
        from mmwsss.utils.fileio import load_rgb
        image = load_rgb(img_path)
        if image.shape[:2] != tuple(probs.shape[-2:]):
            raise ValueError(
                f'CRF post-processing: image {img_path} has size '
                f'{image.shape[:2]} but the prediction has '
                f'{tuple(probs.shape[-2:])}; the test pipeline must keep the '
                f'original size in ori_shape.')
        q = self.crf.refine_probs(image, probs.detach().cpu().numpy())
        return torch.from_numpy(np.ascontiguousarray(q)).to(probs.device)

    def _gt_keep(self, sample, num_channels: int) -> torch.Tensor:
        """Background + the classes of ``sample.gt_img_labels``."""
        labels = getattr(sample, 'gt_img_labels', None)
        if labels is None:
            raise ValueError(
                f'use_gt_labels: {sample.img_path} has no gt_img_labels; '
                f"set the test dataset's label_source (e.g. 'json').")
        labels = torch.as_tensor(labels).flatten() > 0.5
        if labels.numel() != num_channels - 1:
            raise ValueError(
                f'use_gt_labels: {sample.img_path} has {labels.numel()} '
                f'image labels but the model outputs {num_channels} classes '
                f'(background + {num_channels - 1} expected).')
        return torch.cat([labels.new_ones(1), labels])

    def _classify(self, probs: torch.Tensor, sample):
        """(probabilities or CRF marginals, argmax labels) of the kept
        classes (all, without ``keep_th`` / ``use_gt_labels``)."""
        keep = torch.ones(
            probs.shape[0], dtype=torch.bool, device=probs.device)
        if self.use_gt_labels:
            keep = self._gt_keep(sample, probs.shape[0]).to(probs.device)
        if self.keep_th is not None:
            peak = probs.flatten(1).amax(dim=1)
            strong = keep & (peak >= self.keep_th)
            if not bool(strong.any()):
                strong[torch.where(keep, peak, -1.0).argmax()] = True
            keep = strong
        keys = keep.nonzero(as_tuple=True)[0]
        sub = probs[keys]
        if self.crf is not None:
            sub = self._crf(sub, sample.img_path)
        full = torch.zeros_like(probs)
        full[keys] = sub.to(full)
        return full, keys[sub.argmax(dim=0)]

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Merge the augmented predictions of every image.

        Args:
            data_samples_list (list[list[SegDataSample]]): Per image, the
                predictions of all augmentations.

        Returns:
            list[SegDataSample]: ``pred_sem_seg`` and ``seg_logits`` (the
            merged probabilities, or the CRF marginals) per image.
        """
        predictions = []
        for data_samples in data_samples_list:
            probs = self._merge_probs(data_samples)
            first = data_samples[0]
            if self.module.out_channels == 1:
                pred = (
                    probs
                    > self.module.decode_head.threshold).to(probs).squeeze(0)
            else:
                probs, pred = self._classify(probs, first)
            out = data_samples[-1]
            out.set_data({
                'seg_logits':
                PixelData(data=probs),
                'pred_sem_seg':
                PixelData(data=pred[None] if pred.ndim == 2 else pred)
            })
            if hasattr(first, 'gt_sem_seg'):
                out.set_data({'gt_sem_seg': first.gt_sem_seg})
            out.set_metainfo({'img_path': first.img_path})
            predictions.append(out)
        return predictions
