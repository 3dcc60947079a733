"""Pseudo-label stage: affinity labels, random walk, pseudo-label PNGs.

Spec ``pseudo_labels.md`` §2 (affinity labels), §4 (random walk), §5 (PNG
format). Every dataset-level job here is resumable (existing outputs are
skipped, stale temp files of an interrupted run are removed first), writes
each file atomically (temp file + ``os.replace``; a ``kill -9`` leaves no
partial file), shows a progress bar and spreads the per-image CPU work
(dense CRF) over a process pool (``workers``).

Map files:

- CAM files (``tools/cam/infer_cams.py``): ``keys``, ``cam`` (stride 4),
  ``hr_cam`` (full resolution), see ``docs/dev_contracts.md``.
- Random-walk files (:func:`random_walk_dataset`): ``keys`` and ``rw``
  (``(|P|, H, W)``, divided by its global maximum over classes and pixels).
"""
import os
import os.path as osp
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cam_inference import _model_device, _norm_params, dataset_infos
from .io import (DataFileError, atomic_save_npz, atomic_save_png,
                 clean_tmp_files, load_cam, load_rgb, pending_ids)

__all__ = [
    'maps_to_label', 'make_affinity_label', 'make_pseudo_label', 'upsample_rw',
    'make_affinity_labels', 'export_pseudo_labels', 'random_walk_dataset',
    'label_palette', 'resolve_dataset', 'MAP_FIELDS'
]

#: Full-resolution map arrays the exporter understands.
MAP_FIELDS = ('hr_cam', 'rw')


def resolve_dataset(config: Optional[str] = None,
                    dataset: Optional[str] = None,
                    split_cfg: Optional[str] = None,
                    data_root: Optional[str] = None,
                    split: Optional[str] = None,
                    cfg_options: Optional[dict] = None,
                    need_labels: bool = False):
    """The image list of a tool: a config dataset or a folder split.

    Args:
        config (str, optional): Config file whose
            ``<dataset>_dataloader.dataset`` (or ``split_cfg`` key) is used.
        dataset (str, optional): ``'train'``, ``'val'`` or ``'test'``
            (default ``'train'``).
        split_cfg (str, optional): Dotted config key of a dataloader or
            dataset.
        data_root (str, optional): Folder-layout root (instead of a config).
        split (str, optional): Split name with ``data_root``.
        cfg_options (dict, optional): Config overrides.
        need_labels (bool): Folder layout: read ``labels.json``.

    Returns:
        tuple: ``(dataset, config)``: a dataset config dict (its pipeline is
        dropped by :func:`dataset_infos`) or a list of infos, and the loaded
        ``Config`` (None with ``data_root``).

    Raises:
        DataFileError: Missing files of the folder layout.
        ValueError: Bad arguments or config keys.
    """
    if data_root is not None:
        from .io import read_folder_split
        if split is None:
            raise ValueError('data_root needs a split.')
        infos, _ = read_folder_split(data_root, split, need_labels=need_labels)
        return infos, None
    if config is None:
        raise ValueError('give a config or a data_root.')
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    if not osp.isfile(config):
        raise DataFileError(f'config file not found: {config}', config)
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    key = split_cfg or f'{dataset or "train"}_dataloader'
    node = cfg
    for part in key.split('.'):
        if node is None or part not in node:
            raise ValueError(f'config {config} has no "{key}".')
        node = node[part]
    if node is None:
        raise ValueError(f'config {config}: "{key}" is None.')
    if 'dataset' in node:
        node = node['dataset']
    return node, cfg


def label_palette(name: Optional[str]) -> Optional[List[List[int]]]:
    """PNG palette by name: ``'voc'`` (256 VOC colours) or None (mode L)."""
    if name in (None, 'none', 'L'):
        return None
    if name == 'voc':
        from mmwsss.datasets.utils import voc_palette
        return voc_palette(256)
    raise ValueError(f"palette must be 'voc' or None, got {name!r}.")


