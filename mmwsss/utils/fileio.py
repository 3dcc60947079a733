# Copyright (c) mmwsss contributors. All rights reserved.
"""File I/O of mmwsss, one layer below datasets, models and apis.

- :class:`DataFileError`: the one error of every reader and writer; its
  message names the file and the fix (:class:`MissingFileError` for a
  missing file is also a ``FileNotFoundError``; :class:`OutputError`, an
  ``OSError`` too, for a file or folder that cannot be written, with the fix
  for its errno; :func:`check_writable_dir` finds that before long work).
- Atomic writers: a temp file in the destination folder
  (``<stem>.<pid>.tmp<ext>``), then :func:`os.replace`, so an interrupted
  job never leaves a partial final file (:func:`atomic_write` and the
  ``atomic_save_*`` helpers); :func:`clean_tmp_files` removes the temp files
  a killed job left. :class:`AtomicLocalBackend` does the same for MMEngine
  (checkpoints).
- Readers: images (:func:`load_rgb`), label PNGs
  (:func:`read_label_png`) and map files (:func:`load_cam`).

Map files (``<img_id>.npz``): ``keys`` int64 ``(|P| + 1,)`` (``[0] + [c +
1]`` for the present classes ``c``), and float maps ``(|P|, h, w)``:
``cam`` (stride 4) and ``hr_cam`` (full resolution) for CAMs and seeds,
``rw`` (full resolution) for random-walk maps.
"""
import glob
import json
import os
import os.path as osp
import zipfile
from pathlib import Path
from typing import BinaryIO, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.fileio import LocalBackend, register_backend
from PIL import Image

__all__ = [
    'TMP_TAG', 'CAM_FIELDS', 'MAP_FIELDS', 'DataFileError', 'MissingFileError',
    'OutputError', 'output_error', 'check_writable_dir', 'tmp_path',
    'atomic_write', 'atomic_save_npz', 'atomic_save_json',
    'atomic_save_lines', 'atomic_save_png', 'clean_tmp_files', 'load_rgb',
    'read_label_png', 'load_cam', 'voc_palette', 'AtomicLocalBackend',
    'register_atomic_local_backend'
]

#: Marker in the temp-file names (``<stem>.<pid>.tmp<ext>``).
TMP_TAG = '.tmp'

#: Arrays of a CAM / seed file.
CAM_FIELDS = ('keys', 'cam', 'hr_cam')

#: Full-resolution map arrays of map files (CAM / seed, random walk).
MAP_FIELDS = ('hr_cam', 'rw')


class DataFileError(ValueError):
    """A data file (image, mask, map, split, label list) is missing,
    unreadable or has invalid content. The message names the file and says
    how to fix it.

    Args:
        message (str): Full message (should contain the file name).
        path (str, optional): The offending file.
    """

    def __init__(self, message: str, path: Optional[str] = None) -> None:
        super().__init__(message)
        self.path = path


class MissingFileError(DataFileError, FileNotFoundError):
    """A data file does not exist."""


class OutputError(DataFileError, OSError):
    """An output file or folder cannot be written (read-only, not a folder,
    disk full). The message names the path and the fix; ``errno`` is the
    one of the failed call."""

    def __init__(self, message: str, path: Optional[str] = None,
                 errno: Optional[int] = None) -> None:
        super().__init__(message, path)
        self.errno = errno


#: What to do about an output error, by errno name.
_OUTPUT_FIXES = {
    'ENOSPC': 'free space on that disk or write somewhere else',
    'EDQUOT': 'free space (disk quota) or write somewhere else',
    'EROFS': 'the file system is read-only: write somewhere else',
    'EACCES': 'make it writable or write somewhere else',
    'EPERM': 'make it writable or write somewhere else',
    'ENOTDIR': 'a part of the path is a file, not a folder: choose another '
    'path',
    'EEXIST': 'a file is in the way of the folder: choose another path',
    'EISDIR': 'a folder is in the way of the file: choose another path',
}


