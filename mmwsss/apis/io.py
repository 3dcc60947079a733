"""File helpers for CAM / pseudo-label jobs: atomic writers, checked readers
and resumable-job helpers.

Every writer puts the data in a temporary file in the destination folder
(``<stem>.<pid>.tmp<ext>``) and renames it over the final name with
:func:`os.replace`, so an interrupted job never leaves a partial final file.
Stale temporary files are removed by :func:`clean_tmp_files` when a job
(re)starts; running two jobs on the same output folder at the same time is
not supported.

Every reader raises :class:`DataFileError` naming the offending file.
"""
import glob
import json
import os
import os.path as osp
import zipfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from mmwsss.utils.fileio import TMP_TAG, atomic_write, tmp_path

__all__ = [
    'DataFileError', 'tmp_path', 'atomic_save_npz', 'atomic_save_png',
    'atomic_save_json',
    'load_cam', 'load_label_png', 'load_rgb', 'image_size', 'clean_tmp_files',
    'pending_ids', 'read_folder_split', 'CAM_FIELDS'
]

#: Arrays of a CAM file (see ``docs/dev_contracts.md``).
CAM_FIELDS = ('keys', 'cam', 'hr_cam')


class DataFileError(RuntimeError):
    """A data file (image, CAM, mask, label) is missing, unreadable or has
    unexpected content. The message always names the file.

    Args:
        message (str): Full message (should contain the file name).
        path (str, optional): The offending file.
    """

    def __init__(self, message: str, path: Optional[str] = None) -> None:
        super().__init__(message)
        self.path = path


def atomic_save_npz(path: str,
                    compress: bool = False,
                    fsync: bool = False,
                    **arrays: np.ndarray) -> None:
    """Save arrays to ``path`` (``.npz``) atomically.

    Args:
        path (str): Destination, normally ending with ``.npz``.
        compress (bool): Use ``np.savez_compressed``. Defaults to False.
        fsync (bool): fsync the temp file before the rename (crash safety
            against power loss, slower). Defaults to False.
        **arrays: Arrays to store, by name.
    """
    saver = np.savez_compressed if compress else np.savez
    atomic_write(path, lambda f: saver(f, **arrays), fsync=fsync)


def atomic_save_json(path: str, obj, indent: Optional[int] = 2,
                     **json_kwargs) -> None:
    """Write ``obj`` as JSON (a report, a summary) to ``path`` atomically.

    Args:
        path (str): Destination ``.json``.
        obj: JSON-serialisable object.
        indent (int, optional): ``json.dumps`` indent. Defaults to 2.
        **json_kwargs: More ``json.dumps`` options (e.g. ``allow_nan``).
    """
    text = json.dumps(obj, indent=indent, **json_kwargs) + '\n'
    atomic_write(path, lambda f: f.write(text.encode()))


def _palette_list(palette) -> List[int]:
    pal = np.asarray(palette, dtype=np.int64).reshape(-1)
    if pal.size % 3 != 0 or pal.size > 768:
        raise ValueError('palette must hold at most 256 RGB triplets, got '
                         f'{pal.size} values.')
    if pal.min(initial=0) < 0 or pal.max(initial=0) > 255:
        raise ValueError('palette values must be in 0..255.')
    # pad to 256 colours: PIL writes fewer bits per pixel for short
    # palettes, which would clip index 255 (ignore)
    return pal.tolist() + [0] * (768 - pal.size)


def atomic_save_png(path: str,
                    array_uint8: np.ndarray,
                    palette: Optional[Union[Sequence, np.ndarray]] = None,
                    fsync: bool = False) -> None:
    """Save a single-channel uint8 label map as PNG atomically.

    Args:
        path (str): Destination ``.png``.
        array_uint8 (np.ndarray): ``(H, W)`` uint8 (class ids, 255 ignore).
        palette (Sequence | np.ndarray, optional): RGB colours, ``(N, 3)``
            or flat; when given the PNG is palette-indexed (mode ``P``, the
            raw indices are still the class ids). Defaults to None (mode L).
        fsync (bool): fsync before the rename. Defaults to False.
    """
    arr = np.asarray(array_uint8)
    if arr.ndim != 2:
        raise ValueError(f'{path}: label map must be 2-D (H, W), got shape '
                         f'{arr.shape}.')
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f'{path}: label values must be in 0..255.')
        arr = arr.astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(arr))  # mode L
    if palette is not None:
        img.putpalette(_palette_list(palette))  # L -> P, indices kept
    atomic_write(path, lambda f: img.save(f, format='PNG'), fsync=fsync)