# ----------------------------------------------------------------------
# per-image functions
# ----------------------------------------------------------------------
def maps_to_label(maps: np.ndarray,
                  keys: Sequence[int],
                  bg_th: float,
                  compact: bool = False) -> np.ndarray:
    """``keys[argmax(concat([bg_th], maps))]`` (ties go to background).

    Args:
        maps (np.ndarray): ``(|P|, H, W)`` normalised maps (any float
            dtype; compared in float32).
        keys (Sequence[int]): ``(|P| + 1,)`` class ids.
        bg_th (float): Constant background score.
        compact (bool): Return compact indices instead of class ids.

    Returns:
        np.ndarray: int64 ``(H, W)``.
    """
    maps = np.asarray(maps, dtype=np.float32)
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    if maps.ndim != 3 or maps.shape[0] + 1 != keys.size:
        raise ValueError(f'maps (|P|, H, W) and keys (|P| + 1,) do not '
                         f'match: {maps.shape} vs {keys.shape}.')
    bg = np.full((1, ) + maps.shape[1:], bg_th, np.float32)
    idx = np.concatenate([bg, maps]).argmax(0)
    return idx if compact else keys[idx]


def make_affinity_label(image: np.ndarray,
                        hr_cam: np.ndarray,
                        keys: Sequence[int],
                        fg_th: float = 0.40,
                        bg_th: float = 0.10,
                        crf=None) -> np.ndarray:
    """IRN-style affinity label of one image (spec §2).

    ``fg_conf = keys[labelCRF(argmax([fg_th, hr_cam]))]``, ``bg_conf`` the
    same with ``bg_th``; ``aff = fg_conf``, 255 where ``fg_conf == 0``, and
    0 where both are background.

    Args:
        image (np.ndarray): uint8 RGB ``(H, W, 3)``.
        hr_cam (np.ndarray): ``(|P|, H, W)``.
        keys (Sequence[int]): ``(|P| + 1,)``.
        fg_th (float): Foreground threshold. Defaults to 0.40.
        bg_th (float): Background threshold. Defaults to 0.10.
        crf (DenseCRF, optional): Label CRF. Defaults to the ``'label'``
            preset (10 iterations).

    Returns:
        np.ndarray: uint8 ``(H, W)`` with values in ``keys`` and 255.
    """
    from mmwsss.models.refiners.dense_crf import DenseCRF
    crf = DenseCRF('label') if crf is None else crf
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    fg_map = maps_to_label(hr_cam, keys, fg_th, compact=True)
    bg_map = maps_to_label(hr_cam, keys, bg_th, compact=True)
    fg_conf = keys[crf.refine_compact(image, fg_map, keys.size)]
    bg_conf = keys[crf.refine_compact(image, bg_map, keys.size)]
    aff = fg_conf.copy()
    aff[fg_conf == 0] = 255
    aff[(fg_conf == 0) & (bg_conf == 0)] = 0
    return aff.astype(np.uint8)


def make_pseudo_label(maps: np.ndarray,
                      keys: Sequence[int],
                      bg_th: float,
                      image: Optional[np.ndarray] = None,
                      crf=None) -> np.ndarray:
    """Pseudo label of one image: background threshold + optional CRF.

    Label-unary CRFs refine the hard labels (spec §4: label-CRF, 1
    iteration for random-walk labels). Softmax-unary CRFs get the scores
    ``concat([bg_th], maps)`` clipped at 0 and divided by their sum per
    pixel as probabilities [inferred].

    Args:
        maps (np.ndarray): ``(|P|, H, W)`` normalised maps.
        keys (Sequence[int]): ``(|P| + 1,)`` class ids.
        bg_th (float): Background threshold.
        image (np.ndarray, optional): uint8 RGB, needed with ``crf``.
        crf (DenseCRF, optional): Refiner.

    Returns:
        np.ndarray: uint8 ``(H, W)`` class ids.
    """
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    comp = maps_to_label(maps, keys, bg_th, compact=True)
    if crf is not None and keys.size > 1:
        if image is None:
            raise ValueError('the CRF needs the uint8 RGB image.')
        if crf.params['unary'] == 'label':
            comp = crf.refine_compact(image, comp, keys.size)
        else:
            bg = np.full((1, ) + maps.shape[1:], bg_th, np.float32)
            s = np.clip(
                np.concatenate([bg, np.asarray(maps, np.float32)]), 0,
                None) + 1e-5
            comp = crf.refine_probs(image,
                                    s / s.sum(0, keepdims=True)).argmax(0)
    return keys[comp].astype(np.uint8)


