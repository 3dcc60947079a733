"""Multi-scale x flip CAM inference (spec ``cam_and_eval.md`` §2).

The model only needs ``extract_cam(inputs: Tensor(B, 3, H, W)) -> Tensor(B,
K, h, w)`` returning the pre-ReLU CAM logits ``A`` (``GAP(A)`` = image
logits), see ``docs/dev_contracts.md``.
"""
import os
import os.path as osp
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from .io import (DataFileError, atomic_save_npz, clean_tmp_files, image_size,
                 load_rgb)

__all__ = [
    'IMAGENET_MEAN', 'IMAGENET_STD', 'strided_size', 'scaled_size',
    'multiscale_cam', 'select_and_normalise', 'present_from_probs',
    'normalise_cam', 'infer_dataset_cams', 'dataset_infos'
]

#: ImageNet RGB mean / std on the 0..255 scale.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)

ImageBatch = Union[np.ndarray, Tensor, Sequence[np.ndarray]]


def strided_size(h: int, w: int, stride: int) -> Tuple[int, int]:
    """Size of an ``h x w`` map at ``stride``: ``(⌊(h-1)/s⌋+1, ⌊(w-1)/s⌋+1)``
    = ``(⌈h/s⌉, ⌈w/s⌉)``.

    Args:
        h (int): Height.
        w (int): Width.
        stride (int): Stride.

    Returns:
        tuple[int, int]: Strided size.
    """
    return (h - 1) // stride + 1, (w - 1) // stride + 1


def scaled_size(h: int,
                w: int,
                scale: float,
                rounding: str = 'round') -> Tuple[int, int]:
    """Image size at a test scale.

    Args:
        h (int): Height.
        w (int): Width.
        scale (float): Scale factor.
        rounding (str): ``'round'`` (Python ``round``, Puzzle-CAM) or
            ``'int'`` (truncation, RS+EPM). Defaults to 'round'.

    Returns:
        tuple[int, int]: ``(h_s, w_s)``, at least 1.
    """
    if rounding == 'round':
        hs, ws = round(h * scale), round(w * scale)
    elif rounding == 'int':
        hs, ws = int(h * scale), int(w * scale)
    else:
        raise ValueError(f"size_rounding must be 'round' or 'int', got "
                         f'{rounding!r}.')
    return max(int(hs), 1), max(int(ws), 1)


def _to_uint8_batch(imgs: ImageBatch) -> np.ndarray:
    if isinstance(imgs, Tensor):
        imgs = imgs.detach().cpu().numpy()
    if isinstance(imgs, (list, tuple)):
        shapes = {np.asarray(i).shape for i in imgs}
        if len(shapes) != 1:
            raise ValueError(f'all images of a batch must have the same '
                             f'size, got shapes {sorted(shapes)}.')
        imgs = np.stack([np.asarray(i) for i in imgs])
    imgs = np.asarray(imgs)
    if imgs.ndim == 3:
        imgs = imgs[None]
    if imgs.ndim != 4 or imgs.shape[-1] != 3:
        raise ValueError(f'images must be uint8 RGB (B, H, W, 3) or '
                         f'(H, W, 3), got shape {imgs.shape}.')
    if imgs.dtype != np.uint8:
        raise ValueError(f'images must be uint8, got {imgs.dtype}.')
    return imgs


