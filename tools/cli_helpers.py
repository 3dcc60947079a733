# Copyright (c) mmwsss contributors. All rights reserved.
"""Helpers shared by the command-line tools under ``tools/``.

The export tools (``tools/cam/infer_cams.py``, ``tools/rsepm/infer_seeds.py``,
``tools/pseudo_labels/random_walk.py``) and the evaluation tool
(``tools/cam/eval_cams.py``) only build a config -- the model config plus an
export snippet of ``configs/_base_/export/``, or a file-evaluation config --
and run it with :func:`run_test`, exactly as ``tools/test.py`` runs it. Bad
input becomes one ``error: ...`` line.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
EXPORT_SNIPPETS = osp.join(ROOT, 'configs', '_base_', 'export')

__all__ = [
    'ROOT', 'add_dataset_args', 'check_dataset_args', 'cfg_options',
    'add_checkpoint_args', 'apply_checkpoint_args', 'add_png_output_args',
    'check_files', 'load_config', 'dataset_cfg', 'images_dataset',
    'strict_checkpoint', 'export_config', 'run_test', 'EXIT_ERROR',
    'add_debug_arg', 'cli_run', 'error_message', 'one_line'
]


def add_dataset_args(parser: argparse.ArgumentParser) -> None:
    """CONFIG + ``--dataset``/``--split-cfg``, or ``--data-root`` +
    ``--split``; plus ``--cfg-options`` and ``--debug``."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        '--dataset',
        choices=['train', 'val', 'test'],
        default=None,
        help='with CONFIG: the dataset of cfg.<dataset>_dataloader')
    src.add_argument(
        '--split-cfg',
        default=None,
        help='with CONFIG: config key of a dataloader (e.g. val_dataloader) '
        'or a dataset (e.g. cam_dataset)')
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
    add_debug_arg(parser)


def check_dataset_args(parser: argparse.ArgumentParser,
                       args: argparse.Namespace,
                       need_config: bool = False) -> None:
    """Reject inconsistent dataset arguments through ``parser.error``."""
    if getattr(args, 'config', None) is None and (need_config
                                                  or args.data_root is None):
        parser.error('give a CONFIG' +
                     ('' if need_config else ' or --data-root/--split'))
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