def load_cam(path: str,
             fields: Sequence[str] = CAM_FIELDS,
             validate: bool = True) -> Dict[str, np.ndarray]:
    """Read a CAM file written by ``tools/cam/infer_cams.py``.

    Only the requested arrays are read (``np.load`` of an ``.npz`` is lazy).

    Args:
        path (str): ``<img_id>.npz``.
        fields (Sequence[str]): Arrays to return. Defaults to
            ``('keys', 'cam', 'hr_cam')``.
        validate (bool): Check dtypes / shapes against the contract
            (``keys`` 1-D integer starting with 0, maps ``(|P|, h, w)``,
            finite values). Defaults to True.

    Returns:
        dict[str, np.ndarray]: The requested arrays.

    Raises:
        DataFileError: The file is missing, corrupt, lacks a field or does
            not match the contract.
    """
    if not osp.isfile(path):
        raise DataFileError(f'CAM file not found: {path}', path)
    out = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in fields if k not in data.files]
            if missing:
                raise DataFileError(
                    f'CAM file {path} lacks array(s) {missing} (has '
                    f'{sorted(data.files)}). Re-run tools/cam/infer_cams.py '
                    f'for it.', path)
            for k in fields:
                out[k] = data[k]
    except DataFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise DataFileError(
            f'Corrupt or unreadable CAM file {path}: {type(e).__name__}: {e}. '
            f'Delete it and re-run tools/cam/infer_cams.py (it resumes).',
            path) from e
    if validate:
        _validate_cam(path, out)
    return out


def _validate_cam(path: str, arrays: Dict[str, np.ndarray]) -> None:
    num = None
    if 'keys' in arrays:
        keys = arrays['keys']
        if keys.ndim != 1 or keys.size < 1 or not np.issubdtype(
                keys.dtype, np.integer) or keys[0] != 0:
            raise DataFileError(
                f'CAM file {path}: "keys" must be a 1-D integer array '
                f'starting with 0, got dtype {keys.dtype} shape '
                f'{keys.shape}.', path)
        num = keys.size - 1
    for name in ('cam', 'hr_cam', 'rw'):
        if name not in arrays:
            continue
        arr = arrays[name]
        if arr.ndim != 3 or not np.issubdtype(arr.dtype, np.floating):
            raise DataFileError(
                f'CAM file {path}: "{name}" must be a float array '
                f'(|P|, h, w), got dtype {arr.dtype} shape {arr.shape}.', path)
        if num is not None and arr.shape[0] != num:
            raise DataFileError(
                f'CAM file {path}: "{name}" has {arr.shape[0]} maps but '
                f'"keys" lists {num} present classes.', path)
        if arr.size and not np.isfinite(arr).all():
            raise DataFileError(
                f'CAM file {path}: "{name}" contains NaN/inf values.', path)


def load_label_png(path: str, what: str = 'label map') -> np.ndarray:
    """Read the raw indices of a single-channel (L or P mode) label PNG.

    Args:
        path (str): PNG file.
        what (str): Name used in error messages (e.g. ``'GT mask'``).

    Returns:
        np.ndarray: ``(H, W)`` uint8.

    Raises:
        DataFileError: Missing / unreadable file or a colour (RGB) image.
    """
    if not osp.isfile(path):
        raise DataFileError(f'{what} not found: {path}', path)
    try:
        with Image.open(path) as img:
            if img.mode not in ('L', 'P', 'I', 'I;16'):
                raise DataFileError(
                    f'{what} {path} has mode {img.mode}; expected a '
                    f'single-channel (L) or palette-indexed (P) PNG holding '
                    f'class ids.', path)
            arr = np.array(img)
    except DataFileError:
        raise
    except (OSError, ValueError, SyntaxError) as e:
        raise DataFileError(
            f'Cannot read {what} {path}: {type(e).__name__}: {e}', path) from e
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise DataFileError(f'{what} {path} has values outside 0..255.',
                                path)
        arr = arr.astype(np.uint8)
    return arr


def load_rgb(path: str) -> np.ndarray:
    """Read an image as uint8 RGB with PIL (no EXIF rotation).

    Args:
        path (str): Image file.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8.

    Raises:
        DataFileError: Missing or unreadable image.
    """
    if not osp.isfile(path):
        raise DataFileError(f'Image not found: {path}', path)
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert('RGB'), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError) as e:
        raise DataFileError(
            f'Cannot read image {path}: {type(e).__name__}: {e}', path) from e


def image_size(path: str) -> Tuple[int, int]:
    """``(H, W)`` of an image from its header only.

    Raises:
        DataFileError: Missing or unreadable image.
    """
    if not osp.isfile(path):
        raise DataFileError(f'Image not found: {path}', path)
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, ValueError, SyntaxError) as e:
        raise DataFileError(
            f'Cannot read image {path}: {type(e).__name__}: {e}', path) from e
    return h, w


def clean_tmp_files(out_dir: str) -> int:
    """Remove temporary files left by interrupted atomic writes.

    Args:
        out_dir (str): Output folder of a job.

    Returns:
        int: Number of files removed.
    """
    if not osp.isdir(out_dir):
        return 0
    removed = 0
    for f in glob.glob(osp.join(glob.escape(out_dir), f'*{TMP_TAG}.*')):
        try:
            os.remove(f)
            removed += 1
        except OSError:
            pass
    return removed


