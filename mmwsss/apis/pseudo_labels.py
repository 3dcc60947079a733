"""Model-free pseudo-label jobs: affinity labels and pseudo-label PNGs.

Both read map files (CAMs / seeds: ``hr_cam``; random-walk maps: ``rw``;
see :mod:`mmwsss.utils.fileio`) and write uint8 label PNGs at the image
size. They are per-image CPU work (dense CRF), so they run in a process
pool (``workers``) instead of the test loop; the images, resuming (finished
PNGs skipped, stale temp files removed, repeated ids once) and the check
that every map file exists before the job starts come from
:class:`~mmwsss.datasets.PendingOutputsDataset`, and every PNG is written
atomically (a killed job leaves no partial file).
"""
import os.path as osp
import zipfile
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from mmwsss.datasets import PendingOutputsDataset
from mmwsss.utils.cam_ops import label_from_maps, with_background
from mmwsss.utils.fileio import (MAP_FIELDS, DataFileError, atomic_save_png,
                                 check_writable_dir, load_cam, load_rgb,
                                 voc_palette)
from mmwsss.utils.parallel import imap_pool

__all__ = [
    'maps_to_label', 'make_affinity_label', 'make_pseudo_label',
    'uncertain_mask', 'take_class_maps', 'make_affinity_labels',
    'export_pseudo_labels'
]

#: What produces the map files (named when some are missing).
_PRODUCERS = ('tools/cam/infer_cams.py, tools/rsepm/infer_seeds.py or '
              'tools/pseudo_labels/random_walk.py')


# ----------------------------------------------------------------------
# per-image functions
# ----------------------------------------------------------------------
def maps_to_label(maps: np.ndarray,
                  keys: Sequence[int],
                  bg_th: float,
                  compact: bool = False) -> np.ndarray:
    """``keys[argmax(concat([bg_th], maps))]`` (ties go to background), on
    numpy arrays (:func:`mmwsss.utils.cam_ops.label_from_maps`).

    Args:
        maps (np.ndarray): ``(|P|, H, W)`` normalised maps (any float
            dtype; compared in float32).
        keys (Sequence[int]): ``(|P| + 1,)`` class ids.
        bg_th (float): Constant background score.
        compact (bool): Return compact indices instead of class ids.

    Returns:
        np.ndarray: int64 ``(H, W)``.
    """
    keys_t = torch.as_tensor(np.asarray(keys, np.int64).reshape(-1))
    maps_t = torch.from_numpy(np.asarray(maps, dtype=np.float32))
    if maps_t.ndim != 3 or maps_t.shape[0] + 1 != keys_t.numel():
        raise ValueError(f'maps (|P|, H, W) and keys (|P| + 1,) do not '
                         f'match: {tuple(maps_t.shape)} vs '
                         f'{tuple(keys_t.shape)}.')
    return label_from_maps(maps_t, None if compact else keys_t, bg_th).numpy()