def output_error(err: OSError, path: str) -> OutputError:
    """The :class:`OutputError` of an ``OSError`` raised while writing
    ``path``: ``cannot write <path>: <reason>; <fix>``."""
    import errno as errno_mod
    name = errno_mod.errorcode.get(err.errno or 0, '')
    fix = _OUTPUT_FIXES.get(name, 'check the path and the disk')
    reason = err.strerror or str(err)
    return OutputError(f'cannot write {path}: {reason}; {fix}.', path,
                       err.errno)


def check_writable_dir(path: str, what: str = 'output folder') -> None:
    """Prove that the folder ``path`` can be created and written, before
    any long work, without creating it: a probe file is written into its
    nearest existing ancestor (its own folder if it exists) and removed. A
    read-only, full or blocked (a file in the way) folder is an
    :class:`OutputError` naming ``what``, the folder and the fix.

    Args:
        path (str): The folder.
        what (str): How the user names it (e.g. ``'--out-dir'``).
    """
    import errno as errno_mod
    path = osp.abspath(str(path))
    base = path
    while not osp.exists(base) and osp.dirname(base) != base:
        base = osp.dirname(base)
    if not osp.isdir(base):
        raise OutputError(
            f'{what} is not writable: cannot write {path}: {base} is a '
            f'file, not a folder; choose another path.', path,
            errno_mod.ENOTDIR)
    probe = osp.join(base, f'.write_probe.{os.getpid()}{TMP_TAG}')
    try:
        with open(probe, 'wb') as f:
            f.write(b'0')
        os.remove(probe)
    except OSError as e:
        err = output_error(e, path)
        raise OutputError(f'{what} is not writable: {err}', path,
                          e.errno) from e


def tmp_path(path: str) -> str:
    """Temporary sibling of ``path`` used by :func:`atomic_write`.

    ``out/2007_000032.npz`` -> ``out/2007_000032.<pid>.tmp.npz``; the
    extension is kept so that numpy / PIL do not append another one.

    Args:
        path (str): Final file name.

    Returns:
        str: Temporary file name in the same folder.
    """
    stem, ext = osp.splitext(path)
    return f'{stem}.{os.getpid()}{TMP_TAG}{ext}'


