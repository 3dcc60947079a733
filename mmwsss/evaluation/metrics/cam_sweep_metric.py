"""Threshold-sweep CAM metric (and ``png`` mode for label maps)."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS
from torch import Tensor

from mmwsss.utils.checks import check_choices
from mmwsss.utils.fileio import atomic_save_json, check_writable_dir
from ..functional import (format_report, label_confusion, summarize_confusion,
                          sweep_confusion, thresholds_from)

__all__ = ['CAMSweepMetric']


def _get(sample, key: str):
    """``sample[key]`` for dicts and data elements (None if absent)."""
    if isinstance(sample, dict):
        return sample.get(key, None)
    return getattr(sample, key, None)


def _data(x):
    """Unwrap ``PixelData`` / ``{'data': ...}`` to its tensor."""
    if x is None:
        return None
    if isinstance(x, dict):
        return x.get('data', None)
    if hasattr(x, 'data') and not isinstance(x, (Tensor, np.ndarray)):
        return x.data
    return x


def _tensor(x, device=None) -> Tensor:
    if isinstance(x, Tensor):
        return x if device is None else x.to(device)
    return torch.as_tensor(np.asarray(x), device=device)


@METRICS.register_module()
class CAMSweepMetric(BaseMetric):
    """CAM evaluation with a background-threshold sweep.

    For every threshold ``t`` the label is ``keys[argmax(concat([t],
    hr_cam))]`` (ties to background); one int64 ``(T, C, C)`` confusion
    tensor is summed per batch (small DDP payload). ``compute_metrics``
    picks the threshold with the best mIoU (the lowest one on ties) and
    logs the per-class table (IoU, FP, FN, FP_BG, FP_FG at that threshold)
    and the mIoU(t) curve.

    Inputs per data sample (a dict, as MMEngine passes them, or a data
    element):

    * ``mode='sweep'``: ``<cam_key>`` (default ``pred_cam``): the
      max-normalised CAMs ``(|P|, H, W)`` as a tensor / array, as
      ``PixelData`` / ``{'data': ...}``, or as a CAM-file dict
      ``{'hr_cam': ..., 'keys': ...}``; ``cam_keys`` ``(|P| + 1,)`` (or
      ``keys`` inside the dict). Without keys the maps must cover all
      classes: K maps (keys ``0..K``) or C maps whose channel 0 is dropped
      (e.g. ``cam_key='seg_logits'`` of ``CAMClassifier``, whose channels
      1..K must then be max-normalised CAMs).
    * ``mode='png'``: ``pred_sem_seg`` (``{'data': (1, H, W)}``), no sweep.
    * both: ``gt_sem_seg`` (``{'data': (1, H, W)}``).

    Returned values: ``mIoU`` in **percent** (like mmseg ``IoUMetric``),
    ``FP``, ``FN``, ``FP_BG``, ``FP_FG`` as **fractions** in [0, 1] (means
    over the foreground classes, like the RS+EPM tables),
    ``best_thr`` (sweep mode), and with ``over_under=True`` ``over_thr``,
    ``over_mIoU``, ``under_thr``, ``under_mIoU`` (mIoU in percent). The
    full summary of the last evaluation is kept in ``self.last_summary``.

    Args:
        mode (str): ``'sweep'`` (CAMs) or ``'png'`` (label maps).
            Defaults to 'sweep'.
        thresholds (Sequence[float], optional): Explicit thresholds;
            overrides ``thr_start`` / ``thr_end`` / ``thr_step``.
        thr_start (float): Defaults to 0.05.
        thr_end (float): Inclusive. Defaults to 0.75.
        thr_step (float): Defaults to 0.05.
        num_classes (int, optional): C incl. background; defaults to
            ``len(dataset_meta['classes'])``.
        ignore_index (int): Defaults to 255.
        average (str): ``'mean'`` (over all C classes, official) or
            ``'nanmean'`` (skip classes absent from GT and prediction).
            Defaults to 'mean'.
        over_under (bool): Also report the thresholds whose FP is closest
            to 1.6x / 0.6x FP(best) (Puzzle-CAM 'rw' mode). Defaults to
            False.
        pred_ignore (str): ``png`` mode: predicted ``ignore_index`` pixels
            count as misses of their GT class (``'miss'``, as mmseg
            ``IoUMetric``) or are skipped (``'skip'``). Defaults to 'miss'.
        cam_key (str): Data-sample field holding the CAMs.
            Defaults to 'pred_cam'.
        keys_key (str): Data-sample field holding the keys.
            Defaults to 'cam_keys'.
        resize_gt_to_cam (bool): If the CAM is smaller than the GT (e.g.
            the stride-4 ``cam``), nearest-resize the GT to it. This is a
            fast *monitoring* mode and its numbers are **not reportable**.
            Defaults to False (a size mismatch raises).
        out_file (str, optional): Also write the full summary (per-class
            table, mIoU(t) curve) as JSON there (rank 0, atomically).
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 mode: str = 'sweep',
                 thresholds: Optional[Sequence[float]] = None,
                 thr_start: float = 0.05,
                 thr_end: float = 0.75,
                 thr_step: float = 0.05,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
                 average: str = 'mean',
                 over_under: bool = False,
                 pred_ignore: str = 'miss',
                 cam_key: str = 'pred_cam',
                 keys_key: str = 'cam_keys',
                 resize_gt_to_cam: bool = False,
                 out_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        check_choices(
            mode=(mode, ('sweep', 'png')),
            average=(average, ('mean', 'nanmean')),
            pred_ignore=(pred_ignore, ('miss', 'skip')))
        self.mode = mode
        if thresholds is not None:
            self.thresholds = [float(t) for t in thresholds]
        else:
            self.thresholds = thresholds_from(thr_start, thr_end, thr_step)
        if mode == 'sweep' and not all(0.0 <= t <= 1.0
                                       for t in self.thresholds):
            raise ValueError(
                f'the background thresholds (--thr-start / --thr-end, '
                f'thresholds) must be in [0, 1] (the maps are max-normalised)'
                f', got {self.thresholds[0]} .. {self.thresholds[-1]}.')
        if out_file:
            check_writable_dir(
                osp.dirname(osp.abspath(out_file)),
                f'the folder of the report file {out_file} (--out)')
        self.num_classes, self.ignore_index = num_classes, ignore_index
        # reporting, png-mode and input-field options
        self.average, self.over_under = average, over_under
        self.pred_ignore, self.out_file = pred_ignore, out_file
        self.cam_key, self.keys_key = cam_key, keys_key
        self.resize_gt_to_cam = resize_gt_to_cam
        self.last_summary: Optional[Dict] = None
        self._warned_resize = False

    # ------------------------------------------------------------------
    def _num_classes(self) -> int:
        if self.num_classes is not None:
            return int(self.num_classes)
        meta = self.dataset_meta or {}
        if 'classes' not in meta:
            raise ValueError('CAMSweepMetric needs num_classes or '
                             "dataset_meta['classes'].")
        return len(meta['classes'])

    def _class_names(self, C: int) -> List[str]:
        meta = self.dataset_meta or {}
        names = meta.get('classes', None)
        if names is not None and len(names) == C:
            return list(names)
        return [str(i) for i in range(C)]

    def _sample_cam(self, sample, C: int):
        raw = _get(sample, self.cam_key)
        if raw is None:
            raise KeyError(f'data sample has no "{self.cam_key}" (CAM) '
                           f'field; got keys {sorted(_keys(sample))}.')
        keys = None
        if isinstance(raw, dict) and 'hr_cam' in raw:
            keys = raw.get('keys', None)
            cam = raw['hr_cam']
        else:
            cam = _data(raw)
            if isinstance(raw, dict):
                keys = raw.get('keys', raw.get(self.keys_key, None))
        if keys is None:
            keys = _get(sample, self.keys_key)
        cam = _tensor(cam)
        if keys is None:
            if cam.ndim == 3 and cam.shape[0] == C:
                cam = cam[1:]
            if cam.ndim != 3 or cam.shape[0] != C - 1:
                raise ValueError(
                    f'no "{self.keys_key}" given and the CAM has shape '
                    f'{tuple(cam.shape)}; without keys it needs {C - 1} '
                    f'(or {C}) channels.')
            keys = torch.arange(C)
        keys = _tensor(keys, cam.device).long().reshape(-1)
        return cam, keys

    def _sample_gt(self, sample, device) -> Tensor:
        gt = _data(_get(sample, 'gt_sem_seg'))
        if gt is None:
            raise KeyError('data sample has no "gt_sem_seg" field.')
        gt = _tensor(gt, device)
        if gt.ndim == 3:
            gt = gt[0]
        return gt

    def _maybe_resize_gt(self, gt: Tensor, size) -> Tensor:
        if tuple(gt.shape) == tuple(size) or not self.resize_gt_to_cam:
            return gt
        if not self._warned_resize:
            print_log(
                'CAMSweepMetric: GT is nearest-resized to the CAM size '
                '(monitoring mode, numbers are not reportable).',
                logger='current')
            self._warned_resize = True
        return F.interpolate(
            gt[None, None].float(), size=tuple(size),
            mode='nearest')[0, 0].long()

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Accumulate one summed confusion tensor for the batch.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Model outputs with GT.
        """
        C = self._num_classes()
        total = None
        for sample in data_samples:
            name = _get(sample, 'img_path') or ''
            try:
                if self.mode == 'sweep':
                    cam, keys = self._sample_cam(sample, C)
                    gt = self._maybe_resize_gt(
                        self._sample_gt(sample, cam.device), cam.shape[-2:])
                    conf = sweep_confusion(cam, keys, gt, self.thresholds, C,
                                           self.ignore_index)
                else:
                    pred = _data(_get(sample, 'pred_sem_seg'))
                    if pred is None:
                        raise KeyError(
                            'data sample has no "pred_sem_seg" field.')
                    pred = _tensor(pred)
                    gt = self._sample_gt(sample, pred.device)
                    conf = label_confusion(pred, gt, C, self.ignore_index,
                                           self.pred_ignore)
            except (KeyError, ValueError) as e:
                raise type(e)(f'{name}: {e}' if name else str(e)) from e
            conf = conf.cpu()
            total = conf if total is None else total + conf
        if total is not None:
            self.results.append((total, len(data_samples)))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Sum the batch confusions and derive the metrics.

        Args:
            results (list): ``(confusion, number of images)`` per batch; the
                confusions are ``(T, C, C)`` (or ``(C, C[+1])``) tensors.

        Returns:
            dict[str, float]: ``mIoU`` (%), ``FP``, ``FN``, ``FP_BG``,
            ``FP_FG`` (fractions), ``best_thr`` (sweep), ``ignored`` (png
            mode with ``pred_ignore='miss'``: the share of valid GT pixels
            predicted ``ignore_index``) and the over/under entries when
            enabled.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if not results:
            raise ValueError('CAMSweepMetric received no samples.')
        conf = torch.stack([torch.as_tensor(r[0]) for r in results]).sum(0)
        num_images = int(sum(r[1] for r in results))
        C = conf.shape[-2]
        summary = summarize_confusion(
            conf,
            thresholds=self.thresholds if self.mode == 'sweep' else None,
            class_names=self._class_names(C),
            average=self.average,
            over_under=self.over_under)
        self.last_summary = summary
        print_log('\n' + format_report(summary), logger=logger)
        if self.out_file:
            atomic_save_json(
                self.out_file,
                dict(
                    summary,
                    num_images=num_images,
                    average=self.average,
                    mode=self.mode,
                    pred_ignore=self.pred_ignore
                    if self.mode == 'png' else None),
                allow_nan=False)

        def _r(x, scale=1.0, nd=4):
            return float('nan') if x is None else round(x * scale, nd)

        metrics = OrderedDict()
        metrics['mIoU'] = _r(summary['mIoU'], 100.0, 2)
        if self.mode == 'sweep':
            metrics['best_thr'] = summary['best_thr']
        for k in ('FP', 'FN', 'FP_BG', 'FP_FG'):
            metrics[k] = _r(summary[k])
        if 'ignored' in summary:
            metrics['ignored'] = _r(summary['ignored'])
        if self.mode == 'sweep' and self.over_under:
            for name in ('over', 'under'):
                metrics[f'{name}_thr'] = summary[name]['thr']
                metrics[f'{name}_mIoU'] = _r(summary[name]['mIoU'], 100.0, 2)
        return dict(metrics)


def _keys(sample) -> list:
    if isinstance(sample, dict):
        return list(sample.keys())
    if hasattr(sample, 'keys'):
        try:
            return list(sample.keys())
        except TypeError:
            pass
    return []