def make_affinity_label(image: np.ndarray,
                        hr_cam: np.ndarray,
                        keys: Sequence[int],
                        fg_th: float = 0.40,
                        bg_th: float = 0.10,
                        crf=None) -> np.ndarray:
    """IRN-style affinity label of one image.

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


def _scores(maps: np.ndarray, bg_th: float) -> np.ndarray:
    """float32 ``concat([bg_th], maps)`` (:func:`with_background`)."""
    return with_background(
        torch.from_numpy(np.asarray(maps, np.float32)), bg_th).numpy()


def uncertain_mask(maps: np.ndarray, bg_th: float,
                   margin: float) -> np.ndarray:
    """Pixels whose two best scores of ``concat([bg_th], maps)`` differ by
    less than ``margin`` (near the background threshold or between two
    classes) [inferred].

    Args:
        maps (np.ndarray): ``(|P|, H, W)`` normalised maps.
        bg_th (float): Constant background score.
        margin (float): Top-1 minus top-2 below it is uncertain; 0 marks
            nothing.

    Returns:
        np.ndarray: bool ``(H, W)``.
    """
    maps = np.asarray(maps, np.float32)
    if margin <= 0 or maps.shape[0] == 0:
        return np.zeros(maps.shape[1:], bool)
    scores = _scores(maps, bg_th)
    top2 = np.partition(scores, -2, axis=0)[-2:]
    return (top2[1] - top2[0]) < margin


def take_class_maps(maps: np.ndarray, keys: Sequence[int], src: np.ndarray,
                    src_keys: Sequence[int],
                    classes: Sequence[int]) -> np.ndarray:
    """``maps`` with the rows of the class ids ``classes`` replaced by
    those of ``src`` (e.g. the random-walk maps with the thin classes taken
    from the CAMs / seeds the walk started from, because the walk erodes
    them) [inferred].

    Args:
        maps (np.ndarray): ``(|P|, H, W)`` maps of the classes ``keys[1:]``.
        keys (Sequence[int]): ``(|P| + 1,)`` class ids, ``keys[0] = 0``.
        src (np.ndarray): ``(|P|, H, W)`` maps of the same image.
        src_keys (Sequence[int]): Class ids of ``src``; must equal ``keys``.
        classes (Sequence[int]): Class ids whose maps come from ``src``
            (ids absent from ``keys`` are ignored).

    Returns:
        np.ndarray: float32 ``(|P|, H, W)``.

    Raises:
        ValueError: ``src`` has other classes or another size.
    """
    keys = np.asarray(keys, np.int64).reshape(-1)
    src_keys = np.asarray(src_keys, np.int64).reshape(-1)
    if not np.array_equal(keys, src_keys) or src.shape != maps.shape:
        raise ValueError(f'the maps to take classes from have classes '
                         f'{src_keys.tolist()} and shape {src.shape}, not '
                         f'{keys.tolist()} and {maps.shape}')
    out = np.array(maps, dtype=np.float32)
    rows = np.isin(keys[1:], np.asarray(list(classes), np.int64))
    out[rows] = src[rows]
    return out


def make_pseudo_label(maps: np.ndarray,
                      keys: Sequence[int],
                      bg_th: float,
                      image: Optional[np.ndarray] = None,
                      crf=None,
                      ignore_margin: float = 0.0,
                      ignore_index: int = 255) -> np.ndarray:
    """Pseudo label of one image: background threshold + optional CRF.

    Label-unary CRFs refine the hard labels (label-CRF, 1 iteration for
    random-walk labels). Softmax-unary CRFs get the scores
    ``concat([bg_th], maps)`` clipped at 0 and divided by their sum per
    pixel as probabilities [inferred]. With ``ignore_margin > 0`` the
    low-confidence pixels (:func:`uncertain_mask` of the maps, whatever the
    CRF made of them) are labelled ``ignore_index``, so that a segmentation
    stage ignores them [inferred].

    Args:
        maps (np.ndarray): ``(|P|, H, W)`` normalised maps.
        keys (Sequence[int]): ``(|P| + 1,)`` class ids.
        bg_th (float): Background threshold.
        image (np.ndarray, optional): uint8 RGB, needed with ``crf``.
        crf (DenseCRF, optional): Refiner.
        ignore_margin (float): See above. Defaults to 0 (off).
        ignore_index (int): Label of the uncertain pixels. Defaults to 255.

    Returns:
        np.ndarray: uint8 ``(H, W)`` class ids (and ``ignore_index``).
    """
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    comp = maps_to_label(maps, keys, bg_th, compact=True)
    if crf is not None and keys.size > 1:
        if image is None:
            raise ValueError('the CRF needs the uint8 RGB image.')
        if crf.params['unary'] == 'label':
            comp = crf.refine_compact(image, comp, keys.size)
        else:
            s = np.clip(_scores(maps, bg_th), 0, None) + 1e-5
            comp = crf.refine_probs(image,
                                    s / s.sum(0, keepdims=True)).argmax(0)
    label = keys[comp].astype(np.uint8)
    label[uncertain_mask(maps, bg_th, ignore_margin)] = ignore_index
    return label


# ----------------------------------------------------------------------
# dataset jobs (process pool)
# ----------------------------------------------------------------------
def _items(
    dataset,
    map_dir: str,
    out_dir: str,
    overwrite: bool,
    more_inputs: Sequence[dict] = ()
) -> Tuple[List[Tuple[str, str, str]], dict]:
    """``(img_id, img_path, map file)`` of the images still to write, and
    the job statistics (the output folder is checked writable first; the
    map files and those of ``more_inputs`` must exist)."""
    check_writable_dir(out_dir, 'the output folder (--out-dir)')
    if isinstance(dataset, dict):
        dataset = dict(dataset, pipeline=[])
    pending = PendingOutputsDataset(
        dataset,
        out_dir,
        suffix='.png',
        overwrite=overwrite,
        inputs=[
            dict(map_dir=map_dir, suffix='.npz', producer=_PRODUCERS),
            *more_inputs
        ])
    items = []
    for i in range(len(pending)):
        info = pending.get_data_info(i)
        img_id = info.get('img_id') or osp.splitext(
            osp.basename(info['img_path']))[0]
        items.append(
            (img_id, info['img_path'], osp.join(map_dir, img_id + '.npz')))
    return items, pending.stats


def _palette(name: Optional[str]) -> Optional[List[List[int]]]:
    """PNG palette by name: ``'voc'`` (256 VOC colours) or None (mode L)."""
    if name in (None, 'none', 'L'):
        return None
    if name == 'voc':
        return voc_palette(256)
    raise ValueError(f"palette must be 'voc' or None, got {name!r}.")


def _resolve_field(arrays_path: str, field: str) -> str:
    if field != 'auto':
        return field
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


def _affinity_png(map_path: str, img_path: str, fg_th: float, bg_th: float,
                  crf) -> np.ndarray:
    """CAM file -> affinity label (:func:`make_affinity_label`)."""
    hr, keys = _load_maps(map_path, 'hr_cam')
    image = load_rgb(img_path)
    _check_size(image, hr, img_path, map_path)
    return make_affinity_label(image, hr, keys, fg_th, bg_th, crf)


def _pseudo_png(
    map_path: str,
    img_path: str,
    field: str,
    bg_th: float,
    crf,
    ignore_margin: float = 0.0,
    cam_dir: Optional[str] = None,
    cam_classes: Tuple[int, ...] = ()
) -> np.ndarray:
    """Map file -> pseudo label (:func:`make_pseudo_label`), the maps of
    ``cam_classes`` from the ``hr_cam`` of the same-named file of
    ``cam_dir`` (:func:`take_class_maps`)."""
    maps, keys = _load_maps(map_path, _resolve_field(map_path, field))
    if cam_dir is not None and len(cam_classes):
        cam_path = osp.join(cam_dir, osp.basename(map_path))
        hr, hr_keys = _load_maps(cam_path, 'hr_cam')
        try:
            maps = take_class_maps(maps, keys, hr, hr_keys, cam_classes)
        except ValueError as e:
            raise DataFileError(
                f'{cam_path} does not match {map_path}: {e}; the CAM folder '
                f'(--cam-dir) must be the one the maps were made from.',
                cam_path) from e
    image = None
    if crf is not None:
        image = load_rgb(img_path)
        _check_size(image, maps, img_path, map_path)
    return make_pseudo_label(
        maps, keys, bg_th, image, crf, ignore_margin=ignore_margin)


class _PngJob:
    """One image: ``label_fn(map file, image file)`` -> ``<out_dir>/<id>.png``
    (runs in a pool worker; a data error is returned, not raised)."""

    def __init__(self, out_dir: str, palette, label_fn) -> None:
        self.out_dir = out_dir
        self.palette = palette
        self.label_fn = label_fn

    def __call__(self, item) -> Optional[str]:
        img_id, img_path, map_path = item
        try:
            atomic_save_png(
                osp.join(self.out_dir, img_id + '.png'),
                self.label_fn(map_path, img_path), self.palette)
        except DataFileError as e:
            return str(e)
        return None


def _run_jobs(job, items, workers: int, progress: bool,
              stats: dict) -> Dict[str, int]:
    done = 0
    for err in imap_pool(
            job, items, workers=workers, progress=progress, ordered=False):
        if err is not None:
            raise DataFileError(err)
        done += 1
    return dict(
        total=stats['total'],
        written=done,
        skipped=stats['done'],
        tmp_removed=stats['tmp_removed'])


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
    """Affinity-label PNGs of a dataset from its CAM files.

    Args:
        dataset: Dataset, dataset config or list of infos (``img_id``,
            ``img_path``): a dataset config (its pipeline is dropped) or a
            dataset object.
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
    for name, th in (('fg_th', fg_th), ('bg_th', bg_th)):
        if not 0.0 <= float(th) <= 1.0:
            raise ValueError(f'{name} must be in [0, 1], got {th}.')
    job = _PngJob(
        out_dir, _palette(palette),
        partial(
            _affinity_png,
            fg_th=fg_th,
            bg_th=bg_th,
            crf=DenseCRF('label', iters=crf_iters)))
    items, stats = _items(dataset, cam_dir, out_dir, overwrite)
    return _run_jobs(job, items, workers, progress, stats)


