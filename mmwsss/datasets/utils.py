"""Shared helpers of the mmwsss datasets (no registered classes here).

Every reader in this module raises an error that names the offending file
and says how to fix it, because a WSSS run usually fails far from the data
(in a dataloader worker) when a split or label file is wrong.
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

from mmwsss.utils.fileio import (DataFileError, MissingFileError, load_json,
                                 read_label_png, voc_palette)

__all__ = [
    'DataFileError', 'voc_palette', 'read_split', 'read_classes',
    'read_labels_json', 'labels_to_multihot', 'mask_labels',
    'check_mask_values', 'wsss_data_info', 'index_images', 'IMG_EXTENSIONS'
]

#: Image extensions the folder datasets look for, in order of preference.
IMG_EXTENSIONS: Tuple[str, ...] = ('.jpg', '.png', '.jpeg', '.JPG', '.PNG')


def read_split(split_file: str, hint: str = '') -> List[str]:
    """Read a split file (one image id per line, blank lines ignored).

    Args:
        split_file (str): Path of the ``.txt`` file.
        hint (str): Extra advice appended to the error messages.

    Returns:
        list[str]: The ids, in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        DataFileError: The file lists no id or an id twice.
    """
    if not osp.isfile(split_file):
        raise MissingFileError(
            f'Split file not found: {split_file}. Create it with one image '
            f'id (file name without extension) per line, or pick an '
            f'existing split. {hint}'.strip())
    with open(split_file, encoding='utf-8') as f:
        ids = [line.strip() for line in f]
    ids = [i for i in ids if i]
    if not ids:
        raise DataFileError(
            f'Split file is empty: {split_file}. It must list one image id '
            f'per line. {hint}'.strip())
    seen = set()
    for i in ids:
        if i in seen:
            raise DataFileError(
                f'Split file {split_file} lists the id "{i}" more than once; '
                f'remove the duplicate line.')
        seen.add(i)
    return ids


def read_classes(classes_file: str) -> Tuple[str, ...]:
    """Read ``classes.txt`` (one class name per line, background first).

    Raises:
        FileNotFoundError: The file does not exist.
        DataFileError: Fewer than 2 names or duplicates.
    """
    if not osp.isfile(classes_file):
        raise MissingFileError(
            f'Class list not found: {classes_file}. Create it with one class '
            f'name per line, "background" first (mask value 0), then the '
            f'foreground classes in mask-value order 1..K.')
    with open(classes_file, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    if len(names) < 2:
        raise DataFileError(
            f'Class list {classes_file} has {len(names)} name(s); it needs '
            f'the background name first and at least one foreground class.')
    if len(set(names)) != len(names):
        raise DataFileError(
            f'Class list {classes_file} contains duplicate names: {names}.')
    return tuple(names)


def read_labels_json(labels_file: str) -> Dict[str, List[int]]:
    """Read ``labels.json`` = ``{img_id: [present class indices 1..K]}``.

    Only the JSON structure is checked here; indices are checked against K
    by :func:`labels_to_multihot`.
    """
    labels = load_json(
        labels_file, 'Image-label file',
        'Write it as JSON {"<img_id>": [present class indices 1..K], ...}, '
        "or use label_source='mask' to derive labels from the masks.")
    if not isinstance(labels, dict):
        raise DataFileError(
            f'Image-label file {labels_file} must hold a JSON object '
            f'{{"<img_id>": [class indices 1..K]}}, got a '
            f'{type(labels).__name__}.')
    return labels


def labels_to_multihot(indices: Iterable,
                       num_classes: int,
                       source: str = '',
                       img_id: str = '') -> np.ndarray:
    """Turn class indices ``1..K`` into a float32 multi-hot vector ``(K,)``.

    Channel ``c`` of the result corresponds to mask class ``c + 1``.

    Args:
        indices (Iterable): Present foreground class indices in ``1..K``.
        num_classes (int): K, the number of foreground classes.
        source (str): The file the indices come from (for error messages).
        img_id (str): The image id (for error messages).

    Raises:
        DataFileError: An index is not an integer in ``1..K``.
    """
    vec = np.zeros(num_classes, dtype=np.float32)
    if isinstance(indices, (str, bytes)) or not hasattr(indices, '__iter__'):
        raise DataFileError(
            f'Labels of "{img_id}" in {source} must be a list of class '
            f'indices 1..{num_classes}, got {indices!r}. Fix the entry, '
            f'e.g. [1] (or [] for none).')
    for k in indices:
        ok = isinstance(k, (int, np.integer)) and not isinstance(k, bool)
        if ok:
            k = int(k)
        if not ok or not 1 <= k <= num_classes:
            raise DataFileError(
                f'Labels of "{img_id}" in {source} contain {k!r}, which is '
                f'not a class index in 1..{num_classes} (0 = background is '
                f'never listed; indices follow classes.txt). Fix the entry.')
        vec[k - 1] = 1.0
    return vec


def check_mask_values(mask: np.ndarray,
                      num_classes: int,
                      mask_path: str,
                      ignore_index: int = 255) -> None:
    """Raise if ``mask`` holds values outside ``{0..K, ignore_index}``."""
    values = np.unique(mask)
    bad = values[(values > num_classes) & (values != ignore_index)]
    bad = np.concatenate([bad, values[values < 0]])
    if bad.size:
        raise DataFileError(
            f'Mask {mask_path} contains values {bad.tolist()} outside '
            f'{{0..{num_classes}, {ignore_index}}} (0 background, 1..K '
            f'classes, {ignore_index} ignore). Check that classes.txt matches '
            f'the masks, or remap the mask values.')


def mask_labels(mask_path: str,
                num_classes: int,
                ignore_index: int = 255) -> np.ndarray:
    """Image labels from a mask: multi-hot of the unique values ``1..K``."""
    mask = read_label_png(mask_path, 'mask')
    check_mask_values(mask, num_classes, mask_path, ignore_index)
    values = np.unique(mask)
    present = values[(values >= 1) & (values <= num_classes)]
    vec = np.zeros(num_classes, dtype=np.float32)
    vec[present.astype(np.int64) - 1] = 1.0
    return vec


def index_images(img_dir: str,
                 extensions: Sequence[str] = IMG_EXTENSIONS) -> Dict[str, str]:
    """Map image id -> file name for the files of ``img_dir``.

    When an id exists with several extensions, the first extension of
    ``extensions`` wins.
    """
    if not osp.isdir(img_dir):
        raise MissingFileError(
            f'Image folder not found: {img_dir}. Check data_root and the '
            f'dataset layout.')
    rank = {ext: i for i, ext in enumerate(extensions)}
    found: Dict[str, Tuple[int, str]] = {}
    with os.scandir(img_dir) as it:
        for entry in it:
            stem, ext = osp.splitext(entry.name)
            if ext not in rank:
                continue
            if stem not in found or rank[ext] < found[stem][0]:
                found[stem] = (rank[ext], entry.name)
    return {k: v[1] for k, v in found.items()}


def wsss_data_info(img_id: str, img_path: str, seg_map_path: str,
                   with_masks: bool, check_mask: bool, split_file: str,
                   fix: str) -> dict:
    """The data info of one image of a WSSS dataset (the mmseg keys plus
    ``img_id``); with ``check_mask`` a missing mask raises
    :class:`MissingFileError` naming the mask, the id, the split file and
    ``fix``."""
    if check_mask and not osp.isfile(seg_map_path):
        raise MissingFileError(
            f'Mask file not found: {seg_map_path} (id "{img_id}" of '
            f'{split_file}). {fix}', seg_map_path)
    return dict(
        img_path=img_path,
        seg_map_path=seg_map_path if with_masks else None,
        img_id=img_id,
        label_map=None,
        reduce_zero_label=False,
        seg_fields=[])