def _norm_params(model: nn.Module, mean, std,
                 channel_order: Optional[str]) -> Tuple[list, list, str]:
    """Mean / std (model input channel order) and the channel order."""
    dp = getattr(model, 'data_preprocessor', None)
    if channel_order is None:
        # mmseg images are loaded BGR; with bgr_to_rgb the model sees RGB,
        # without any conversion it sees the loaded (BGR) order.
        # mmseg SegDataPreProcessor: channel_conversion; mmengine
        # ImgDataPreprocessor: _channel_conversion
        conv = getattr(dp, 'channel_conversion',
                       getattr(dp, '_channel_conversion', None))
        channel_order = 'bgr' if conv is False else 'rgb'
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got "
                         f'{channel_order!r}.')
    if mean is None or std is None:
        enable = getattr(dp, '_enable_normalize', None)
        if enable is True and getattr(dp, 'mean', None) is not None:
            dp_mean = dp.mean.detach().reshape(-1).cpu().tolist()
            dp_std = dp.std.detach().reshape(-1).cpu().tolist()
        elif enable is False:
            dp_mean, dp_std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
        else:
            dp_mean, dp_std = list(IMAGENET_MEAN), list(IMAGENET_STD)
            if channel_order == 'bgr':
                dp_mean, dp_std = dp_mean[::-1], dp_std[::-1]
        mean = dp_mean if mean is None else mean
        std = dp_std if std is None else std
    mean = [float(v) for v in mean]
    std = [float(v) for v in std]
    if len(mean) != 3 or len(std) != 3:
        raise ValueError('mean and std need 3 values.')
    return mean, std, channel_order


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device('cpu')


