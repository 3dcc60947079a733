#!/usr/bin/env python
"""Evaluate saved CAM / seed / random-walk files or label PNGs on GT masks.

Maps: background-threshold sweep (best mIoU and threshold, per-class IoU,
FP / FN, the mIoU(t) curve); PNGs: one confusion. Builds the
file-evaluation config (``LoadMapFile`` + ``SavedPredictions`` +
``CAMSweepMetric``) and runs its test loop; ``--out`` writes the summary
as JSON. Examples::

    python tools/cam/eval_cams.py CONFIG --dataset val --cam-dir CAMS
    python tools/cam/eval_cams.py --data-root ROOT --split train \\
        --png-dir PNGS --out pl.json
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from tools.cli_helpers import (add_dataset_args, check_dataset_args, cli_run,
                               dataset_cfg, load_config, run_test)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', nargs='?', default=None)
    pred = p.add_mutually_exclusive_group(required=True)
    pred.add_argument('--cam-dir', help='folder of <id>.npz map files')
    pred.add_argument('--png-dir', help='folder of <id>.png label maps')
    add_dataset_args(p)
    p.add_argument('--mask-dir', default='masks', help='with --data-root')
    p.add_argument('--field', choices=['hr_cam', 'rw'], default='hr_cam')
    for name, default in (('start', 0.05), ('end', 0.75), ('step', 0.05)):
        p.add_argument(f'--thr-{name}', type=float, default=default)
    p.add_argument('--average', choices=['mean', 'nanmean'], default='mean')
    p.add_argument('--over-under', action='store_true')
    p.add_argument('--pred-ignore', choices=['miss', 'skip'], default='miss')
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--out', default=None, help='write the JSON summary')
    args = p.parse_args(argv)
    check_dataset_args(p, args)
    from mmwsss.apis.export import build_eval_cfg
    images = dataset_cfg(args, 'val', 'none', True, args.mask_dir)
    keys = 'thr_start thr_end thr_step average over_under pred_ignore'
    metric = {k: getattr(args, k) for k in keys.split()}
    cfg = build_eval_cfg(
        load_config(args.config, args.cfg_options), args.cam_dir
        or args.png_dir, 'png' if args.png_dir else args.field,
        images.get('split'), images.get('dataset'),
        dict(metric, out_file=args.out), args.workers)
    run_test(cfg)
    return 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
