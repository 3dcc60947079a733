"""RS+EPM seed export: ``RSEPM.predict_seed`` over a dataset, written as CAM
files (spec ``rs_epm.md`` §8 without the CRF, §9 step 1).

The multi-stage RS+EPM pipeline replaces the CAM of the AffinityNet-style
stages by the single-stage seed (§9 [code: repo README]). The seed files
therefore use the CAM file format of ``tools/cam/infer_cams.py``
(``docs/dev_contracts.md`` "CAM files"), so ``tools/cam/eval_cams.py``,
``tools/pseudo_labels/make_affinity_labels.py``, ``random_walk.py`` and
``export_pseudo_labels.py`` consume them unchanged:

- ``keys`` int64 ``(|P| + 1,)`` = ``[0] + [k + 1 for k in P]``, P = the
  present classes returned by ``predict_seed`` (the GT image labels, or
  ``mean sigmoid(z) >= conf_th`` without labels);
- ``hr_cam`` ``(|P|, H, W)``: the seed of the present classes exactly as
  ``predict_seed`` returns it (mean over ``test_cfg.scales`` x flip of the
  softmax decoder map, each class divided by its max + 1e-5) [code];
- ``cam`` float32 ``(|P|, ⌈H/4⌉, ⌈W/4⌉)``: the seed resized to stride 4
  (``cam_resize``, default ``'area'`` = mean over each 4 x 4 cell) and
  max-normalised again (:func:`normalise_cam`) [inferred: the seed is
  computed at full resolution, the random walk needs stride 4].

With bg = ``(1 - max_c seed_c) ** bg_gamma`` (§8) a pixel is foreground
exactly when ``max_c seed_c > t*`` with ``t* = (1 - t*) ** bg_gamma``, so
the constant-threshold sweep of ``eval_cams.py`` at ``t* = 0.382``
(bg_gamma 2) gives the spec's seed without CRF (see
:func:`bg_gamma_threshold`).

Batching, image decoding workers, resume (existing files skipped, stale temp
files removed), atomic writes and the progress bar are the machinery of
:func:`mmwsss.apis.cam_inference.infer_dataset_cams`, reused here.
"""
import os.path as osp
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cam_inference import (_BatchLoader, _make_batches, _model_device,
                            _no_collate, _norm_params, _pending_infos,
                            normalise_cam, strided_size)
from .io import DataFileError, atomic_save_npz

__all__ = ['infer_dataset_seeds', 'seed_to_cam_arrays', 'bg_gamma_threshold']

#: test_cfg keys of RSEPM that the export may override
_TEST_KEYS = ('scales', 'flip', 'conf_th')
_MISSING = object()


def bg_gamma_threshold(bg_gamma: float = 2.0, tol: float = 1e-12) -> float:
    """Constant background threshold equivalent to ``bg = (1 - m) **
    bg_gamma``.

    ``argmax([(1 - m) ** g, seeds])`` picks a foreground class exactly when
    ``m = max seeds > (1 - m) ** g``; the left side increases and the right
    side decreases with ``m``, so this is ``m > t*`` with the unique root
    ``t* = (1 - t*) ** g`` in (0, 1) (0.381966 = (3 - √5) / 2 for g = 2).

    Args:
        bg_gamma (float): Exponent (> 0). Defaults to 2.0 (spec §8).
        tol (float): Bisection tolerance. Defaults to 1e-12.

    Returns:
        float: ``t*``.
    """
    if bg_gamma <= 0:
        raise ValueError(f'bg_gamma must be > 0, got {bg_gamma}.')
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if mid > (1 - mid)**bg_gamma:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def seed_to_cam_arrays(seed: Tensor,
                       present: Tensor,
                       cam_resize: str = 'area',
                       eps: float = 1e-5) -> Dict[str, Tensor]:
    """CAM-file arrays of one image's seed.

    Args:
        seed (Tensor): ``(K, H, W)`` seed maps (``RSEPM.predict_seed``).
        present (Tensor): ``(K,)`` bool present classes.
        cam_resize (str): Resize mode to the stride-4 grid: ``'area'``
            (mean over the cells, default), ``'bilinear'``
            (``align_corners=False``) or ``'nearest'``.
        eps (float): Epsilon of the max normalisation of ``cam``.

    Returns:
        dict[str, Tensor]: ``keys`` int64 ``(|P| + 1,)``, ``cam`` fp32
        ``(|P|, ⌈H/4⌉, ⌈W/4⌉)``, ``hr_cam`` fp32 ``(|P|, H, W)``.
    """
    if seed.ndim != 3:
        raise ValueError(f'seed must be (K, H, W), got {tuple(seed.shape)}.')
    if present.shape != seed.shape[:1]:
        raise ValueError(f'present must be ({seed.shape[0]},), got '
                         f'{tuple(present.shape)}.')
    if cam_resize not in ('area', 'bilinear', 'nearest'):
        raise ValueError(f"cam_resize must be 'area', 'bilinear' or "
                         f"'nearest', got {cam_resize!r}.")
    H, W = seed.shape[-2:]
    idx = present.to(torch.bool).nonzero(as_tuple=True)[0]
    keys = torch.cat([idx.new_zeros(1), idx + 1]).to(torch.int64)
    hr = seed[idx].float()
    size4 = strided_size(H, W, 4)
    if hr.shape[0] == 0:
        cam = hr.new_zeros((0, ) + size4)
    else:
        kwargs = dict(align_corners=False) if cam_resize == 'bilinear' else {}
        cam = F.interpolate(hr[None], size=size4, mode=cam_resize, **kwargs)[0]
        cam = normalise_cam(cam, eps)
    return dict(keys=keys, cam=cam, hr_cam=hr)