def _pil_resize(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    h, w = size
    if img.shape[:2] == (h, w):
        return img
    return np.asarray(
        Image.fromarray(img).resize((w, h), resample=Image.BICUBIC))


@torch.no_grad()
def multiscale_cam(
    model: nn.Module,
    imgs_uint8: ImageBatch,
    scales: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
    flip: bool = True,
    resize_backend: str = 'pil',
    size_rounding: str = 'round',
    mean: Optional[Sequence[float]] = None,
    std: Optional[Sequence[float]] = None,
    channel_order: Optional[str] = None,
    amp: bool = False,
    device: Optional[Union[str, torch.device]] = None
) -> Tuple[Tensor, Tensor, Tensor]:
    """Multi-scale x flip CAMs of a batch of same-size images (spec §2).

    Per scale ``s``: resize the uint8 RGB images to ``scaled_size`` (PIL
    bicubic, or bilinear on the normalised tensor with
    ``resize_backend='torch'``), normalise, stack with the horizontal flip,
    ``R = relu(model.extract_cam(x))``, ``c_s = R + hflip(R_flipped)``,
    resize ``c_s`` bilinearly (``align_corners=False``) to ``(⌈H/4⌉,
    ⌈W/4⌉)`` and to ``(16⌈H/16⌉, 16⌈W/16⌉)`` cropped to ``H x W``, and sum
    over scales. Accumulation is in fp32 (``amp`` only affects the
    forward pass).

    Args:
        model (nn.Module): Has ``extract_cam``; should be in eval mode.
        imgs_uint8 (np.ndarray | Tensor | Sequence[np.ndarray]): uint8 RGB
            ``(B, H, W, 3)`` / ``(H, W, 3)`` or a list of same-size images.
        scales (Sequence[float]): Test scales.
            Defaults to (0.5, 1.0, 1.5, 2.0).
        flip (bool): Add horizontally flipped inputs. Defaults to True.
        resize_backend (str): ``'pil'`` (bicubic on uint8, Puzzle-CAM) or
            ``'torch'`` (bilinear on the normalised tensor, RS+EPM).
            Defaults to 'pil'.
        size_rounding (str): ``'round'`` or ``'int'``, see
            :func:`scaled_size`. Defaults to 'round'.
        mean (Sequence[float], optional): Per-channel mean (0..255 scale, in
            the model's channel order). Defaults to the model's
            ``data_preprocessor`` values, else ImageNet.
        std (Sequence[float], optional): Like ``mean``.
        channel_order (str, optional): ``'rgb'`` or ``'bgr'`` input for the
            model. Defaults to 'rgb' unless the model's data preprocessor
            has no BGR->RGB conversion (then 'bgr', as mmseg loads BGR).
        amp (bool): Autocast the forward pass. Defaults to False.
        device (str | torch.device, optional): Defaults to the model's.

    Returns:
        tuple[Tensor, Tensor, Tensor]: fp32 ``cam4_raw`` ``(B, K, ⌈H/4⌉,
        ⌈W/4⌉)``, ``hr_raw`` ``(B, K, H, W)`` (summed ReLU CAMs, not
        normalised) and ``probs`` ``(B, K)`` = mean over scales and flips of
        ``sigmoid(GAP(A))``.
    """
    if not hasattr(model, 'extract_cam'):
        raise TypeError(f'{type(model).__name__} has no extract_cam(); CAM '
                        f'inference needs a CAM-producing model.')
    if resize_backend not in ('pil', 'torch'):
        raise ValueError(f"resize_backend must be 'pil' or 'torch', got "
                         f'{resize_backend!r}.')
    if len(scales) == 0:
        raise ValueError('scales must not be empty.')
    batch = _to_uint8_batch(imgs_uint8)
    B, H, W, _ = batch.shape
    device = torch.device(device) if device is not None else _model_device(
        model)
    mean, std, channel_order = _norm_params(model, mean, std, channel_order)
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    if channel_order == 'bgr':
        batch = np.ascontiguousarray(batch[..., ::-1])

    size4 = strided_size(H, W, 4)
    h16, w16 = strided_size(H, W, 16)
    size_hr = (16 * h16, 16 * w16)
    views = 2 if flip else 1
    cam4 = hr = prob_sum = None
    amp_ctx = (
        torch.autocast(device_type=device.type) if amp else nullcontext())

    def _normalise(x_uint8: np.ndarray) -> Tensor:
        x = torch.from_numpy(np.ascontiguousarray(x_uint8)).to(device)
        x = x.permute(0, 3, 1, 2).float()
        return (x - mean_t) / std_t

    full = None
    for s in scales:
        hs, ws = scaled_size(H, W, float(s), size_rounding)
        if resize_backend == 'pil':
            x = _normalise(
                np.stack([_pil_resize(im, (hs, ws)) for im in batch]))
        else:
            if full is None:
                full = _normalise(batch)
            x = full if (hs, ws) == (H, W) else F.interpolate(
                full, size=(hs, ws), mode='bilinear', align_corners=False)
        if flip:
            x = torch.cat([x, x.flip(-1)], dim=0)
        with amp_ctx:
            logits = model.extract_cam(x)
        if not isinstance(logits, Tensor) or logits.ndim != 4 or \
                logits.shape[0] != B * views:
            raise ValueError(
                f'extract_cam must return (N, K, h, w) with N = {B * views}, '
                f'got {getattr(logits, "shape", type(logits))}.')
        logits = logits.float()
        K = logits.shape[1]
        p = torch.sigmoid(logits.mean(dim=(2, 3))).view(views, B, K).sum(0)
        r = F.relu(logits)
        c = r[:B] + r[B:].flip(-1) if flip else r
        c4 = F.interpolate(c, size=size4, mode='bilinear', align_corners=False)
        chr_ = F.interpolate(
            c, size=size_hr, mode='bilinear', align_corners=False)[..., :H, :W]
        if cam4 is None:
            cam4, hr, prob_sum = c4, chr_.contiguous(), p
        else:
            cam4 = cam4 + c4
            hr = hr + chr_
            prob_sum = prob_sum + p
    probs = prob_sum / (len(scales) * views)
    return cam4, hr, probs


def normalise_cam(cam: Tensor, eps: float = 1e-5) -> Tensor:
    """Per-class max normalisation ``relu(x) / (max_{h,w} relu(x) + eps)``.

    Args:
        cam (Tensor): ``(..., h, w)``.
        eps (float): Defaults to 1e-5.

    Returns:
        Tensor: fp32, same shape.
    """
    x = F.relu(cam.float())
    if x.numel() == 0:
        return x
    m = x.flatten(-2).max(dim=-1)[0][..., None, None]
    return x / (m + eps)


def _present_indices(present, K: int) -> List[int]:
    if isinstance(present, Tensor):
        present = present.detach().cpu().numpy()
    arr = np.asarray(present)
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.floating):
        arr = arr.reshape(-1)
        if arr.size != K:
            raise ValueError(f'multi-hot present vector has {arr.size} '
                             f'entries, the CAM has {K} classes.')
        return [
            int(i)
            for i in np.flatnonzero(arr > 0.5 if arr.dtype != bool else arr)
        ]
    idx = sorted({int(i) for i in arr.reshape(-1)})
    if idx and (idx[0] < 0 or idx[-1] >= K):
        raise ValueError(f'present class indices must be in [0, {K}), got '
                         f'{idx}.')
    return idx


