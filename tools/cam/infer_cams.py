#!/usr/bin/env python
"""Multi-scale x flip CAMs of a split as ``<out-dir>/<img_id>.npz``.

Keys, ``cam`` (stride 4) and ``hr_cam`` (full size): builds the export
config (CONFIG + ``configs/_base_/export/cams.py``) and runs it like
``tools/test.py``. Resumable; a folder of another checkpoint or other
options is refused. Examples::

    python tools/cam/infer_cams.py CONFIG CKPT --dataset train --out-dir D
    python tools/cam/infer_cams.py CONFIG CKPT --data-root ROOT \\
        --split train --out-dir D --use-pred-labels --conf-th 0.5
"""
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from tools.cli_helpers import cli_run, export_parser, run_export


def main(argv=None) -> int:
    p = export_parser(__doc__)
    p.add_argument('--scales', type=float, nargs='+', default=None)
    p.add_argument('--no-flip', action='store_true')
    p.add_argument('--resize-backend', choices=['pil', 'torch'])
    p.add_argument('--size-rounding', choices=['round', 'int'])
    p.add_argument('--use-pred-labels', action='store_true')
    p.add_argument('--conf-th', type=float, default=None)
    p.add_argument('--amp', action='store_true')
    p.add_argument('--hr-dtype', choices=['float32', 'float16'])
    p.add_argument('--compress', action='store_true')
    args = p.parse_args(argv)
    model = dict(
        scales=args.scales,
        flip=False if args.no_flip else None,
        resize_backend=args.resize_backend,
        size_rounding=args.size_rounding,
        use_gt_labels=False if args.use_pred_labels else None,
        conf_th=args.conf_th,
        amp=args.amp or None)
    writer = dict(map_dtype=args.hr_dtype, compress=args.compress)
    run_export(p, args, 'cams', model, writer)
    return 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