def atomic_write(path: str,
                 write_fn: Callable[[BinaryIO], object],
                 fsync: bool = False) -> None:
    """Write ``path`` through ``write_fn(fileobj)`` into a temp file, then
    rename it over ``path`` (:func:`os.replace`).

    The destination is either its old content or the complete new one;
    an exception removes the temp file (a killed process leaves it, under
    the name of :func:`tmp_path`).

    Args:
        path (str): Destination; its folder is created if needed.
        write_fn (callable): Writes the content into the binary file object.
        fsync (bool): fsync the temp file before the rename (survives a
            power loss, slower). Defaults to False.
    """
    path = str(path)
    tmp = tmp_path(path)
    try:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(tmp, 'wb') as f:
            write_fn(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise output_error(e, path) from e
        raise


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


def atomic_save_json(path: str,
                     obj,
                     indent: Optional[int] = 2,
                     one_key_per_line: bool = False,
                     **json_kwargs) -> None:
    """Write ``obj`` as JSON (a report, a summary, a label list) atomically.

    Args:
        path (str): Destination ``.json``.
        obj: JSON-serialisable object.
        indent (int, optional): ``json.dumps`` indent. Defaults to 2.
        one_key_per_line (bool): Write a dict one key per line (compact and
            diff-friendly, like ``labels.json`` of the benchmark sets);
            ``indent`` is then unused. Defaults to False.
        **json_kwargs: More ``json.dumps`` options (e.g. ``allow_nan``).
    """
    if one_key_per_line and isinstance(obj, dict):
        body = ',\n'.join(f'{json.dumps(str(k), **json_kwargs)}: '
                          f'{json.dumps(v, **json_kwargs)}'
                          for k, v in obj.items())
        text = '{\n' + body + ('\n' if body else '') + '}\n'
    else:
        text = json.dumps(obj, indent=indent, **json_kwargs) + '\n'
    atomic_write(path, lambda f: f.write(text.encode()))


def atomic_save_lines(path: str, lines: Sequence[str]) -> None:
    """Write text lines (newline-terminated) atomically."""
    data = ''.join(f'{line}\n' for line in lines).encode()
    atomic_write(path, lambda f: f.write(data))


def voc_palette(num_colors: int = 256) -> List[List[int]]:
    """The PASCAL VOC colour palette (bit-interleaved label index).

    Colour ``i`` spreads the bits of ``i`` over the high bits of R, G and B,
    so index 0 is black, 1 is dark red (128, 0, 0), 2 dark green ...; it is
    the palette of VOC ``SegmentationClass`` PNGs and is deterministic for
    any number of classes.

    Args:
        num_colors (int): Number of colours. Defaults to 256.

    Returns:
        list[list[int]]: ``num_colors`` RGB triplets.
    """
    palette = []
    for i in range(num_colors):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.append([r, g, b])
    return palette


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


def clean_tmp_files(out_dir: str) -> int:
    """Remove the temp files that interrupted atomic writes left in
    ``out_dir`` (run it before a job restarts; not while another job writes
    there).

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


def load_json(path: str, what: str, fix: str):
    """Read a JSON file; errors name ``what``, the file and ``fix``.

    Raises:
        MissingFileError: No such file.
        DataFileError: Unreadable or not valid JSON.
    """
    if not osp.isfile(path):
        raise MissingFileError(f'{what} not found: {path}. {fix}', path)
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise DataFileError(
            f'{what} {path} is not valid JSON ({e}). {fix}', path) from e


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
        raise MissingFileError(f'Image not found: {path}', path)
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert('RGB'), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError) as e:
        raise DataFileError(
            f'Cannot read image {path}: {type(e).__name__}: {e}', path) from e


def read_label_png(path: str, what: str = 'label map') -> np.ndarray:
    """Read the stored indices of a single-channel label PNG (GT mask,
    pseudo label, prediction); palette PNGs keep their indices.

    Args:
        path (str): PNG file.
        what (str): Name used in error messages (e.g. ``'GT mask'``).

    Returns:
        np.ndarray: ``(H, W)`` uint8.

    Raises:
        MissingFileError: No such file.
        DataFileError: Unreadable file, a colour image, or values outside
            0..255.
    """
    if not osp.isfile(path):
        raise MissingFileError(f'{what} not found: {path}', path)
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode not in ('L', 'P', 'I', 'I;16', '1'):
                raise DataFileError(
                    f'{what} {path} has image mode {img.mode}; label maps '
                    f'must be single-channel (uint8 L or palette P: 0 '
                    f'background, 1..K classes, 255 ignore). Convert colour '
                    f'masks to class indices.', path)
            arr = np.array(img)
    except DataFileError:
        raise
    except Exception as e:  # PIL raises many types for corrupt files
        raise DataFileError(
            f'Cannot decode {what} {path} ({type(e).__name__}: {e}). The '
            f'file is corrupt or not an image: regenerate or replace it, or '
            f'remove its id from the split.', path) from e
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise DataFileError(f'{what} {path} has values outside 0..255.',
                                path)
        arr = arr.astype(np.uint8)
    return arr


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
        raise MissingFileError(f'map file not found: {path}', path)
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


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend with atomic, fsynced writes.

    MMEngine writes checkpoints with ``open(path, 'wb').write(...)``; a run
    killed during the write leaves a truncated ``iter_N.pth``. ``put`` and
    ``put_text`` here go through :func:`atomic_write` instead. Reading,
    listing and removing are MMEngine's.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically (folder created)."""
        atomic_write(str(filepath), lambda f: f.write(obj), fsync=True)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: Optional[str] = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (folder created)."""
        data = obj.encode(encoding or 'utf-8')
        atomic_write(str(filepath), lambda f: f.write(data), fsync=True)


def register_atomic_local_backend() -> None:
    """Make :class:`AtomicLocalBackend` MMEngine's backend for local paths
    (backend name ``local``, empty prefix). Idempotent."""
    from mmengine.fileio.backends import backends
    if backends.get('local') is AtomicLocalBackend:
        return
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
