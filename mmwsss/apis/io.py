"""File helpers of the CAM / pseudo-label jobs (the readers and atomic
writers live in :mod:`mmwsss.utils.fileio`)."""
import json
import os
import os.path as osp
from typing import Iterable, List, Tuple

import numpy as np

from mmwsss.utils.fileio import (CAM_FIELDS, DataFileError, atomic_save_json,
                                 atomic_save_npz, atomic_save_png,
                                 clean_tmp_files, image_size, load_cam,
                                 load_rgb, read_label_png, tmp_path)

__all__ = [
    'DataFileError', 'tmp_path', 'atomic_save_npz', 'atomic_save_png',
    'atomic_save_json', 'load_cam', 'read_label_png', 'load_rgb', 'image_size',
    'clean_tmp_files', 'pending_ids', 'read_folder_split', 'CAM_FIELDS'
]


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
