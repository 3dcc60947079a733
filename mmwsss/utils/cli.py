# Copyright (c) mmwsss contributors. All rights reserved.
"""Argument helpers shared by the command-line tools under ``tools/``.

Every map/label tool takes its images the same way (a CONFIG dataset or a
folder-layout split), the inference tools (``tools/cam/infer_cams.py``,
``tools/rsepm/infer_seeds.py``) share their output and device options, and
all of them turn bad input into a one-line ``error: ...`` exit.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

__all__ = [
    'add_dataset_args', 'check_dataset_args', 'cfg_options',
    'add_map_output_args', 'add_png_output_args', 'check_files',
    'load_dataset', 'load_model', 'add_checkpoint_args',
    'apply_checkpoint_args'
]


def add_dataset_args(parser: argparse.ArgumentParser) -> None:
    """CONFIG + ``--dataset``/``--split-cfg``, or ``--data-root`` +
    ``--split``; plus ``--cfg-options``."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        '--dataset',
        choices=['train', 'val', 'test'],
        default=None,
        help='with CONFIG: cfg.<dataset>_dataloader.dataset (default train)')
    src.add_argument(
        '--split-cfg',
        default=None,
        help='with CONFIG: config key of a dataloader (e.g. val_dataloader) '
        'or a dataset (e.g. cam_dataset); its .dataset is used if present')
    src.add_argument(
        '--data-root',
        default=None,
        help='folder-layout dataset (images/, splits/, classes.txt, '
        'labels.json) instead of a config dataset; needs --split')
    parser.add_argument(
        '--split', default=None, help='split name with --data-root')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=None,
        help='override config settings, key=value (mmengine DictAction)')


def check_dataset_args(parser: argparse.ArgumentParser,
                       args: argparse.Namespace) -> None:
    """Reject inconsistent dataset arguments through ``parser.error``."""
    if args.data_root is None and getattr(args, 'config', None) is None:
        parser.error('give a CONFIG or --data-root/--split')
    if args.data_root is not None and args.split is None:
        parser.error('--data-root needs --split')
    if args.split is not None and args.data_root is None:
        parser.error('--split is only used with --data-root')


def cfg_options(items: Optional[Sequence[str]]) -> Optional[dict]:
    """``key=value`` strings parsed like mmengine's ``--cfg-options``."""
    if not items:
        return None
    from mmengine.config import DictAction
    ns = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, ns, list(items))
    return ns.opts


def add_map_output_args(parser: argparse.ArgumentParser) -> None:
    """Options of the tools that write ``<id>.npz`` map files from a model:
    workers, batch size, ``hr_cam`` dtype, AMP, device, overwrite,
    compression."""
    parser.add_argument(
        '--workers', type=int, default=2, help='image decoding workers')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=1,
        help='same-size images per forward (x2 with flip)')
    parser.add_argument(
        '--hr-dtype',
        choices=['float32', 'float16'],
        default='float32',
        help='dtype of hr_cam (float16 halves the disk size)')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision forward')
    parser.add_argument(
        '--device',
        default=None,
        help='device (default: cuda if available, else cpu)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='recompute files that already exist')
    parser.add_argument(
        '--compress', action='store_true', help='np.savez_compressed')


def add_png_output_args(parser: argparse.ArgumentParser,
                        workers_help: str = 'processes') -> None:
    """Options of the tools that write label PNGs: palette, worker
    processes, overwrite."""
    parser.add_argument(
        '--palette',
        choices=['voc', 'none'],
        default='voc',
        help='PNG mode P with the VOC palette (default) or mode L')
    parser.add_argument(
        '--workers', type=int, default=2, help=workers_help)
    parser.add_argument(
        '--overwrite', action='store_true', help='recompute existing PNGs')


def check_files(**paths: Optional[str]) -> None:
    """Exit with ``error: <what> file not found: <path>`` for a missing
    file (``what`` is the keyword name; None values are not checked)."""
    for what, path in paths.items():
        if path is not None and not osp.isfile(path):
            raise SystemExit(f'error: {what} file not found: {path}')


def load_dataset(args: argparse.Namespace,
                 need_labels: bool = False) -> Tuple[object, object]:
    """The tool's images from the arguments of :func:`add_dataset_args`.

    With ``--data-root`` the CONFIG (if given) is still loaded, for the
    model. Errors (missing files, bad config keys) exit with one line.

    Returns:
        tuple: ``(dataset, cfg)`` as :func:`mmwsss.apis.pseudo_labels.
        resolve_dataset` (``cfg`` None without a CONFIG).
    """
    from mmwsss.apis.io import DataFileError
    from mmwsss.apis.pseudo_labels import resolve_dataset
    config = getattr(args, 'config', None)
    opts = cfg_options(args.cfg_options)
    try:
        if args.data_root is not None:
            cfg = None
            if config is not None:
                _, cfg = resolve_dataset(config, cfg_options=opts)
            dataset, _ = resolve_dataset(
                data_root=args.data_root,
                split=args.split,
                need_labels=need_labels)
            return dataset, cfg
        return resolve_dataset(
            config,
            args.dataset,
            args.split_cfg,
            cfg_options=opts,
            need_labels=need_labels)
    except (DataFileError, ValueError) as e:
        raise SystemExit(f'error: {e}')


def add_checkpoint_args(parser: argparse.ArgumentParser,
                        strict: bool = True) -> None:
    """``--trust-checkpoint`` (and, for tools that predict, ``--no-strict``).

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        strict (bool): Add ``--no-strict`` (inference tools). Defaults to
            True.
    """
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load checkpoints with torch.load(weights_only=False): needed '
        'only for files holding types outside the MMEngine allow-list; '
        'unpickling can run code stored in the file, so use it only for '
        'files you trust (sets MMWSSS_TRUST_CHECKPOINT=1 for this run)')
    if strict:
        parser.add_argument(
            '--no-strict',
            action='store_true',
            help='load a checkpoint whose keys or shapes do not match the '
            'model (matching weights only, the rest keeps its init) '
            'instead of stopping with an error')


def apply_checkpoint_args(args: argparse.Namespace) -> None:
    """Carry ``--trust-checkpoint`` to every checkpoint load of this run
    (and its worker processes) through ``MMWSSS_TRUST_CHECKPOINT``."""
    if getattr(args, 'trust_checkpoint', False):
        from mmwsss.utils.checkpoint import TRUST_ENV
        os.environ[TRUST_ENV] = '1'


def load_model(cfg,
               checkpoint: str,
               device: Optional[str] = None,
               strict: bool = True):
    """Build ``cfg.model`` (mmseg ``MODELS``), load ``checkpoint`` on the CPU,
    move it to ``device`` (default cuda if available) and set eval mode.

    With ``strict`` (the default) a checkpoint whose keys or shapes do not
    match the model, a file that is not a checkpoint, or one the safe loader
    refuses exits with one ``error: ...`` line naming the checkpoint (and
    the config); nothing has been written by then.
    """
    import torch
    from mmseg.registry import MODELS

    from mmwsss.utils.checkpoint import CheckpointError, load_model_checkpoint
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = MODELS.build(cfg.model)
    try:
        load_model_checkpoint(
            model,
            checkpoint,
            config=getattr(cfg, 'filename', None),
            strict=strict)
    except (CheckpointError, FileNotFoundError) as e:
        raise SystemExit(f'error: {e}')
    return model.to(device).eval()
