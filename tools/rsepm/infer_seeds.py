#!/usr/bin/env python
"""RS+EPM seeds of a split as CAM-format ``<out-dir>/<img_id>.npz``.

``RSEPM.predict_seed`` (multi-scale x flip; scales, flip and conf_th
default to the model's test_cfg): builds the export config (CONFIG +
``configs/_base_/export/seeds.py``) and runs it like ``tools/test.py``.
The single-stage seed (bg = (1 - max)^2, no CRF) is ``tools/cam/eval_cams.py
... --thr-start T --thr-end T`` with T = 0.381966
(``mmwsss.utils.cam_ops.bg_gamma_threshold``). Example::

    python tools/rsepm/infer_seeds.py CONFIG CKPT --dataset train --out-dir D
"""
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from tools.cli_helpers import cli_run, export_parser, run_export


def main(argv=None) -> int:
    p = export_parser(__doc__)
    p.add_argument('--scales', type=float, nargs='+', default=None)
    p.add_argument('--no-flip', action='store_true')
    p.add_argument('--use-pred-labels', action='store_true')
    p.add_argument('--conf-th', type=float, default=None)
    p.add_argument('--cam-resize', choices=['area', 'bilinear', 'nearest'])
    p.add_argument('--amp', action='store_true')
    p.add_argument('--hr-dtype', choices=['float32', 'float16'])
    p.add_argument('--compress', action='store_true')
    args = p.parse_args(argv)
    model = dict(
        scales=args.scales,
        flip=False if args.no_flip else None,
        use_gt_labels=False if args.use_pred_labels else None,
        conf_th=args.conf_th,
        cam_resize=args.cam_resize,
        amp=args.amp or None)
    writer = dict(map_dtype=args.hr_dtype, compress=args.compress)
    run_export(p, args, 'seeds', model, writer)
    return 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
