#!/usr/bin/env python
"""Random walk of saved CAMs / seeds as ``<out-dir>/<img_id>.npz`` (keys,
rw) with a trained boundary network.

Builds the export config (CONFIG + ``configs/_base_/export/random_walk.py``)
and runs it like ``tools/test.py``; beta / exp_times / radius default to
the model's test_cfg (rw_beta, rw_exp_times, rw_radius). Example::

    python tools/pseudo_labels/random_walk.py BOUNDARY_CONFIG CKPT \\
        --data-root ROOT --split train --cam-dir CAMS --out-dir RW
"""
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from tools.cli_helpers import cli_run, export_parser, run_export


def main(argv=None) -> int:
    p = export_parser(__doc__)
    p.add_argument('--cam-dir', required=True, help='CAM / seed files')
    p.add_argument('--beta', type=float, default=None)
    p.add_argument('--exp-times', type=int, default=None)
    p.add_argument('--radius', type=int, default=None)
    p.add_argument('--rw-dtype', choices=['float32', 'float16'])
    args = p.parse_args(argv)
    refiner = dict(
        beta=args.beta, exp_times=args.exp_times, radius=args.radius)
    refiner = {k: v for k, v in refiner.items() if v is not None}
    run_export(
        p,
        args,
        'random_walk',
        dict(refiner=refiner or None),
        dict(map_dtype=args.rw_dtype),
        cam_dir=args.cam_dir)
    return 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
