#!/usr/bin/env python
"""Generate the procedural synthetic WSSS dataset (mmwsss folder layout).

Example::

    python tools/dataset_converters/make_synthetic.py  # default cache dir
    python tools/dataset_converters/make_synthetic.py data/synthetic \
        --num-train 600 --num-val 100 --num-test 200 --size 128 128
"""
import argparse
import os.path as osp
import sys

try:
    import mmwsss  # noqa: F401
except ImportError:  # running from a source checkout without install
    sys.path.insert(0,
                    osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmwsss.datasets.synthetic_gen import (SYNTHETIC_DEFAULTS,
                                           default_synthetic_root,
                                           generate_synthetic)


def parse_args():
    d = SYNTHETIC_DEFAULTS
    parser = argparse.ArgumentParser(
        description='Generate the synthetic WSSS dataset (disc, square, '
        'triangle, star) in the mmwsss folder layout.')
    parser.add_argument(
        'out_dir',
        nargs='?',
        default=None,
        help='output folder (default: $MMWSSS_CACHE/synthetic_v1 or '
        '~/.cache/mmwsss/synthetic_v1 for the default parameters)')
    parser.add_argument('--num-train', type=int, default=d['num_train'])
    parser.add_argument('--num-val', type=int, default=d['num_val'])
    parser.add_argument('--num-test', type=int, default=d['num_test'])
    parser.add_argument(
        '--size', type=int, nargs=2, default=d['size'], metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=d['seed'])
    parser.add_argument('--min-objects', type=int, default=d['min_objects'])
    parser.add_argument('--max-objects', type=int, default=d['max_objects'])
    parser.add_argument(
        '--min-pixels',
        type=int,
        default=d['min_pixels'],
        help='visible pixels for a class to count as present')
    parser.add_argument(
        '--boundary-width',
        type=int,
        default=d['boundary_width'],
        help='width of a 255 band on label boundaries (0 = none)')
    parser.add_argument('--jpeg-quality', type=int, default=d['jpeg_quality'])
    return parser.parse_args()


def main():
    args = parse_args()
    params = dict(
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        size=tuple(args.size),
        seed=args.seed,
        min_objects=args.min_objects,
        max_objects=args.max_objects,
        min_pixels=args.min_pixels,
        boundary_width=args.boundary_width,
        jpeg_quality=args.jpeg_quality)
    root = args.out_dir or default_synthetic_root(params)
    root = generate_synthetic(root, verbose=True, **params)
    print(f'synthetic dataset ready: {root}')


if __name__ == '__main__':
    main()