def select_and_normalise(cam4_raw: Tensor,
                         hr_raw: Tensor,
                         present,
                         eps: float = 1e-5) -> Dict[str, Tensor]:
    """Keep the present classes of one image and max-normalise them.

    Args:
        cam4_raw (Tensor): ``(K, h4, w4)`` raw multi-scale CAM.
        hr_raw (Tensor, optional): ``(K, H, W)`` raw high-res CAM (None to
            skip).
        present: 0-based foreground channel indices (ints), or a multi-hot
            vector of length K given as a bool or float array / tensor
            (e.g. ``img_labels`` or :func:`present_from_probs`).
        eps (float): Normalisation epsilon. Defaults to 1e-5.

    Returns:
        dict[str, Tensor]: ``keys`` int64 ``(|P| + 1,)`` = ``[0] + [k + 1
        for k in P]``, ``cam`` fp32 ``(|P|, h4, w4)``, ``hr_cam`` fp32
        ``(|P|, H, W)`` (or None), on the input device.
    """
    if cam4_raw.ndim != 3:
        raise ValueError(f'cam4_raw must be (K, h, w), got '
                         f'{tuple(cam4_raw.shape)}.')
    K = cam4_raw.shape[0]
    idx = _present_indices(present, K)
    dev = cam4_raw.device
    sel = torch.as_tensor(idx, dtype=torch.long, device=dev)
    keys = torch.cat([torch.zeros(1, dtype=torch.long, device=dev), sel + 1])
    out = dict(keys=keys, cam=normalise_cam(cam4_raw[sel], eps), hr_cam=None)
    if hr_raw is not None:
        if hr_raw.ndim != 3 or hr_raw.shape[0] != K:
            raise ValueError(f'hr_raw must be (K={K}, H, W), got '
                             f'{tuple(hr_raw.shape)}.')
        out['hr_cam'] = normalise_cam(hr_raw[sel], eps)
    return out


def present_from_probs(probs: Tensor, conf_th: float = 0.5) -> Tensor:
    """Present set for images without labels (spec §2.2).

    Args:
        probs (Tensor): ``(..., K)`` mean ``sigmoid(GAP(A))``.
        conf_th (float): Defaults to 0.5 (RS+EPM seeds use 0.34).

    Returns:
        Tensor: bool multi-hot ``(..., K)``, ``probs >= conf_th``. An
        all-False row means the whole image is background.
    """
    return probs >= conf_th


# ----------------------------------------------------------------------
# dataset-level job
# ----------------------------------------------------------------------
def dataset_infos(dataset) -> List[dict]:
    """Data infos of a dataset object, a dataset config or a list of dicts.

    A config (dict / ``ConfigDict``) is built with ``DATASETS.build`` with
    its pipeline replaced by ``[]`` (only ``img_path`` / ``img_labels`` /
    ``seg_map_path`` are needed).

    Args:
        dataset: Object with ``__len__`` and ``get_data_info(i)``, a config,
            or a list of info dicts.

    Returns:
        list[dict]: Infos with at least ``img_path`` and ``img_id``.
    """
    if isinstance(dataset, dict):
        from mmseg.registry import DATASETS
        cfg = dataset.copy()
        if 'pipeline' in cfg:
            cfg['pipeline'] = []
        dataset = DATASETS.build(cfg)
    if isinstance(dataset, (list, tuple)):
        infos = [dict(i) for i in dataset]
    elif hasattr(dataset, 'get_data_info'):
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    else:
        raise TypeError(f'unsupported dataset type {type(dataset).__name__}.')
    for info in infos:
        if not info.get('img_path'):
            raise ValueError(f'data info without img_path: {info}')
        if not info.get('img_id'):
            info['img_id'] = osp.splitext(osp.basename(info['img_path']))[0]
    return infos


