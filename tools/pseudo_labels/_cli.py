"""Argument helpers shared by the pseudo-label tools."""
import argparse


def add_dataset_args(parser: argparse.ArgumentParser) -> None:
    """CONFIG + --dataset/--split-cfg, or --data-root + --split."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        '--dataset',
        choices=['train', 'val', 'test'],
        default=None,
        help='with CONFIG: cfg.<dataset>_dataloader.dataset (default train)')
    src.add_argument(
        '--split-cfg',
        default=None,
        help='with CONFIG: config key of a dataloader or dataset')
    src.add_argument(
        '--data-root',
        default=None,
        help='folder-layout dataset (images/, splits/) instead of CONFIG')
    parser.add_argument(
        '--split', default=None, help='split name with --data-root')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=None,
        help='override config settings, key=value')


def check_dataset_args(parser, args) -> None:
    if args.data_root is None and getattr(args, 'config', None) is None:
        parser.error('give a CONFIG or --data-root/--split')
    if args.data_root is not None and args.split is None:
        parser.error('--data-root needs --split')
    if args.split is not None and args.data_root is None:
        parser.error('--split is only used with --data-root')


def cfg_options(items):
    if not items:
        return None
    from mmengine.config import DictAction
    ns = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, ns, items)
    return ns.opts