def upsample_rw(rw: Tensor, size: Sequence[int]) -> Tensor:
    """Random-walk map to full resolution (spec §4).

    ``bilinear(rw, ×4, align_corners=False)[:, :H, :W]`` divided by its
    single global maximum over all classes and pixels (unchanged when the
    maximum is 0).

    Args:
        rw (Tensor): ``(|P|, h, w)`` stride-4 maps.
        size (Sequence[int]): ``(H, W)``.

    Returns:
        Tensor: ``(|P|, H, W)`` float32.
    """
    H, W = int(size[0]), int(size[1])
    if rw.shape[0] == 0:
        return rw.new_zeros((0, H, W), dtype=torch.float32)
    h, w = rw.shape[-2:]
    up = F.interpolate(
        rw[None].float(),
        size=(4 * h, 4 * w),
        mode='bilinear',
        align_corners=False)[0, :, :H, :W]
    m = up.max()
    return up / m if float(m) > 0 else up


# ----------------------------------------------------------------------
# dataset jobs (process pool)
# ----------------------------------------------------------------------
def _items(dataset, map_dir: str, out_dir: str, out_suffix: str,
           overwrite: bool) -> Tuple[List[Tuple[str, str, str]], int]:
    infos = dataset_infos(dataset)
    seen, ids, paths = set(), [], {}
    for info in infos:
        if info['img_id'] in seen:
            continue
        seen.add(info['img_id'])
        ids.append(info['img_id'])
        paths[info['img_id']] = info['img_path']
    todo = ids if overwrite else pending_ids(ids, out_dir, out_suffix)
    items = [(i, paths[i], osp.join(map_dir, i + '.npz')) for i in todo]
    missing = [p for _, _, p in items if not osp.isfile(p)]
    if missing:
        shown = ', '.join(missing[:3]) + (' ...' if len(missing) > 3 else '')
        raise DataFileError(
            f'{len(missing)} map files not found in {map_dir} ({shown}); '
            f'produce them first (tools/cam/infer_cams.py or '
            f'tools/pseudo_labels/random_walk.py) or check the split.',
            missing[0])
    return items, len(ids)


def _resolve_field(arrays_path: str, field: str) -> str:
    if field != 'auto':
        return field
    import zipfile
    try:
        with zipfile.ZipFile(arrays_path) as z:
            names = {osp.splitext(n)[0] for n in z.namelist()}
    except (OSError, zipfile.BadZipFile) as e:
        raise DataFileError(
            f'Corrupt or unreadable map file {arrays_path}:'
            f' {e}', arrays_path) from e
    for f in ('rw', 'hr_cam'):
        if f in names:
            return f
    raise DataFileError(
        f'{arrays_path} has neither "rw" nor "hr_cam" (has {sorted(names)}).',
        arrays_path)


def _load_maps(path: str, field: str) -> Tuple[np.ndarray, np.ndarray]:
    arrs = load_cam(path, fields=('keys', field))
    return arrs[field].astype(np.float32), arrs['keys']


def _check_size(image: np.ndarray, maps: np.ndarray, img_path: str,
                map_path: str) -> None:
    if image.shape[:2] != maps.shape[1:]:
        raise DataFileError(
            f'{map_path}: maps have size {maps.shape[1:]} but the image '
            f'{img_path} is {image.shape[:2]}; the map files belong to other '
            f'images (wrong folder or split): regenerate them.', map_path)


class _AffinityJob:
    """One image: CAM file -> affinity-label PNG (runs in a worker)."""

    def __init__(self, out_dir, fg_th, bg_th, crf, palette):
        self.out_dir = out_dir
        self.fg_th = fg_th
        self.bg_th = bg_th
        self.crf = crf
        self.palette = palette

    def __call__(self, item):
        img_id, img_path, map_path = item
        try:
            hr, keys = _load_maps(map_path, 'hr_cam')
            image = load_rgb(img_path)
            _check_size(image, hr, img_path, map_path)
            aff = make_affinity_label(image, hr, keys, self.fg_th, self.bg_th,
                                      self.crf)
            atomic_save_png(
                osp.join(self.out_dir, img_id + '.png'), aff, self.palette)
        except DataFileError as e:
            return str(e)
        return None