def export_pseudo_labels(dataset,
                         map_dir: str,
                         out_dir: str,
                         bg_th: float,
                         field: str = 'auto',
                         crf: Optional[Union[str, dict]] = None,
                         crf_iters: Optional[int] = None,
                         ignore_margin: float = 0.0,
                         cam_dir: Optional[str] = None,
                         cam_classes: Sequence[int] = (),
                         palette: Optional[str] = 'voc',
                         workers: int = 0,
                         overwrite: bool = False,
                         progress: bool = True) -> Dict[str, int]:
    """Pseudo-label PNGs from CAM or random-walk files.

    ``label = keys[argmax(concat([bg_th], maps))]``, then optionally a
    dense CRF, written as uint8 PNG ``<out_dir>/<img_id>.png`` at the
    original size (mode P with the VOC palette by default, or L).

    Args:
        dataset: Dataset, dataset config or list of infos.
        map_dir (str): Folder of ``<img_id>.npz`` (CAM or RW files).
        out_dir (str): Output folder.
        bg_th (float): Background threshold (0.35 for RW maps [code]).
        field (str): ``'hr_cam'``, ``'rw'`` or ``'auto'`` (``rw`` if the
            file has it, else ``hr_cam``). Defaults to 'auto'.
        crf (str | dict, optional): CRF preset name (``'label'``,
            ``'softmax'``, ``'rsepm'``, ``'rrm_test'``) or ``DenseCRF``
            kwargs; None for no CRF.
        crf_iters (int, optional): Override the preset's iterations (1 for
            the final RW labels [code]).
        ignore_margin (float): Label 255 the pixels whose two best scores
            differ by less than this (:func:`uncertain_mask`). Defaults to
            0 (off) [inferred].
        cam_dir (str, optional): Folder of the CAM / seed files
            (``hr_cam``) the maps of ``map_dir`` were made from; needed
            with ``cam_classes``.
        cam_classes (Sequence[int]): Class ids whose maps are taken from
            ``cam_dir`` instead of ``map_dir`` (:func:`take_class_maps`:
            e.g. the thin classes a random walk erodes). Defaults to ()
            (none) [inferred].
        palette (str, optional): ``'voc'`` or None.
        workers (int): Processes. Defaults to 0 (in process).
        overwrite (bool): Recompute existing files. Defaults to False.
        progress (bool): Progress bar. Defaults to True.

    Returns:
        dict[str, int]: ``total``, ``written``, ``skipped``,
        ``tmp_removed``.
    """
    from mmwsss.models.refiners.dense_crf import DenseCRF
    if len(cam_classes) and cam_dir is None:
        raise ValueError('cam_classes needs cam_dir (the CAM / seed files '
                         'to take those classes from).')
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
    if not 0.0 <= float(bg_th) <= 1.0:
        raise ValueError(f'bg_th must be in [0, 1], got {bg_th}.')
    if not 0.0 <= float(ignore_margin) <= 1.0:
        raise ValueError(
            f'ignore_margin must be in [0, 1], got {ignore_margin}.')
    job = _PngJob(
        out_dir, _palette(palette),
        partial(
            _pseudo_png,
            field=field,
            bg_th=bg_th,
            crf=crf_obj,
            ignore_margin=ignore_margin,
            cam_dir=cam_dir,
            cam_classes=tuple(int(c) for c in cam_classes)))
    more = []
    if len(cam_classes):
        more.append(
            dict(
                map_dir=cam_dir,
                producer='the CAM / seed files the random walk started '
                'from: tools/cam/infer_cams.py or tools/rsepm/infer_seeds.py'))
    items, stats = _items(dataset, map_dir, out_dir, overwrite, more)
    return _run_jobs(job, items, workers, progress, stats)