def add_checkpoint_args(parser: argparse.ArgumentParser,
                        strict: bool = True) -> None:
    """``--trust-checkpoint`` (and, for tools that predict, ``--no-strict``).
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


def add_png_output_args(parser: argparse.ArgumentParser,
                        workers_help: str = 'processes') -> None:
    """Options of the tools that write label PNGs: palette, worker
    processes, overwrite."""
    parser.add_argument(
        '--palette',
        choices=['voc', 'none'],
        default='voc',
        help='PNG mode P with the VOC palette (default) or mode L')
    parser.add_argument('--workers', type=int, default=2, help=workers_help)
    parser.add_argument(
        '--overwrite', action='store_true', help='recompute existing PNGs')


def check_files(**paths: Optional[str]) -> None:
    """Exit with ``error: <what> file not found, <path>: <fix>`` for a
    missing file (``what`` is the keyword name; None values are not
    checked)."""
    for what, path in paths.items():
        if path is not None and not osp.isfile(path):
            raise SystemExit(
                f'error: {what} file not found, {path}: check the path '
                f'(a relative path starts at {os.getcwd()})')


def load_config(path: Optional[str], options: Optional[Sequence[str]] = None):
    """The config (or a bare mmseg runtime without ``path``) with the
    ``--cfg-options`` applied; errors exit with one line."""
    from mmengine.config import Config
    if path is None:
        cfg = Config(
            dict(
                default_scope='mmseg',
                custom_imports=dict(imports=['mmwsss']),
                log_level='WARNING'))
    else:
        check_files(config=path)
        cfg = Config.fromfile(path)
    opts = cfg_options(options)
    if opts:
        cfg.merge_from_dict(opts)
    return cfg


def dataset_cfg(args: argparse.Namespace,
                default_split: str = 'train',
                label_source: str = 'json',
                with_masks: bool = False,
                mask_dir: str = 'masks') -> dict:
    """``export`` / eval keys selecting the images of the arguments:
    ``dict(split=...)`` (a dataloader of the config) or ``dict(dataset=...)``
    (``--data-root``: a ``WSSSFolderDataset`` of the split)."""
    if args.data_root is not None:
        return dict(
            dataset=dict(
                type='WSSSFolderDataset',
                data_root=args.data_root,
                split=args.split,
                label_source=label_source,
                with_masks=with_masks,
                mask_dir=mask_dir,
                pipeline=[]))
    return dict(split=args.split_cfg or args.dataset or default_split)


def images_dataset(args: argparse.Namespace,
                   default_split: str = 'train',
                   label_source: str = 'none') -> dict:
    """The dataset config of the dataset arguments (pipeline dropped): a
    config's dataloader / dataset, or a ``WSSSFolderDataset`` of
    ``--data-root``."""
    from mmwsss.apis.export import split_dataset
    keys = dataset_cfg(args, default_split, label_source)
    if 'dataset' in keys:
        return keys['dataset']
    return split_dataset(
        load_config(args.config, args.cfg_options), keys['split'],
        pipeline=[])


def strict_checkpoint(cfg, checkpoint: str, config: str, strict: bool) -> None:
    """``cfg.load_from`` and, unless ``strict`` is False, the
    ``StrictLoadHook`` that refuses a checkpoint not fitting the model."""
    check_files(checkpoint=checkpoint)
    cfg.load_from = checkpoint
    if strict:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='StrictLoadHook', checkpoint=checkpoint, config=config)
        ]


def export_config(args: argparse.Namespace, snippet: str, **export):
    """The model config of ``args.config`` plus the export snippet
    ``configs/_base_/export/<snippet>.py``, updated with ``export`` and the
    images of the dataset arguments -- the config an export config file
    gives ``tools/test.py``."""
    from mmengine.config import Config
    cfg = load_config(args.config)
    base = Config.fromfile(osp.join(EXPORT_SNIPPETS, snippet + '.py'))
    cfg.export = base.export
    cfg.export.update(dataset_cfg(args))
    cfg.export.update({k: v for k, v in export.items() if v is not None})
    opts = cfg_options(args.cfg_options)
    if opts:
        cfg.merge_from_dict(opts)
    return cfg


def export_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments every export tool takes: CONFIG, CHECKPOINT,
    ``--out-dir``, the dataset arguments, ``--workers``, ``--batch-size``,
    ``--overwrite`` and the checkpoint options."""
    p = argparse.ArgumentParser(
        description=doc.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc)
    p.add_argument('config', help='model config')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--out-dir', required=True, help='output folder')
    add_dataset_args(p)
    p.add_argument('--workers', type=int, default=2, help='loader workers')
    p.add_argument(
        '--batch-size', type=int, default=1, help='images per forward')
    p.add_argument(
        '--overwrite',
        action='store_true',
        help='recompute every image (replaces files and manifest)')
    add_checkpoint_args(p)
    return p


def run_export(parser: argparse.ArgumentParser,
               args: argparse.Namespace,
               snippet: str,
               model: Optional[dict] = None,
               writer: Optional[dict] = None,
               **export) -> dict:
    """Build the export config of an export tool (:func:`export_config`;
    the None values of ``model`` / ``writer`` / ``export`` keep the
    snippet's defaults) and run it like ``tools/test.py``."""
    check_dataset_args(parser, args, need_config=True)
    apply_checkpoint_args(args)
    cfg = export_config(
        args,
        snippet,
        out_dir=args.out_dir,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
        num_workers=args.workers,
        **export)
    for key, values in (('model', model), ('writer', writer)):
        cfg.export[key].update({
            k: v
            for k, v in (values or {}).items() if v is not None
        })
    strict_checkpoint(cfg, args.checkpoint, args.config, not args.no_strict)
    return run_test(cfg, args.checkpoint)


#: exit status of a tool stopped by an expected error (argparse's too)
EXIT_ERROR = 2


