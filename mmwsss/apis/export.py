# Copyright (c) mmwsss contributors. All rights reserved.
"""Export and file-evaluation configs for ``tools/test.py``.

An *export config* is a model config plus one of the ``export`` snippets of
``configs/_base_/export/`` (CAMs, RS+EPM seeds, random-walk maps). When a
config has an ``export`` key, ``tools/test.py`` turns it into the run that
writes the maps, with :func:`build_export_cfg`:

1. the dataset of ``export.split`` (or ``export.dataset``) with the export
   pipeline, wrapped in ``PendingOutputsDataset`` (finished images are
   skipped before any model work; ``round_up=False`` so that ``N`` ranks
   write every image exactly once);
2. the model wrapped by ``export.model`` (``MultiScaleCAM`` /
   ``RandomWalkMaps``), which fills ``pred_cam`` / ``pred_rw``, or the
   config's own model when ``export.model`` is None (``kind='png'``: its
   ``pred_sem_seg`` as label PNGs);
3. the writer ``DumpMapResults`` as the test evaluator, with the manifest
   of :func:`export_manifest` (a folder written by another checkpoint or
   other options is refused).

:func:`build_eval_cfg` is the file-evaluation counterpart (maps or label
PNGs already on disk against the GT masks, ``CAMSweepMetric``).
"""
import copy
import hashlib
import json
import os.path as osp
from typing import Optional

from mmengine.config import Config

from mmwsss.evaluation.metrics.dump_map_results import KIND_SUFFIX
from mmwsss.utils.fileio import MissingFileError

__all__ = [
    'build_export_cfg', 'export_manifest', 'build_eval_cfg', 'split_dataset',
    'file_sha256'
]

#: Export keys that do not change the files (left out of the config hash).
_RUN_KEYS = ('out_dir', 'overwrite', 'batch_size', 'num_workers')