@contextmanager
def _test_cfg_overrides(model: nn.Module, **values) -> Iterator[None]:
    """Temporarily set ``model.test_cfg[k] = v`` for the non-None values."""
    values = {k: v for k, v in values.items() if v is not None}
    cfg = getattr(model, 'test_cfg', None)
    if values and cfg is None:
        raise AttributeError(f'{type(model).__name__} has no test_cfg to '
                             f'override {sorted(values)}.')
    old = {k: cfg.get(k, _MISSING) for k in values} if values else {}
    try:
        for k, v in values.items():
            cfg[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is _MISSING:
                cfg.pop(k, None)
            else:
                cfg[k] = v


def infer_dataset_seeds(model: nn.Module,
                        dataset,
                        out_dir: str,
                        scales: Optional[Sequence[float]] = None,
                        flip: Optional[bool] = None,
                        use_gt_labels: bool = True,
                        conf_th: Optional[float] = None,
                        cam_resize: str = 'area',
                        workers: int = 0,
                        batch_size: int = 1,
                        hr_dtype: str = 'float32',
                        amp: bool = False,
                        mean: Optional[Sequence[float]] = None,
                        std: Optional[Sequence[float]] = None,
                        channel_order: Optional[str] = None,
                        device: Optional[Union[str, torch.device]] = None,
                        skip_existing: bool = True,
                        compress: bool = False,
                        writer_threads: int = 2,
                        progress: bool = True) -> Dict[str, int]:
    """Write ``<out_dir>/<img_id>.npz`` seed files for a dataset (resumable).

    For every batch of same-size images: uint8 RGB -> normalised tensor
    (the model's data pre-processor mean / std and channel order, like
    :func:`mmwsss.apis.multiscale_cam`) -> ``model.predict_seed(inputs,
    img_labels)`` -> :func:`seed_to_cam_arrays` -> atomic ``.npz``.

    Args:
        model (nn.Module): Has ``predict_seed(inputs, img_labels=None) ->
            (seed (B, K, H, W), present (B, K) bool)`` and a ``test_cfg``
            (``RSEPM``); put in eval mode.
        dataset: Dataset object, dataset config or list of data infos (see
            :func:`mmwsss.apis.dataset_infos`).
        out_dir (str): Output folder (created).
        scales (Sequence[float], optional): Overrides
            ``model.test_cfg['scales']`` during the export (spec §8 default
            (1.0, 0.5, 1.5, 2.0) lives in the model config).
        flip (bool, optional): Overrides ``model.test_cfg['flip']``.
        use_gt_labels (bool): Pass the infos' ``img_labels`` as the present
            classes (train / train_aug, spec §8); if False the model
            predicts them (``mean sigmoid(z) >= conf_th``). Defaults to True.
        conf_th (float, optional): Overrides ``model.test_cfg['conf_th']``
            (spec 0.34).
        cam_resize (str): Stride-4 resize of the seed, see
            :func:`seed_to_cam_arrays`. Defaults to 'area'.
        workers (int): DataLoader processes decoding the images.
        batch_size (int): Same-size images per ``predict_seed`` call.
        hr_dtype (str): ``'float32'`` or ``'float16'`` for ``hr_cam``.
        amp (bool): Autocast the forward passes. Defaults to False.
        mean, std, channel_order, device: See
            :func:`mmwsss.apis.multiscale_cam`.
        skip_existing (bool): Resume: skip existing files. Defaults to True.
        compress (bool): ``np.savez_compressed``. Defaults to False.
        writer_threads (int): Background threads writing the files.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        dict[str, int]: ``total``, ``written``, ``skipped``,
        ``tmp_removed`` and ``no_class`` (images written without any
        present class: all background).
    """
    if not hasattr(model, 'predict_seed'):
        raise TypeError(f'{type(model).__name__} has no predict_seed(); the '
                        f'seed export needs an RSEPM model.')
    if hr_dtype not in ('float32', 'float16'):
        raise ValueError(f"hr_dtype must be 'float32' or 'float16', got "
                         f'{hr_dtype!r}.')
    if cam_resize not in ('area', 'bilinear', 'nearest'):
        raise ValueError(f"cam_resize must be 'area', 'bilinear' or "
                         f"'nearest', got {cam_resize!r}.")
    items, stats = _pending_infos(dataset, out_dir, skip_existing,
                                  use_gt_labels)
    stats['no_class'] = 0
    if not items:
        return stats

    model.eval()
    device = torch.device(device) if device is not None else _model_device(
        model)
    mean, std, channel_order = _norm_params(model, mean, std, channel_order)
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    amp_ctx = (
        torch.autocast(device_type=device.type) if amp else nullcontext())
    loader = torch.utils.data.DataLoader(
        _BatchLoader(_make_batches(items, batch_size, workers)),
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        collate_fn=_no_collate)
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(items))
    np_hr_dtype = np.float16 if hr_dtype == 'float16' else np.float32
    pending: List[Future] = []
    limit = 4 * max(1, writer_threads) * max(1, batch_size)
    with _test_cfg_overrides(
            model,
            scales=tuple(scales) if scales is not None else None,
            flip=flip,
            conf_th=conf_th), ThreadPoolExecutor(max(1,
                                                     writer_threads)) as pool:
        for batch in loader:
            if batch['error'] is not None:
                raise DataFileError(batch['error'])
            imgs = batch['imgs']
            if channel_order == 'bgr':
                imgs = np.ascontiguousarray(imgs[..., ::-1])
            x = torch.from_numpy(np.ascontiguousarray(imgs)).to(device)
            x = (x.permute(0, 3, 1, 2).float() - mean_t) / std_t
            labels = None
            if use_gt_labels:
                labels = torch.from_numpy(
                    np.stack([
                        np.asarray(it['img_labels'],
                                   dtype=np.float32).reshape(-1)
                        for it in batch['items']
                    ])).to(device)
            with torch.no_grad(), amp_ctx:
                seed, present = model.predict_seed(x, labels)
            seed = seed.float()
            if seed.shape[0] != x.shape[0] or seed.shape[-2:] != x.shape[-2:]:
                raise ValueError(
                    f'predict_seed must return (B, K, H, W) = '
                    f'({x.shape[0]}, K, {x.shape[2]}, {x.shape[3]}), got '
                    f'{tuple(seed.shape)}.')
            if labels is not None and labels.shape[1] != seed.shape[1]:
                raise ValueError(
                    f'img_labels have {labels.shape[1]} classes but the '
                    f'model predicts {seed.shape[1]}.')
            for j, it in enumerate(batch['items']):
                res = seed_to_cam_arrays(seed[j], present[j], cam_resize)
                if res['hr_cam'].shape[0] == 0:
                    stats['no_class'] += 1
                arrays = dict(
                    keys=res['keys'].cpu().numpy(),
                    cam=res['cam'].cpu().numpy().astype(np.float32),
                    hr_cam=res['hr_cam'].cpu().numpy().astype(np_hr_dtype))
                path = osp.join(out_dir, it['img_id'] + '.npz')
                pending.append(
                    pool.submit(atomic_save_npz, path, compress, **arrays))
            while len(pending) > limit:  # bound memory
                pending.pop(0).result()
                stats['written'] += 1
            if bar is not None:
                bar.update(len(batch['items']))
        for fut in pending:
            fut.result()
            stats['written'] += 1
    if bar is not None:
        print()
    return stats