def add_debug_arg(parser: argparse.ArgumentParser) -> None:
    """``--debug``: the traceback of an error instead of its one line."""
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the full traceback of an error instead of one line')


def expected_errors() -> tuple:
    """The errors a tool reports in one line: bad input (data files,
    outputs, checkpoints, options and config values)."""
    from mmwsss.utils.checkpoint import CheckpointError
    from mmwsss.utils.compat import MissingMMCVOpError
    from mmwsss.utils.fileio import DataFileError
    return (DataFileError, CheckpointError, MissingMMCVOpError, OSError,
            ValueError, KeyError, TypeError)


def cli_run(main: Callable[[Optional[Sequence[str]]], int],
            argv: Optional[Sequence[str]] = None) -> int:
    """Run a tool's ``main(argv)``: an expected error (and a
    ``SystemExit('error: ...')``) becomes one ``error: ...`` line on stderr
    and exit status 2; ``--debug`` in ``argv`` re-raises it instead.

    Run from the command line (``argv`` None) on a machine without CUDA,
    the process first keeps freed tensor memory for reuse
    (:func:`mmwsss.utils.tune_cpu_malloc`; ``MMWSSS_TUNE_MALLOC=0`` turns
    it off).

    Returns:
        int: The exit status.
    """
    if argv is None:
        import torch

        from mmwsss.utils import tune_cpu_malloc
        if not torch.cuda.is_available():
            tune_cpu_malloc()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return main(argv)
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code if e.code.startswith('error: ') else
                  f'error: {e.code}', file=sys.stderr)
            return EXIT_ERROR
        raise
    except expected_errors() as e:
        if '--debug' in args:
            raise
        print(f'error: {error_message(e)}', file=sys.stderr)
        return EXIT_ERROR


def error_message(err: BaseException) -> str:
    """The one-line message of an expected error: :func:`one_line`, with
    the path and the fix for an ``OSError`` that carries none."""
    from mmwsss.utils.fileio import DataFileError, output_error
    if isinstance(err, OSError) and not isinstance(err, DataFileError):
        if err.filename is not None:
            return str(output_error(err, err.filename)).replace(
                'cannot write', 'cannot access', 1)
    if isinstance(err, KeyError) and len(err.args) == 1:
        return one_line(Exception(str(err.args[0])))
    return one_line(err)


def one_line(err: BaseException) -> str:
    """The message of an error, on one line: an error re-raised from a
    DataLoader worker carries the worker's traceback, whose last line is
    ``module.Class: message``."""
    lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(err).__name__
    last = lines[-1]
    head, sep, rest = last.partition(': ')
    return rest if sep and '.' in head and ' ' not in head else last


def run_test(cfg,
             checkpoint: Optional[str] = None,
             launcher: str = 'none',
             work_dir: Optional[str] = None) -> dict:
    """Run ``cfg``'s test loop (an export config is built into its export
    run first). ``checkpoint`` is the model's weights: an export config
    records it in its manifest; any other config loads it as
    ``cfg.load_from`` unless that is set already. Expected errors
    propagate: the tools report them in one line through :func:`cli_run`.

    Returns:
        dict: The metrics of the test loop.
    """
    from mmengine.runner import Runner

    from mmwsss.apis.export import build_export_cfg
    from mmwsss.utils import compat
    from mmwsss.utils.fileio import check_writable_dir
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs',
        'tools_' + osp.splitext(osp.basename(cfg.filename or 'run'))[0])
    check_writable_dir(cfg.work_dir, 'the work dir (--work-dir)')
    cpu_dist = compat.init_cpu_distributed(launcher)
    if cpu_dist:
        compat.cpu_ddp_wrapper_cfg(cfg)
    if 'export' in cfg:
        cfg = build_export_cfg(cfg, checkpoint)
    elif checkpoint and not cfg.get('load_from'):
        cfg.load_from = checkpoint
    metrics = Runner.from_cfg(cfg).test()
    if cpu_dist:
        compat.destroy_cpu_distributed()
    return metrics