class _ExportJob:
    """One image: map file -> pseudo-label PNG (runs in a worker)."""

    def __init__(self, out_dir, field, bg_th, crf, palette):
        self.out_dir = out_dir
        self.field = field
        self.bg_th = bg_th
        self.crf = crf
        self.palette = palette

    def __call__(self, item):
        img_id, img_path, map_path = item
        try:
            field = _resolve_field(map_path, self.field)
            maps, keys = _load_maps(map_path, field)
            image = None
            if self.crf is not None:
                image = load_rgb(img_path)
                _check_size(image, maps, img_path, map_path)
            lab = make_pseudo_label(maps, keys, self.bg_th, image, self.crf)
            atomic_save_png(
                osp.join(self.out_dir, img_id + '.png'), lab, self.palette)
        except DataFileError as e:
            return str(e)
        return None


def _run_jobs(job, items, workers: int, progress: bool) -> int:
    from mmwsss.utils.parallel import imap_pool
    done = 0
    for err in imap_pool(
            job, items, workers=workers, progress=progress, ordered=False):
        if err is not None:
            raise DataFileError(err)
        done += 1
    return done


def make_affinity_labels(dataset,
                         cam_dir: str,
                         out_dir: str,
                         fg_th: float = 0.40,
                         bg_th: float = 0.10,
                         crf_iters: int = 10,
                         palette: Optional[str] = 'voc',
                         workers: int = 0,
                         overwrite: bool = False,
                         progress: bool = True) -> Dict[str, int]:
    """Affinity-label PNGs of a dataset from its CAM files (spec §2).

    Args:
        dataset: Dataset, dataset config or list of infos (``img_id``,
            ``img_path``), see :func:`dataset_infos`.
        cam_dir (str): Folder of ``<img_id>.npz`` CAM files (``hr_cam``).
        out_dir (str): Output folder of ``<img_id>.png`` (values 0..K, 255).
        fg_th (float): Foreground threshold. Defaults to 0.40 (official
            README command; the argparse default was 0.30).
        bg_th (float): Background threshold. Defaults to 0.10 (0.05).
        crf_iters (int): Label-CRF iterations. Defaults to 10.
        palette (str, optional): ``'voc'`` (mode P) or None (mode L).
        workers (int): CRF processes. Defaults to 0 (in process).
        overwrite (bool): Recompute existing files. Defaults to False.
        progress (bool): Progress bar. Defaults to True.

    Returns:
        dict[str, int]: ``total``, ``written``, ``skipped``,
        ``tmp_removed``.
    """
    from mmwsss.models.refiners.dense_crf import DenseCRF
    os.makedirs(out_dir, exist_ok=True)
    tmp_removed = clean_tmp_files(out_dir)
    items, total = _items(dataset, cam_dir, out_dir, '.png', overwrite)
    job = _AffinityJob(out_dir, fg_th, bg_th,
                       DenseCRF('label', iters=crf_iters),
                       label_palette(palette))
    written = _run_jobs(job, items, workers, progress)
    return dict(
        total=total,
        written=written,
        skipped=total - len(items),
        tmp_removed=tmp_removed)


