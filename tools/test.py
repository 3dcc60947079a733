#!/usr/bin/env python
# Copyright (c) mmwsss contributors.
# Shaped after mmsegmentation's tools/test.py.
"""Test (evaluate) a checkpoint with the config's test loop and metrics."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, DictAction

import mmwsss  # noqa: F401  (compat fixes, registration)
from tools.cli_helpers import (add_checkpoint_args, add_debug_arg,
                               apply_checkpoint_args, check_files, cli_run,
                               run_test, strict_checkpoint)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='MMSeg test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help=('if specified, the evaluation metric results will be dumped'
              'into the directory as json'))
    parser.add_argument(
        '--out',
        type=str,
        help='The directory to save output prediction for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. '
        'If specified, it will be automatically saved '
        'to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta', action='store_true', help='Test time augmentation')
    parser.add_argument(
        '--out-dir',
        help='export configs (with an `export` key): the output folder '
        '(export.out_dir)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='export configs: recompute every image, replacing the files '
        'and the manifest of the output folder')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_checkpoint_args(parser)
    add_debug_arg(parser)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args):
    default_hooks = cfg.default_hooks
    if 'visualization' in default_hooks:
        visualization_hook = default_hooks['visualization']
        visualization_hook['draw'] = True
        if args.show:
            visualization_hook['show'] = True
            visualization_hook['wait_time'] = args.wait_time
        if args.show_dir:
            visualizer = cfg.visualizer
            visualizer['save_dir'] = args.show_dir
    else:
        raise RuntimeError(
            'VisualizationHook must be included in default_hooks.'
            'refer to usage '
            '"visualization=dict(type=\'VisualizationHook\')"')
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    apply_checkpoint_args(args)
    check_files(config=args.config, checkpoint=args.checkpoint)

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    # refuse a checkpoint whose keys/shapes do not fit the model
    strict_checkpoint(cfg, args.checkpoint, args.config, not args.no_strict)

    if 'export' in cfg:  # an export config: it writes maps (run_test)
        if args.out is not None or args.tta:
            raise SystemExit('error: --out / --tta do not apply to an export '
                             'config (its writer is set by `export`)')
        if args.out_dir is not None:
            cfg.export.out_dir = args.out_dir
        if args.overwrite:
            cfg.export.overwrite = True
    elif args.out_dir is not None or args.overwrite:
        raise SystemExit(f'error: --out-dir / --overwrite are for export '
                         f'configs; {args.config} has no `export` key')

    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    run_test(cfg, args.checkpoint, args.launcher)
    return 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
