# Copyright (c) mmwsss contributors. All rights reserved.
"""Dataset wrapper of a resumable export: the images still to write."""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.dist import broadcast_object_list, get_rank, get_world_size
from mmengine.logging import print_log
from mmseg.registry import DATASETS

from mmwsss.utils.fileio import DataFileError, clean_tmp_files

__all__ = ['PendingOutputsDataset']


def _img_id(info: dict) -> str:
    return info.get('img_id') or osp.splitext(osp.basename(
        info['img_path']))[0]


@DATASETS.register_module()
class PendingOutputsDataset:
    """The images of ``dataset`` whose ``<out_dir>/<img_id><suffix>`` does
    not exist yet: a resumed export skips finished images before any model
    work.

    At initialisation (rank 0, before any output is written): stale temp
    files of an interrupted run are removed from ``out_dir``, repeated image
    ids are kept once, finished images are dropped (all are kept with
    ``overwrite``), and with ``inputs`` every pending image must have its
    input file ``<map_dir>/<img_id><suffix>`` in each input folder (else
    one error lists the missing files of the first incomplete folder
    before the run starts). In distributed runs the
    list is computed once on rank 0 and broadcast, so all ranks split the
    same images (use a sampler with ``round_up=False`` so that each image
    is written by exactly one rank).

    Args:
        dataset (dict | Dataset): The dataset (config) to export.
        out_dir (str): Output folder.
        suffix (str): Output file extension. Defaults to '.npz'.
        overwrite (bool): Keep every image (recompute existing files).
            Defaults to False.
        inputs (dict | Sequence[dict], optional): ``map_dir`` and
            ``suffix`` (default '.npz') of the input files each image needs
            (e.g. the CAMs of a random walk), and ``producer``, named in the
            error; a list of such dicts for several input folders.
        lazy_init (bool): Defer :meth:`full_init`. Defaults to False.
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 out_dir: str,
                 suffix: str = '.npz',
                 overwrite: bool = False,
                 inputs: Optional[Union[dict, Sequence[dict]]] = None,
                 lazy_init: bool = False) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset,
                                                             dict) else dataset
        self.out_dir = out_dir
        self.suffix = suffix
        self.overwrite = overwrite
        if isinstance(inputs, dict):
            inputs = [inputs]
        self.inputs = [dict(i) for i in inputs or ()]
        self._metainfo = self.dataset.metainfo
        self.indices: List[int] = []
        self.stats = {}
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The metainfo of the wrapped dataset."""
        return copy.deepcopy(self._metainfo)

    def _pending(self) -> dict:
        """The indices to export and the job statistics (rank 0)."""
        tmp_removed = clean_tmp_files(self.out_dir)
        seen, todo, total = set(), [], 0
        for i in range(len(self.dataset)):
            img_id = _img_id(self.dataset.get_data_info(i))
            if img_id in seen:
                continue
            seen.add(img_id)
            total += 1
            if self.overwrite or not osp.isfile(
                    osp.join(self.out_dir, img_id + self.suffix)):
                todo.append((i, img_id))
        for need in self.inputs:
            suffix = need.get('suffix', '.npz')
            need_paths = [
                osp.join(need['map_dir'], img_id + suffix)
                for _, img_id in todo
            ]
            missing = [p for p in need_paths if not osp.isfile(p)]
            if missing:
                shown = ', '.join(
                    missing[:3]) + (' ...' if len(missing) > 3 else '')
                producer = need.get('producer', 'the previous stage')
                raise DataFileError(
                    f'{len(missing)} input files not found in '
                    f'{need["map_dir"]} ({shown}); produce them '
                    f'first ({producer}) or check the split.', missing[0])
        return dict(
            indices=[i for i, _ in todo],
            stats=dict(
                total=total,
                pending=len(todo),
                done=total - len(todo),
                tmp_removed=tmp_removed))

    def full_init(self) -> None:
        """Compute the pending images (rank 0) and share them."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        result = [None]
        if get_rank() == 0:
            try:
                result = [self._pending()]
            except DataFileError as e:
                result = [e]
        if get_world_size() > 1:
            broadcast_object_list(result, src=0)
        if isinstance(result[0], Exception):
            raise result[0]
        self.indices = result[0]['indices']
        self.stats = result[0]['stats']
        s = self.stats
        print_log(
            f'{self.out_dir}: {s["pending"]} of {s["total"]} images to '
            f'write, {s["done"]} already done' +
            (f', {s["tmp_removed"]} stale temp files removed'
             if s['tmp_removed'] else ''),
            logger='current')
        self._fully_initialized = True

    def get_data_info(self, idx: int) -> dict:
        """The data info of the ``idx``-th pending image."""
        return self.dataset.get_data_info(self.indices[idx])

    def __getitem__(self, idx: int) -> dict:
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)