def export_pseudo_labels(dataset,
                         map_dir: str,
                         out_dir: str,
                         bg_th: float,
                         field: str = 'auto',
                         crf: Optional[Union[str, dict]] = None,
                         crf_iters: Optional[int] = None,
                         palette: Optional[str] = 'voc',
                         workers: int = 0,
                         overwrite: bool = False,
                         progress: bool = True) -> Dict[str, int]:
    """Pseudo-label PNGs from CAM or random-walk files (spec §4, §5).

    ``label = keys[argmax(concat([bg_th], maps))]``, then optionally a
    dense CRF, written as uint8 PNG ``<out_dir>/<img_id>.png`` at the
    original size (mode P with the VOC palette by default, or L).

    Args:
        dataset: Dataset, dataset config or list of infos.
        map_dir (str): Folder of ``<img_id>.npz`` (CAM or RW files).
        out_dir (str): Output folder.
        bg_th (float): Background threshold (0.35 for RW maps, spec §4).
        field (str): ``'hr_cam'``, ``'rw'`` or ``'auto'`` (``rw`` if the
            file has it, else ``hr_cam``). Defaults to 'auto'.
        crf (str | dict, optional): CRF preset name (``'label'``,
            ``'softmax'``, ``'rsepm'``, ``'rrm_test'``) or ``DenseCRF``
            kwargs; None for no CRF.
        crf_iters (int, optional): Override the preset's iterations (1 for
            the final RW labels, spec §4).
        palette (str, optional): ``'voc'`` or None.
        workers (int): Processes. Defaults to 0 (in process).
        overwrite (bool): Recompute existing files. Defaults to False.
        progress (bool): Progress bar. Defaults to True.

    Returns:
        dict[str, int]: ``total``, ``written``, ``skipped``,
        ``tmp_removed``.
    """
    from mmwsss.models.refiners.dense_crf import DenseCRF
    if field not in MAP_FIELDS + ('auto', ):
        raise ValueError(f'field must be one of {MAP_FIELDS + ("auto", )}, '
                         f'got {field!r}.')
    crf_obj = None
    if crf is not None:
        kw = dict(preset=crf) if isinstance(crf, str) else dict(crf)
        kw.pop('type', None)
        if crf_iters is not None:
            kw['iters'] = crf_iters
        crf_obj = DenseCRF(**kw)
    os.makedirs(out_dir, exist_ok=True)
    tmp_removed = clean_tmp_files(out_dir)
    items, total = _items(dataset, map_dir, out_dir, '.png', overwrite)
    job = _ExportJob(out_dir, field, bg_th, crf_obj, label_palette(palette))
    written = _run_jobs(job, items, workers, progress)
    return dict(
        total=total,
        written=written,
        skipped=total - len(items),
        tmp_removed=tmp_removed)


# ----------------------------------------------------------------------
# random walk over a dataset (GPU / CPU tensors)
# ----------------------------------------------------------------------
class _RWLoader(torch.utils.data.Dataset):
    """Reads the image and the stride-4 CAM of a batch (DataLoader worker).
    """

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        from .cam_inference import strided_size
        out = []
        try:
            for img_id, img_path, cam_path in self.batches[i]:
                arrs = load_cam(cam_path, fields=('keys', 'cam'))
                image = load_rgb(img_path)
                h4, w4 = strided_size(*image.shape[:2], 4)
                if arrs['cam'].shape[1:] != (h4, w4):
                    raise DataFileError(
                        f'{cam_path}: "cam" has size {arrs["cam"].shape[1:]}'
                        f' but image {img_path} ({image.shape[0]}x'
                        f'{image.shape[1]}) needs the stride-4 size '
                        f'({h4}, {w4}); regenerate the CAM file.', cam_path)
                out.append((img_id, image, arrs['keys'],
                            arrs['cam'].astype(np.float32)))
        except DataFileError as e:
            return dict(error=str(e))
        return dict(error=None, items=out)


def _no_collate(x):
    return x


