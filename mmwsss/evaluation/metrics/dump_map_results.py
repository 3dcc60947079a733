# Copyright (c) mmwsss contributors. All rights reserved.
"""Write the maps / label maps of a test run as files (an export)."""
import json
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS

from mmwsss.utils.checks import check_choices
from mmwsss.utils.fileio import (DataFileError, atomic_save_json,
                                 atomic_save_npz, atomic_save_png,
                                 check_writable_dir, voc_palette)

__all__ = ['DumpMapResults', 'KIND_SUFFIX', 'MANIFEST', 'check_manifest']

#: Output file extension of every kind.
KIND_SUFFIX = {'cam': '.npz', 'seed': '.npz', 'rw': '.npz', 'png': '.png'}

#: Name of the manifest file of an output folder.
MANIFEST = 'manifest.json'

#: Manifest entries that must match for a run to resume into a folder.
_IDENTITY = ('kind', 'checkpoint_sha256', 'config_sha256')


def check_manifest(out_dir: str, manifest: dict, overwrite: bool) -> None:
    """Refuse to add files to a folder written by another export.

    Args:
        out_dir (str): Output folder.
        manifest (dict): This run's manifest (``kind``,
            ``checkpoint_sha256``, ``config_sha256``, ``checkpoint``,
            ``options``).
        overwrite (bool): Replace the folder's manifest instead.

    Raises:
        DataFileError: The folder's ``manifest.json`` differs in the kind,
            the checkpoint or the model / pipeline / export options.
    """
    path = osp.join(out_dir, MANIFEST)
    if overwrite or not osp.isfile(path):
        return
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError) as e:
        raise DataFileError(
            f'{path} is unreadable ({e}); use a new output folder or '
            f'--overwrite.', path) from e
    if all(old.get(k) == manifest.get(k) for k in _IDENTITY):
        return

    def _who(m):
        return (f'{m.get("kind")} export of checkpoint {m.get("checkpoint")} '
                f'(sha256 {m.get("checkpoint_sha256")}), config hash '
                f'{m.get("config_sha256")}')

    raise DataFileError(
        f'{out_dir} holds the {_who(old)} ({path}); this run is the '
        f'{_who(manifest)}. Resuming would mix their files: choose a new '
        f'output folder (--out-dir) or recompute every image with '
        f'--overwrite.', path)


@METRICS.register_module()
class DumpMapResults(BaseMetric):
    """Write every prediction of a test run to ``<out_dir>/<img_id>.<ext>``
    (an "evaluator" in the manner of mmdet's ``DumpDetResults``).

    Kinds (fields of the data samples -> file):

    - ``'cam'`` / ``'seed'``: ``cam_keys``, ``pred_cam_s4``, ``pred_cam``
      -> ``.npz`` with ``keys`` (int64), ``cam`` (float32, stride 4) and
      ``hr_cam`` (``map_dtype``), the CAM-file format every later stage
      reads (:class:`MultiScaleCAM`);
    - ``'rw'``: ``cam_keys``, ``pred_rw`` -> ``.npz`` with ``keys`` and
      ``rw`` (``map_dtype``) (:class:`RandomWalkMaps`);
    - ``'png'``: ``pred_sem_seg`` -> uint8 label PNG (mode P with the VOC
      palette, or L with ``palette=None``).

    Every file is written atomically (temp file + rename). With a
    ``manifest`` the output folder gets ``manifest.json`` (written by rank
    0 with its first file), and a folder whose manifest names another
    checkpoint, kind or model / pipeline / export options is refused at
    construction, before any model work (:func:`check_manifest`), unless
    ``overwrite``. Every
    rank writes its own images, and without ``overwrite`` an existing file
    is never replaced (a second write of an image is an error);
    ``compute_metrics`` reports ``written`` and ``no_class`` (images
    without any present class).

    Args:
        out_dir (str): Output folder.
        kind (str): ``'cam'``, ``'seed'``, ``'rw'`` or ``'png'``.
            Defaults to 'cam'.
        map_dtype (str): ``'float32'`` or ``'float16'`` storage of
            ``hr_cam`` / ``rw``. Defaults to 'float32'.
        compress (bool): ``np.savez_compressed``. Defaults to False.
        palette (str, optional): ``'png'``: ``'voc'`` or None (mode L).
            Defaults to 'voc'.
        manifest (dict, optional): See :func:`check_manifest`.
        overwrite (bool): Replace existing files and a differing manifest.
            Defaults to False.
        collect_device (str): Defaults to 'cpu'.
        prefix (str): Metric prefix. Defaults to 'export'.
    """

    def __init__(self,
                 out_dir: str,
                 kind: str = 'cam',
                 map_dtype: str = 'float32',
                 compress: bool = False,
                 palette: Optional[str] = 'voc',
                 manifest: Optional[dict] = None,
                 overwrite: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = 'export') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        check_choices(
            kind=(kind, sorted(KIND_SUFFIX)),
            map_dtype=(map_dtype, ('float32', 'float16')),
            palette=(palette, ('voc', None)))
        self.out_dir = out_dir
        self.kind = kind
        self.map_dtype = np.float16 if map_dtype == 'float16' else np.float32
        self.compress = compress
        self.palette = palette
        self.overwrite = overwrite
        self.manifest = manifest
        check_writable_dir(out_dir, 'the output folder (export.out_dir, '
                           '--out-dir)')
        if manifest is not None:
            check_manifest(out_dir, manifest, overwrite)

    def _write_manifest(self) -> None:
        """Rank 0 writes the manifest with its first file (after the
        checkpoint is loaded and checked), unless it is there already."""
        path = osp.join(self.out_dir, MANIFEST)
        if self.manifest is not None and is_main_process() and (
                self.overwrite or not osp.isfile(path)):
            atomic_save_json(path, self.manifest, sort_keys=True)
        self.manifest = None

    def _palette(self):
        return None if self.palette is None else voc_palette(256)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Write the files of a batch.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Model outputs (as dicts).
        """
        if self.manifest is not None:
            self._write_manifest()
        for s in data_samples:
            img_id = s.get('img_id') or osp.splitext(
                osp.basename(s['img_path']))[0]
            path = osp.join(self.out_dir, img_id + KIND_SUFFIX[self.kind])
            if not self.overwrite and osp.exists(path):
                raise DataFileError(
                    f'{path} exists already: another process or an earlier '
                    f'sample of this run wrote it (repeated image id, or a '
                    f'sampler that repeats images: use round_up=False). Use '
                    f'--overwrite to replace files.', path)
            if self.kind == 'png':
                label = _np(s['pred_sem_seg'])
                atomic_save_png(path, label.reshape(label.shape[-2:]),
                                self._palette())
                self.results.append(0)
                continue
            keys = _np(s['cam_keys']).astype(np.int64)
            if self.kind == 'rw':
                arrays = dict(rw=_np(s['pred_rw']).astype(self.map_dtype))
            else:
                arrays = dict(
                    cam=_np(s['pred_cam_s4']).astype(np.float32),
                    hr_cam=_np(s['pred_cam']).astype(self.map_dtype))
            atomic_save_npz(path, self.compress, keys=keys, **arrays)
            self.results.append(int(keys.size == 1))

    def compute_metrics(self, results: list) -> Dict[str, int]:
        """``written`` files and ``no_class`` images."""
        return dict(written=len(results), no_class=int(sum(results)))


def _np(x) -> np.ndarray:
    """Tensor / ``{'data': tensor}`` -> numpy."""
    if isinstance(x, dict):
        x = x['data']
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)