#: What produces the input files of an export kind (named in errors).
_PRODUCERS = {'rw': 'a CAM / seed export, e.g. tools/cam/infer_cams.py'}


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def _plain(x):
    """ConfigDict / tuples -> JSON-able plain containers."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def split_dataset(cfg: Config,
                  split: Optional[str] = None,
                  dataset: Optional[dict] = None,
                  pipeline: Optional[list] = None) -> dict:
    """A dataset config of ``cfg`` with another pipeline.

    Args:
        cfg (Config): The config.
        split (str, optional): ``'train'``, ``'val'`` or ``'test'``: the
            dataset of ``<split>_dataloader``, or a dotted config key of a
            dataloader / dataset (e.g. ``'cam_dataset'``).
        dataset (dict, optional): An explicit dataset config (wins).
        pipeline (list, optional): Replaces the dataset's pipeline.

    Returns:
        dict: The dataset config.
    """
    if dataset is None:
        key = split if split not in ('train', 'val', 'test') else \
            f'{split}_dataloader'
        node = cfg
        for part in key.split('.'):
            if not hasattr(node, 'get') or node.get(part) is None:
                raise KeyError(f'config {cfg.filename} has no "{key}".')
            node = node[part]
        dataset = node.get('dataset', node)
    dataset = copy.deepcopy(_plain(dataset))
    if pipeline is not None:
        if 'pipeline' not in dataset and 'type' not in dataset:
            raise KeyError(f'cannot set the pipeline of {dataset}')
        dataset['pipeline'] = copy.deepcopy(_plain(pipeline))
    return dataset


def _export_pipeline(exp: dict) -> list:
    pipeline = list(_plain(exp['pipeline']))
    if exp['kind'] == 'rw':
        if not exp.get('cam_dir'):
            raise KeyError('a random-walk export needs export.cam_dir (the '
                           'CAM / seed files it propagates).')
        load = dict(
            type='LoadMapFile',
            map_dir=exp['cam_dir'],
            fields={
                'cam': 'pred_cam_s4',
                'keys': 'cam_keys'
            })
        pipeline.insert(len(pipeline) - 1, load)  # before the packer
    return pipeline


def export_manifest(cfg: Config, checkpoint: Optional[str]) -> dict:
    """What identifies the files of an export: the kind, the checkpoint
    (sha256[:16]) and a hash of the model, the export pipeline and the
    export keys (not of the launcher, work dir, output dir, batch size or
    workers), plus the options in clear.

    Args:
        cfg (Config): The export config (with ``export``), before
            :func:`build_export_cfg`.
        checkpoint (str, optional): The checkpoint file.

    Returns:
        dict: ``kind``, ``checkpoint``, ``checkpoint_sha256``,
        ``config_sha256``, ``options``.
    """
    exp = _plain(cfg.export)
    options = {k: v for k, v in exp.items() if k not in _RUN_KEYS}
    body = dict(
        model=_plain(cfg.model),
        pipeline=_export_pipeline(exp),
        export=options)
    text = json.dumps(body, sort_keys=True, default=str)
    return dict(
        kind=exp['kind'],
        checkpoint=osp.abspath(checkpoint) if checkpoint else None,
        checkpoint_sha256=file_sha256(checkpoint)[:16] if checkpoint else None,
        config_sha256=hashlib.sha256(text.encode()).hexdigest()[:16],
        options=options)


def build_export_cfg(cfg: Config,
                     checkpoint: Optional[str] = None,
                     out_dir: Optional[str] = None,
                     overwrite: Optional[bool] = None) -> Config:
    """Turn an export config into the test run that writes the maps.

    Args:
        cfg (Config): Model config with an ``export`` dict (kind, split or
            dataset, pipeline, model, writer, out_dir, overwrite,
            batch_size, num_workers; ``cam_dir`` for ``'rw'``).
        checkpoint (str, optional): The checkpoint (for the manifest).
        out_dir (str, optional): Overrides ``export.out_dir``.
        overwrite (bool, optional): Overrides ``export.overwrite``.

    Returns:
        Config: ``cfg`` (modified in place): ``model``,
        ``test_dataloader``, ``test_evaluator`` and ``test_cfg`` of the
        export.
    """
    if 'export' not in cfg:
        raise KeyError(f'config {cfg.filename} has no "export" (add an '
                       f'export snippet of configs/_base_/export/ to its '
                       f'_base_).')
    if out_dir is not None:
        cfg.export.out_dir = out_dir
    if overwrite is not None:
        cfg.export.overwrite = bool(overwrite)
    exp = _plain(cfg.export)
    kind = exp['kind']
    if kind not in KIND_SUFFIX:
        raise ValueError(f'export.kind must be one of {sorted(KIND_SUFFIX)}, '
                         f'got {kind!r}.')
    if not exp.get('out_dir'):
        raise ValueError('export.out_dir is not set (--out-dir).')
    manifest = export_manifest(cfg, checkpoint)
    dataset = split_dataset(
        cfg,
        exp.get('split', 'train'),
        exp.get('dataset'),
        pipeline=_export_pipeline(exp))
    inputs = None
    if kind == 'rw':
        if not osp.isdir(exp['cam_dir']):
            raise MissingFileError(
                f'CAM folder not found, {exp["cam_dir"]} (export.cam_dir, '
                f'--cam-dir): give the output folder of the CAM or seed '
                f'export', exp['cam_dir'])
        inputs = dict(
            map_dir=exp['cam_dir'], suffix='.npz', producer=_PRODUCERS['rw'])
    if exp.get('model'):
        cfg.model = dict(exp['model'], module=cfg.model)
    # model None: the config's model predicts directly (``'png'``: its
    # pred_sem_seg, e.g. RRM's one-step segmentation)
    cfg.test_dataloader = dict(
        batch_size=exp.get('batch_size', 1),
        num_workers=exp.get('num_workers', 2),
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
        dataset=dict(
            type='PendingOutputsDataset',
            dataset=dataset,
            out_dir=exp['out_dir'],
            suffix=KIND_SUFFIX[kind],
            overwrite=exp.get('overwrite', False),
            inputs=inputs))
    cfg.test_evaluator = dict(
        type='DumpMapResults',
        out_dir=exp['out_dir'],
        kind=kind,
        manifest=manifest,
        overwrite=exp.get('overwrite', False),
        **exp.get('writer', {}))
    cfg.test_cfg = dict(type='TestLoop')
    _test_only(cfg)
    return cfg


def _test_only(cfg: Config) -> None:
    """A test-only run: no training / validation parts, no drawing hooks
    (they expect a segmentation output)."""
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'val_dataloader', 'val_cfg',
                'val_evaluator'):
        cfg[key] = None
    cfg.custom_hooks = [
        h for h in cfg.get('custom_hooks', None) or []
        if not str(h.get('type', '')).endswith('VisualizationHook')
    ]
    if 'visualization' in (cfg.get('default_hooks', None) or {}):
        cfg.default_hooks.visualization.draw = False


def build_eval_cfg(cfg: Config,
                   pred_dir: str,
                   field: str = 'hr_cam',
                   split: Optional[str] = 'val',
                   dataset: Optional[dict] = None,
                   metric: Optional[dict] = None,
                   num_workers: int = 2) -> Config:
    """A test run that evaluates saved maps or label PNGs.

    The dataset gets the pipeline ``LoadMapFile`` (``<pred_dir>/<id>.npz``
    array ``field`` as ``pred_cam``, or ``<id>.png`` as ``pred_sem_seg``
    with ``field='png'``) + ``LoadWSSSAnnotations`` + ``PackWSSSInputs``;
    the model is ``SavedPredictions`` (it returns what the files hold);
    the evaluator is ``CAMSweepMetric`` (sweep mode for maps, png mode
    for label maps) updated with ``metric``.

    Args:
        cfg (Config): A config with the dataset (or give ``dataset``).
        pred_dir (str): Folder of the saved maps / PNGs.
        field (str): ``'hr_cam'``, ``'rw'`` or ``'png'``.
            Defaults to 'hr_cam'.
        split (str, optional): See :func:`split_dataset`.
            Defaults to 'val'.
        dataset (dict, optional): Explicit dataset config.
        metric (dict, optional): ``CAMSweepMetric`` options.
        num_workers (int): Loader processes. Defaults to 2.

    Returns:
        Config: ``cfg`` with ``model``, ``test_dataloader``,
        ``test_evaluator``, ``test_cfg`` replaced, no checkpoint.
    """
    if field not in ('hr_cam', 'rw', 'png'):
        raise ValueError(f"field must be 'hr_cam', 'rw' or 'png', got "
                         f'{field!r}.')
    if not osp.isdir(pred_dir):
        raise MissingFileError(
            f'prediction folder not found, {pred_dir} (--cam-dir / '
            f'--png-dir): give the output folder of the export or '
            f'pseudo-label tool', pred_dir)
    if field == 'png':
        load = dict(type='LoadMapFile', map_dir=pred_dir, suffix='.png')
    else:
        load = dict(
            type='LoadMapFile',
            map_dir=pred_dir,
            fields={
                field: 'pred_cam',
                'keys': 'cam_keys'
            })
    pipeline = [
        load,
        dict(type='LoadWSSSAnnotations'),
        dict(type='PackWSSSInputs')
    ]
    cfg.model = dict(type='SavedPredictions')
    cfg.test_dataloader = dict(
        batch_size=1,
        num_workers=num_workers,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=split_dataset(cfg, split, dataset, pipeline))
    cfg.test_evaluator = dict(
        type='CAMSweepMetric',
        mode='png' if field == 'png' else 'sweep',
        **(metric or {}))
    cfg.test_cfg = dict(type='TestLoop')
    cfg.load_from = None
    cfg.pop('export', None)
    _test_only(cfg)
    return cfg