def pending_ids(ids: Iterable[str],
                out_dir: str,
                suffix: str = '.npz') -> List[str]:
    """Ids whose output ``<out_dir>/<id><suffix>`` does not exist yet
    (order kept, duplicates dropped).

    Args:
        ids (Iterable[str]): All ids of the job.
        out_dir (str): Output folder.
        suffix (str): Output extension. Defaults to '.npz'.

    Returns:
        list[str]: Ids still to do.
    """
    seen = set()
    out = []
    for i in ids:
        if i in seen:
            continue
        seen.add(i)
        if not osp.isfile(osp.join(out_dir, i + suffix)):
            out.append(i)
    return out


def read_folder_split(data_root: str,
                      split: str,
                      img_dir: str = 'images',
                      mask_dir: str = 'masks',
                      labels_file: str = 'labels.json',
                      classes_file: str = 'classes.txt',
                      need_images: bool = True,
                      need_labels: bool = True) -> Tuple[List[dict], list]:
    """Minimal reader of the mmwsss folder layout (see
    ``docs/dev_contracts.md``), for the CAM tools.

    Args:
        data_root (str): Dataset root.
        split (str): Split name (``splits/<split>.txt``) or a ``.txt`` path.
        img_dir (str): Image folder. Defaults to 'images'.
        mask_dir (str): Mask folder. Defaults to 'masks'.
        labels_file (str): Label JSON. Defaults to 'labels.json'.
        classes_file (str): Class list. Defaults to 'classes.txt'.
        need_images (bool): Resolve image paths (error if missing).
        need_labels (bool): Read ``img_labels`` from the label JSON.

    Returns:
        tuple[list[dict], list[str]]: Data infos (``img_id``, ``img_path``
        or None, ``seg_map_path``, ``img_labels`` when requested) and the
        class names (background first).
    """
    if not osp.isdir(data_root):
        raise DataFileError(f'Dataset root not found: {data_root}', data_root)
    classes_path = osp.join(data_root, classes_file)
    if not osp.isfile(classes_path):
        raise DataFileError(f'Class list not found: {classes_path}',
                            classes_path)
    with open(classes_path) as f:
        classes = [ln.strip() for ln in f if ln.strip()]
    split_path = split if split.endswith('.txt') else osp.join(
        data_root, 'splits', f'{split}.txt')
    if not osp.isabs(split_path) and not osp.isfile(split_path):
        split_path = osp.join(data_root, split_path)
    if not osp.isfile(split_path):
        raise DataFileError(f'Split file not found: {split_path}', split_path)
    with open(split_path) as f:
        ids = [ln.strip().split()[0] for ln in f if ln.strip()]
    labels = None
    if need_labels:
        lpath = osp.join(data_root, labels_file)
        if not osp.isfile(lpath):
            raise DataFileError(f'Label file not found: {lpath}', lpath)
        try:
            with open(lpath) as f:
                labels = json.load(f)
        except (OSError, ValueError) as e:
            raise DataFileError(f'Cannot read label file {lpath}: {e}',
                                lpath) from e
    images = {}
    if need_images:
        idir = osp.join(data_root, img_dir)
        if not osp.isdir(idir):
            raise DataFileError(f'Image folder not found: {idir}', idir)
        for name in os.listdir(idir):
            stem, ext = osp.splitext(name)
            if ext.lower() in ('.jpg', '.jpeg', '.png', '.bmp'):
                images.setdefault(stem, osp.join(idir, name))
    num_fg = len(classes) - 1
    infos = []
    for img_id in ids:
        info = dict(
            img_id=img_id,
            img_path=None,
            seg_map_path=osp.join(data_root, mask_dir, img_id + '.png'))
        if need_images:
            if img_id not in images:
                raise DataFileError(
                    f'Split {split_path} lists "{img_id}" but no image '
                    f'{osp.join(data_root, img_dir, img_id)}.jpg/.png '
                    f'exists.', split_path)
            info['img_path'] = images[img_id]
        if labels is not None:
            if img_id not in labels:
                raise DataFileError(
                    f'{osp.join(data_root, labels_file)} has no entry for '
                    f'"{img_id}".', osp.join(data_root, labels_file))
            y = np.zeros(num_fg, dtype=np.float32)
            for c in labels[img_id]:
                if not 1 <= int(c) <= num_fg:
                    raise DataFileError(
                        f'{osp.join(data_root, labels_file)}: class {c} of '
                        f'"{img_id}" is outside 1..{num_fg}.',
                        osp.join(data_root, labels_file))
                y[int(c) - 1] = 1.0
            info['img_labels'] = y
        infos.append(info)
    return infos, classes