class _BatchLoader(torch.utils.data.Dataset):
    """Decodes the images of a batch (runs in DataLoader workers)."""

    def __init__(self, batches: List[List[dict]]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict:
        items = self.batches[i]
        try:
            imgs = [load_rgb(it['img_path']) for it in items]
            shapes = {im.shape for im in imgs}
            if len(shapes) != 1:
                raise DataFileError(
                    f'images of one batch changed size while reading: '
                    f'{[it["img_path"] for it in items]}')
        except DataFileError as e:
            return dict(items=items, imgs=None, error=str(e))
        return dict(items=items, imgs=np.stack(imgs), error=None)


def _no_collate(x):
    return x


def _pending_infos(dataset, out_dir: str, skip_existing: bool,
                   use_gt_labels: bool) -> Tuple[List[dict], Dict[str, int]]:
    """Data infos still to write as ``<out_dir>/<img_id>.npz`` (one per
    image id, dataset order) and the job statistics ``total``, ``written``
    (0), ``skipped`` and ``tmp_removed`` (stale temp files of an interrupted
    run, deleted here). Checks that every pending image has ``img_labels``
    when ``use_gt_labels``."""
    os.makedirs(out_dir, exist_ok=True)
    tmp_removed = clean_tmp_files(out_dir)
    seen = set()
    items = []
    for info in dataset_infos(dataset):
        if info['img_id'] in seen:
            continue
        seen.add(info['img_id'])
        items.append(info)
    total = len(items)
    if skip_existing:
        items = [
            it for it in items
            if not osp.isfile(osp.join(out_dir, it['img_id'] + '.npz'))
        ]
    if use_gt_labels:
        for it in items:
            if it.get('img_labels') is None:
                raise ValueError(
                    f'{it["img_path"]}: the data info has no img_labels; '
                    f'use predicted labels (use_gt_labels=False / '
                    f'--use-pred-labels) for images without labels.')
    stats = dict(
        total=total,
        written=0,
        skipped=total - len(items),
        tmp_removed=tmp_removed)
    return items, stats


def _make_batches(items: List[dict], batch_size: int,
                  workers: int) -> List[List[dict]]:
    if batch_size <= 1:
        return [[it] for it in items]
    paths = [it['img_path'] for it in items]
    if workers > 1 and len(paths) > 64:
        with ThreadPoolExecutor(max(2, min(workers, 16))) as ex:
            sizes = list(ex.map(image_size, paths))
    else:
        sizes = [image_size(p) for p in paths]
    groups: 'OrderedDict[tuple, list]' = OrderedDict()
    for it, size in zip(items, sizes):
        groups.setdefault(size, []).append(it)
    batches = []
    for group in groups.values():
        for i in range(0, len(group), batch_size):
            batches.append(group[i:i + batch_size])
    return batches


def infer_dataset_cams(model: nn.Module,
                       dataset,
                       out_dir: str,
                       scales: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
                       flip: bool = True,
                       resize_backend: str = 'pil',
                       size_rounding: str = 'round',
                       amp: bool = False,
                       workers: int = 0,
                       batch_size: int = 1,
                       hr_dtype: str = 'float32',
                       use_gt_labels: bool = True,
                       conf_th: float = 0.5,
                       mean: Optional[Sequence[float]] = None,
                       std: Optional[Sequence[float]] = None,
                       channel_order: Optional[str] = None,
                       device: Optional[Union[str, torch.device]] = None,
                       skip_existing: bool = True,
                       compress: bool = False,
                       writer_threads: int = 2,
                       progress: bool = True) -> Dict[str, int]:
    """Write ``<out_dir>/<img_id>.npz`` CAM files for a dataset (resumable).

    Images whose file already exists are skipped; every file is written
    atomically (temp file + ``os.replace``) and stale temp files of an
    interrupted run are removed first, so a job can simply be re-run.
    Images of the same size are batched (``batch_size`` images x 2 flips per
    forward); ``workers`` DataLoader processes decode the images.

    Args:
        model (nn.Module): CAM model (``extract_cam``), put in eval mode.
        dataset: Dataset object, dataset config or list of data infos (see
            :func:`dataset_infos`); infos need ``img_path`` and, with
            ``use_gt_labels``, ``img_labels`` (K,) multi-hot.
        out_dir (str): Output folder (created).
        scales, flip, resize_backend, size_rounding, amp, mean, std,
            channel_order, device: See :func:`multiscale_cam`.
        workers (int): DataLoader ``num_workers`` for image decoding.
            Defaults to 0.
        batch_size (int): Images per forward (same size only). Defaults
            to 1.
        hr_dtype (str): ``'float32'`` (default, faithful) or ``'float16'``
            for ``hr_cam``; ``cam`` is always float32.
        use_gt_labels (bool): Present classes from ``img_labels``; if False
            from the predicted probabilities (``>= conf_th``, spec §2.2).
            Defaults to True.
        conf_th (float): Threshold for predicted labels. Defaults to 0.5.
        skip_existing (bool): Resume: skip existing files. Defaults to True.
        compress (bool): ``np.savez_compressed``. Defaults to False.
        writer_threads (int): Background threads writing files.
            Defaults to 2.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        dict[str, int]: ``total``, ``written``, ``skipped``,
        ``tmp_removed``.
    """
    if hr_dtype not in ('float32', 'float16'):
        raise ValueError(f"hr_dtype must be 'float32' or 'float16', got "
                         f'{hr_dtype!r}.')
    items, stats = _pending_infos(dataset, out_dir, skip_existing,
                                  use_gt_labels)
    if not items:
        return stats

    model.eval()
    batches = _make_batches(items, batch_size, workers)
    loader = torch.utils.data.DataLoader(
        _BatchLoader(batches),
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
    with ThreadPoolExecutor(max(1, writer_threads)) as pool:
        for batch in loader:
            if batch['error'] is not None:
                raise DataFileError(batch['error'])
            cam4, hr, probs = multiscale_cam(
                model,
                batch['imgs'],
                scales=scales,
                flip=flip,
                resize_backend=resize_backend,
                size_rounding=size_rounding,
                mean=mean,
                std=std,
                channel_order=channel_order,
                amp=amp,
                device=device)
            K = cam4.shape[1]
            for j, it in enumerate(batch['items']):
                if use_gt_labels:
                    present = np.asarray(
                        it['img_labels'], dtype=np.float32).reshape(-1)
                    if present.size != K:
                        raise ValueError(
                            f'{it["img_path"]}: img_labels has '
                            f'{present.size} classes but the model predicts '
                            f'{K}.')
                else:
                    present = present_from_probs(probs[j], conf_th)
                res = select_and_normalise(cam4[j], hr[j], present)
                arrays = dict(
                    keys=res['keys'].cpu().numpy().astype(np.int64),
                    cam=res['cam'].cpu().numpy().astype(np.float32),
                    hr_cam=res['hr_cam'].cpu().numpy().astype(np_hr_dtype))
                path = osp.join(out_dir, it['img_id'] + '.npz')
                pending.append(
                    pool.submit(atomic_save_npz, path, compress, **arrays))
            # bound memory: wait for old writes
            while len(pending) > 4 * max(1, writer_threads) * max(
                    1, batch_size):
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