@torch.no_grad()
def random_walk_dataset(model: nn.Module,
                        dataset,
                        cam_dir: str,
                        out_dir: str,
                        beta: float = 10.0,
                        exp_times: int = 8,
                        radius: int = 5,
                        batch_size: int = 1,
                        workers: int = 0,
                        device: Optional[Union[str, torch.device]] = None,
                        rw_dtype: str = 'float32',
                        overwrite: bool = False,
                        writer_threads: int = 2,
                        progress: bool = True) -> Dict[str, int]:
    """Random-walk maps of a dataset (spec §4): ``<out_dir>/<img_id>.npz``
    with ``keys`` and ``rw``.

    For a batch of images: edge maps from the boundary network
    (``model.extract_edge``, padding + flip as in the spec), the sparse
    random walk of the stride-4 CAMs (:func:`mmwsss.models.refiners.
    random_walk`; images of different sizes and class counts are padded
    with edge 1 / CAM 0), ×4 bilinear upsampling cropped to ``H x W`` and
    division by the global maximum (:func:`upsample_rw`).

    Args:
        model (nn.Module): Boundary network with ``extract_edge`` and a
            ``data_preprocessor`` (normalisation).
        dataset: Dataset, dataset config or list of infos.
        cam_dir (str): CAM files (``keys``, ``cam``).
        out_dir (str): Output folder.
        beta (float): Defaults to 10.
        exp_times (int): ``2 ** exp_times`` steps. Defaults to 8.
        radius (int): Defaults to 5.
        batch_size (int): Images per forward / random walk. Defaults to 1.
        workers (int): DataLoader processes reading images and CAMs.
        device (str | torch.device, optional): Defaults to the model's.
        rw_dtype (str): ``'float32'`` or ``'float16'`` storage.
        overwrite (bool): Recompute existing files.
        writer_threads (int): Background writer threads.
        progress (bool): Progress bar.

    Returns:
        dict[str, int]: ``total``, ``written``, ``skipped``,
        ``tmp_removed``.
    """
    from mmwsss.models.refiners.random_walk import random_walk
    if rw_dtype not in ('float32', 'float16'):
        raise ValueError(f"rw_dtype must be 'float32' or 'float16', got "
                         f'{rw_dtype!r}.')
    if not hasattr(model, 'extract_edge'):
        raise TypeError(f'{type(model).__name__} has no extract_edge(); a '
                        f'boundary network (BoundaryNet) is needed.')
    os.makedirs(out_dir, exist_ok=True)
    tmp_removed = clean_tmp_files(out_dir)
    items, total = _items(dataset, cam_dir, out_dir, '.npz', overwrite)
    stats = dict(
        total=total,
        written=0,
        skipped=total - len(items),
        tmp_removed=tmp_removed)
    if not items:
        return stats
    model.eval()
    device = torch.device(device) if device is not None else _model_device(
        model)
    mean, std, order = _norm_params(model, None, None, None)
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    np_dtype = np.float16 if rw_dtype == 'float16' else np.float32
    batches = [
        items[i:i + max(1, batch_size)]
        for i in range(0, len(items), max(1, batch_size))
    ]
    loader = torch.utils.data.DataLoader(
        _RWLoader(batches),
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        collate_fn=_no_collate)
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(items))
    pending: List[Future] = []
    with ThreadPoolExecutor(max(1, writer_threads)) as pool:
        for batch in loader:
            if batch['error'] is not None:
                raise DataFileError(batch['error'])
            group = batch['items']
            B = len(group)
            H = max(it[1].shape[0] for it in group)
            W = max(it[1].shape[1] for it in group)
            K = max(max(it[3].shape[0] for it in group), 1)
            imgs = torch.zeros((B, 3, H, W), device=device)
            h4, w4 = -(-H // 4), -(-W // 4)
            cams = torch.zeros((B, K, h4, w4), device=device)
            sizes = []
            for b, (_, image, _, cam) in enumerate(group):
                x = torch.from_numpy(image).to(device).permute(2, 0, 1)[None]
                if order == 'bgr':
                    x = x.flip(1)
                x = (x.float() - mean_t) / std_t
                hb, wb = image.shape[:2]
                imgs[b:b + 1, :, :hb, :wb] = x
                cams[b, :cam.shape[0], :cam.shape[1], :cam.shape[2]] = \
                    torch.from_numpy(cam).to(device)
                sizes.append((hb, wb))
            edge = model.extract_edge(imgs, sizes).float()
            rw = random_walk(cams, edge, beta, exp_times, radius)
            for b, (img_id, image, keys, cam) in enumerate(group):
                hb, wb = sizes[b]
                r = rw[b, :cam.shape[0], :cam.shape[1], :cam.shape[2]]
                up = upsample_rw(r, (hb, wb)).cpu().numpy().astype(np_dtype)
                path = osp.join(out_dir, img_id + '.npz')
                pending.append(
                    pool.submit(
                        atomic_save_npz,
                        path,
                        keys=np.asarray(keys, np.int64),
                        rw=up))
            while len(pending) > 4 * max(1, writer_threads):
                pending.pop(0).result()
                stats['written'] += 1
            if bar is not None:
                bar.update(B)
        for fut in pending:
            fut.result()
            stats['written'] += 1
    if bar is not None:
        print()
    return stats
