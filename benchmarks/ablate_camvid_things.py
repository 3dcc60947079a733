#!/usr/bin/env python
"""Ablations of issue 16 on camvid_things: one factor at a time, through
``benchmarks/compare_methods.py`` (same budget for every setting).

Each setting is one ``compare_methods.py`` run in its own work dir
(``<work-dir>/<name>``; resumable: rerun the same command), on ``--split``
(default ``val``: settings are CHOSEN on val, never on test) at
``--max-iters`` (default 300: the screening budget), CAMs / seeds at one
scale + flip (``--infer-scales``; ``config`` keeps the 4 scales: 7.5x the
inference time). The winners are then
run at the full budget (1,200) on ``test`` with two seeds
(``compare_methods.py --split test --seed 0|1 ...``).

Studies (``--study``; ``--only NAME`` runs one setting, ``--list`` prints
them with their options):

- ``baseline``: the CAM baseline (and its crop-224 / OS8 twins, for the
  Puzzle-CAM settings that change the crop or the stride);
- ``puzzlecam``: ``alpha_max`` 0.5 / 1 / 2 / 4 (4 = the paper), L_re on the
  CAMs instead of the features, crop 224, output stride 8;
- ``rs``: the RS+EPM single-stage seeds without EPM: the config defaults,
  certain filter c 0.35, variant (a) ``bg_gamma``, PAMR scaled to the
  44 x 44 seed map (dilations 1, 2, 4, 8), PAMR off (``num_iter=0``),
  SCG on the stride-8 grid with every level, EMA with the official ramp,
  RecurSeed from iteration 0;
- ``rsepm``: defaults, EP on the max-probability map, both PAMRs (seed
  and EP) scaled to (1, 2, 4, 8) or off, schedule reading (a)
  (the same 5 / 15 / 20 as durations: RS from 0, EPM from epoch 5).

The table: one row per setting (CAM / seed mIoU, FP, FN), the options
beside it.

Usage::

    python benchmarks/ablate_camvid_things.py --study puzzlecam
        [--data-root ../shared/data/camvid_things] [--max-iters 300]
        [--split val] [--seed 0] [--work-dir work_dirs/ablate_camvid]
"""
import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

PZ = 'puzzlecam:'
#: (study, name, compare_methods arguments)
SETTINGS = [
    ('baseline', 'cam', ['--methods', 'cam']),
    ('baseline', 'cam_crop224', ['--methods', 'cam', '--crop', '224']),
    ('baseline', 'cam_os8', [
        '--methods', 'cam', '--method-options',
        'cam:model.backbone.output_stride=8'
    ]),
    ('puzzlecam', 'pz_alpha0.5', [
        '--methods', 'puzzlecam', '--method-options',
        PZ + 'custom_hooks.1.alpha_max=0.5'
    ]),
    ('puzzlecam', 'pz_alpha1', [
        '--methods', 'puzzlecam', '--method-options',
        PZ + 'custom_hooks.1.alpha_max=1.0'
    ]),
    ('puzzlecam', 'pz_alpha2', [
        '--methods', 'puzzlecam', '--method-options',
        PZ + 'custom_hooks.1.alpha_max=2.0'
    ]),
    ('puzzlecam', 'pz_alpha4', ['--methods', 'puzzlecam']),
    ('puzzlecam', 'pz_re_cam', [
        '--methods', 'puzzlecam', '--method-options',
        PZ + 'model.cam_head.loss_re.re_level=cam'
    ]),
    ('puzzlecam', 'pz_crop224', ['--methods', 'puzzlecam', '--crop', '224']),
    ('puzzlecam', 'pz_os8', [
        '--methods', 'puzzlecam', '--method-options',
        PZ + 'model.backbone.output_stride=8', PZ + 'model.backbone_stride=8'
    ]),
    ('rs', 'rs_default', ['--methods', 'rs']),
    ('rs', 'rs_cf0.35', [
        '--methods', 'rs', '--method-options',
        'rs:model.certain_filter.certain_th=0.35'
    ]),
    ('rs', 'rs_cf_bg_gamma', [
        '--methods', 'rs', '--method-options',
        'rs:model.certain_filter.mode=bg_gamma'
    ]),
    ('rs', 'rs_pamr1248', [
        '--methods', 'rs', '--method-options',
        'rs:model.pamr.dilations=(1,2,4,8)'
    ]),
    ('rs', 'rs_pamr_off',
     ['--methods', 'rs', '--method-options', 'rs:model.pamr.num_iter=0']),
    ('rs', 'rs_scg_stride8', [
        '--methods', 'rs', '--method-options', 'rs:model.scg_grid=stride8',
        'rs:model.scg_in_index=(0,1,2,3,4)'
    ]),
    ('rs', 'rs_ema', ['--methods', 'rs', '--ema', '0.9999', '2000']),
    ('rs', 'rs_start0', [
        '--methods', 'rs', '--method-options',
        'rs:custom_hooks.1.rs_start_epoch=0'
    ]),
    ('rsepm', 'rsepm_default', ['--methods', 'rsepm']),
    ('rsepm', 'rsepm_max_prob', [
        '--methods', 'rsepm', '--method-options',
        'rsepm:model.edge_predict.ep_edge_map=max_prob'
    ]),
    ('rsepm', 'rsepm_pamr1248', [
        '--methods', 'rsepm', '--method-options',
        'rsepm:model.pamr.dilations=(1,2,4,8)',
        'rsepm:model.edge_predict.pamr.dilations=(1,2,4,8)'
    ]),
    ('rsepm', 'rsepm_pamr_off', [
        '--methods', 'rsepm', '--method-options',
        'rsepm:model.pamr.num_iter=0',
        'rsepm:model.edge_predict.pamr.num_iter=0'
    ]),
    ('rsepm', 'rsepm_reading_a', [
        '--methods', 'rsepm', '--method-options',
        'rsepm:custom_hooks.1.reading=duration'
    ]),
]
STUDIES = sorted({s for s, _, _ in SETTINGS})


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--study', choices=STUDIES + ['all'], default='all')
    p.add_argument('--only', default=None, help='one setting by name')
    p.add_argument('--list', action='store_true')
    p.add_argument(
        '--data-root',
        default=osp.join(ROOT, '..', 'shared', 'data', 'camvid_things'))
    p.add_argument('--max-iters', type=int, default=300)
    p.add_argument('--split', default='val')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument(
        '--work-dir', default=osp.join(ROOT, 'work_dirs', 'ablate_camvid'))
    p.add_argument('--workers', type=int, default=2)
    p.add_argument(
        '--infer-scales',
        default='1.0',
        help='CAM / seed inference scales of the screening (with flip); '
        '"config" keeps the configs\' 4 scales')
    args = p.parse_args(argv)
    names = {n for _, n, _ in SETTINGS}
    if args.only and args.only not in names:
        p.error(f'--only: unknown setting {args.only!r}; --list shows them')
    return args


