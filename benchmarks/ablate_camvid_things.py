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
- ``puzzlecam``: round 1 (from the VOC recipe, L_re on the raw logits):
  ``alpha_max`` 0.5 / 1 / 2 / 4 (4 = the paper), L_re on the normalised
  CAMs (``re_level='cam'``); round 2 (from ``re_level='cam'``): crop 224,
  output stride 8;
- ``rs``: the RS+EPM single-stage seeds without EPM. Round 1 (from the VOC
  recipe, PAMR dilations 1..24): PAMR scaled to the 44 x 44 seed map
  (dilations 1, 2, 4, 8), PAMR off (``num_iter=0``); round 2 (from PAMR
  1, 2, 4, 8): certain filter c 0.35, variant (a) ``bg_gamma``, SCG on the
  stride-8 grid with every level, EMA with the official ramp, RecurSeed
  from iteration 0;
- ``rsepm``: round 1: the VOC recipe, both PAMRs (seed and EP) at (1, 2, 4,
  8) or off; round 2 (from 1, 2, 4, 8): EP on the max-probability map,
  schedule reading (a) (the same 5 / 15 / 20 as durations: RS from 0, EPM
  from epoch 5), SCG on the stride-8 grid (the best RS round-2 setting).

Every setting names its recipe in its options (the configs' defaults may
move to a winner; a setting stays the same run).

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
# Every setting names the recipe it starts from, so a setting means the same
# run whatever the configs' defaults are. Round 1: one factor away from the
# VOC recipe (L_re on raw logits; PAMR dilations 1..24 for the seeds and
# for EP). Round 2: one factor away from the round-1 winners (L_re on the
# normalised CAMs; PAMR 1, 2, 4, 8), the camvid configs' defaults since.
# Puzzle-CAM pins its output stride too: its camvid config runs at OS8
# since round 2 (the rounds were screened from OS16).
PZ_OS16 = [
    PZ + 'model.backbone.output_stride=16', PZ + 'model.backbone_stride=16'
]
PZ_OS8 = [
    PZ + 'model.backbone.output_stride=8', PZ + 'model.backbone_stride=8'
]
PZ_RE_CAM = [PZ + 'model.cam_head.loss_re.re_level=cam']
PZ_FEATURE = [PZ + 'model.cam_head.loss_re.re_level=feature'] + PZ_OS16
PZ_CAM = PZ_RE_CAM + PZ_OS16
# RS round 1 also pins EP's PAMR to the VOC dilations it ran with (inert in
# RS: the EPM phase never starts), so its work dirs stay the same runs
RS_EP_VOC = ['rs:model.edge_predict.pamr.dilations=(1,2,4,8,12,24)']
RS_PAMR_VOC = ['rs:model.pamr.dilations=(1,2,4,8,12,24)'] + RS_EP_VOC
RS_PAMR_1248 = ['rs:model.pamr.dilations=(1,2,4,8)']
RSEPM_PAMR_VOC = [
    'rsepm:model.pamr.dilations=(1,2,4,8,12,24)',
    'rsepm:model.edge_predict.pamr.dilations=(1,2,4,8,12,24)'
]
RSEPM_PAMR_1248 = [
    'rsepm:model.pamr.dilations=(1,2,4,8)',
    'rsepm:model.edge_predict.pamr.dilations=(1,2,4,8)'
]


def _run(method, options, *extra):
    """compare_methods arguments of one ``method`` with ``options``."""
    return ['--methods', method, *extra, '--method-options', *options]


#: (study, name, compare_methods arguments)
SETTINGS = [
    ('baseline', 'cam', ['--methods', 'cam']),
    ('baseline', 'cam_crop224', ['--methods', 'cam', '--crop', '224']),
    ('baseline', 'cam_os8', _run('cam',
                                 ['cam:model.backbone.output_stride=8'])),
    # round 1: from the VOC recipe
    ('puzzlecam', 'pz_alpha0.5',
     _run('puzzlecam', PZ_FEATURE + [PZ + 'custom_hooks.1.alpha_max=0.5'])),
    ('puzzlecam', 'pz_alpha1',
     _run('puzzlecam', PZ_FEATURE + [PZ + 'custom_hooks.1.alpha_max=1.0'])),
    ('puzzlecam', 'pz_alpha2',
     _run('puzzlecam', PZ_FEATURE + [PZ + 'custom_hooks.1.alpha_max=2.0'])),
    ('puzzlecam', 'pz_alpha4',
     _run('puzzlecam', PZ_FEATURE + [PZ + 'custom_hooks.1.alpha_max=4.0'])),
    ('puzzlecam', 'pz_re_cam', _run('puzzlecam', PZ_CAM)),
    # round 2: from re_level='cam'
    ('puzzlecam', 'pz_crop224', _run('puzzlecam', PZ_CAM, '--crop', '224')),
    ('puzzlecam', 'pz_os8', _run('puzzlecam', PZ_RE_CAM + PZ_OS8)),
    # round 1: from the VOC recipe
    ('rs', 'rs_default', _run('rs', RS_PAMR_VOC)),
    ('rs', 'rs_pamr1248', _run('rs', RS_PAMR_1248 + RS_EP_VOC)),
    ('rs', 'rs_pamr_off', _run('rs',
                               RS_PAMR_VOC + ['rs:model.pamr.num_iter=0'])),
    # round 2: from PAMR (1, 2, 4, 8)
    ('rs', 'rs_cf0.35',
     _run('rs', RS_PAMR_1248 + ['rs:model.certain_filter.certain_th=0.35'])),
    ('rs', 'rs_cf_bg_gamma',
     _run('rs', RS_PAMR_1248 + ['rs:model.certain_filter.mode=bg_gamma'])),
    ('rs', 'rs_scg_stride8',
     _run(
         'rs', RS_PAMR_1248 +
         ['rs:model.scg_grid=stride8', 'rs:model.scg_in_index=(0,1,2,3,4)'])),
    ('rs', 'rs_ema', _run('rs', RS_PAMR_1248, '--ema', '0.9999', '2000')),
    ('rs', 'rs_start0',
     _run('rs', RS_PAMR_1248 + ['rs:custom_hooks.1.rs_start_epoch=0'])),
    # round 1: from the VOC recipe
    ('rsepm', 'rsepm_default', _run('rsepm', RSEPM_PAMR_VOC)),
    ('rsepm', 'rsepm_pamr1248', _run('rsepm', RSEPM_PAMR_1248)),
    ('rsepm', 'rsepm_pamr_off',
     _run('rsepm', [
         'rsepm:model.pamr.num_iter=0',
         'rsepm:model.edge_predict.pamr.num_iter=0'
     ])),
    # round 2: from PAMR (1, 2, 4, 8)
    ('rsepm', 'rsepm_max_prob',
     _run('rsepm',
          RSEPM_PAMR_1248 + ['rsepm:model.edge_predict.ep_edge_map=max_prob'])
     ),
    ('rsepm', 'rsepm_reading_a',
     _run('rsepm',
          RSEPM_PAMR_1248 + ['rsepm:custom_hooks.1.reading=duration'])),
    ('rsepm', 'rsepm_scg_stride8',
     _run(
         'rsepm', RSEPM_PAMR_1248 + [
             'rsepm:model.scg_grid=stride8',
             'rsepm:model.scg_in_index=(0,1,2,3,4)'
         ])),
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