def selected(args):
    return [(s, n, a) for s, n, a in SETTINGS
            if (args.only == n) or (not args.only and args.study in ('all', s))
            ]


def command(args, name, extra):
    return [
        '--data-root', args.data_root, '--num-classes', '5', '--max-iters',
        str(args.max_iters), '--split', args.split, '--seed',
        str(args.seed), '--workers',
        str(args.workers), '--work-dir',
        osp.join(
            args.work_dir, f'{args.split}_{args.max_iters}it_seed'
            f'{args.seed}_scales-{args.infer_scales}', name)
    ] + ([] if args.infer_scales == 'config' else ['--infer-scales'] +
         args.infer_scales.split(',')) + list(extra)


def rows(summary):
    """(maps, mIoU %, t, FP, FN) of a compare_methods summary."""
    out = []
    for r in summary['results']:
        for key, label in (('cam', 'CAMs'), ('seed', 'seeds (1-max)^2'),
                           ('seed_sweep', 'seeds sweep'), ('seg', 'seg')):
            s = r.get(key)
            if s and s.get('mIoU') is not None:
                out.append((f'{r["method"]} {label}', s['mIoU'] * 100,
                            s.get('best_thr'), s.get('FP'), s.get('FN')))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    todo = selected(args)
    if args.list:
        for s, n, a in todo:
            print(f'{s:10} {n:16} {" ".join(a)}')
        return 0
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        '_compare', osp.join(ROOT, 'benchmarks', 'compare_methods.py'))
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    lines = []
    for study, name, extra in todo:
        cmd = command(args, name, extra)
        compare.main(cmd)
        wd = cmd[cmd.index('--work-dir') + 1]
        with open(osp.join(wd, 'summary.json')) as f:
            summary = json.load(f)
        for maps, miou, thr, fp, fn in rows(summary):
            t = '-' if thr is None else f'{thr:.2f}'
            lines.append(f'| {study} | {name} | {maps} | {miou:.2f} | {t} | '
                         f'{fp:.3f} | {fn:.3f} | {" ".join(extra[2:])} |')
    print(f'\n=== ablations, camvid_things {args.split}, {args.max_iters} '
          f'it x 16, seed {args.seed} ===')
    print('| study | setting | maps | mIoU % | t | FP | FN | options |')
    print('|---|---|---|---|---|---|---|---|')
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
