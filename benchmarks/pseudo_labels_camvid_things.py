#!/usr/bin/env python
"""Benchmark: CAM -> boundary net + random walk -> pseudo labels ->
segmentation stage on camvid_things (CPU sized).

Stages (each one resumes / is skipped when its output exists, so rerun the
same command after an interruption):

1. multi-scale x flip CAMs of the ``train`` split with the CAM baseline
   checkpoint (``tools/cam/infer_cams.py``); CAM sweep mIoU on train GT;
   with ``--maps seeds``: the RS+EPM seeds of an RS / RS+EPM checkpoint
   instead (``tools/rsepm/infer_seeds.py``, the paper's multi-stage
   extension: seeds -> random walk -> segmentation);
2. affinity labels (``tools/pseudo_labels/make_affinity_labels.py``);
3. boundary network training (``tools/train.py``, configs/boundary/);
4. random walk (``tools/pseudo_labels/random_walk.py``); RW sweep mIoU on
   train GT (thresholds 0.05..0.95); ``--no-rw`` skips stages 2-4 (the
   PNGs come straight from the stage-1 maps);
5. pseudo-label PNGs (``tools/pseudo_labels/export_pseudo_labels.py``,
   background threshold = the best one of the RW sweep unless
   ``--rw-bg-th`` is given, + label-CRF 1 iteration, the official
   setting) and their mIoU / FP / FN on train GT
   (``tools/cam/eval_cams.py --png-dir``);
6. segmentation stage (DeepLabV3+ EfficientNet-Lite0, configs/seg/) trained
   on the pseudo labels; mIoU on ``test`` with ``tools/test.py``
   (single scale; ``--tta`` adds multi-scale x flip + softmax-CRF;
   ``--gt-labels`` adds that test keeping only the classes of the GT image
   labels, the labels the CAM baseline's test uses: a diagnostic).

Usage::

    python benchmarks/pseudo_labels_camvid_things.py
        [--cam-checkpoint work_dirs/bench_cam_camvid/iter_1200.pth]
        [--work-dir work_dirs/pipeline_camvid] [--subset N]
        [--boundary-iters N] [--seg-iters N] [--tta] [--gt-labels]
        [--smoke]
        [--rw=--exp-times=4 ...] [--export=--crf=none ...]
        [--ignore-margin M] [--tag NAME]
        [--seg-curve M] [--until rw|pseudo_labels|seg]
        [--seg-class-weight none|inv-sqrt] [--seg-tag NAME]
        [--maps seeds --cam-config RSEPM_CONFIG --cam-checkpoint CKPT]
        [--no-rw --tag NAME] [--cam-classes ID ... --tag NAME] [--seed N]

A sweep of the random walk / pseudo labels (issue 16) reuses the CAMs and
the boundary net of the work dir: one ``--tag`` per setting, its RW maps,
PNGs and seg stage in ``rw_train_<tag>/``, ``pseudo_labels_<tag>/``,
``seg_<tag>/`` (a tag without ``--rw`` reuses the default RW maps);
``--seg-tag S`` names a seg-stage setting on the pseudo labels of
``--tag`` (``seg<tag>_S/``), e.g. ``--seg-class-weight inv-sqrt``
(cross-entropy weights from the pseudo labels' class frequencies);
``--cam-classes 2 3 4 5`` takes the PNG labels of those classes from the
stage-1 maps instead of the RW maps (a per-class random walk: the walk
carries large objects further and erodes thin ones);
``--seg-curve M`` tests every M-th seg checkpoint (the
curve of the schedule); ``--until rw`` (or ``pseudo_labels``) stops after
that stage, so the settings are screened on the train GT and only the
winner trains a seg stage; ``--seed N`` fixes ``randomness.seed`` of the
boundary net and seg-stage trainings (a second-seed run). Every PNG
evaluation counts a 255 pixel as a miss and prints the share of 255
pixels.

``--subset N`` runs every stage on the first N images of train and test
(a quick check on the real data; its numbers are not the benchmark).

``--smoke``: every stage on a tiny set generated into the work dir (default
``work_dirs/smoke/pseudo_labels_camvid_things``), starting from a CAM
baseline trained there for 2 iterations (unless ``--cam-checkpoint`` is
given), 2 iterations of batch 2 for the boundary and segmentation nets;
numbers meaningless, no shared data needed.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
CAM_CONFIG = osp.join(
    ROOT, 'configs', 'cam',
    'cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
SEED_CONFIG = osp.join(
    ROOT, 'configs', 'rsepm',
    'rsepm_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
#: --maps -> (the export tool of stage 1, its output folder in the work dir)
MAPS = {
    'cams': ('tools/cam/infer_cams.py', 'cams_train'),
    'seeds': ('tools/rsepm/infer_seeds.py', 'seeds_train'),
}
BOUNDARY_CONFIG = osp.join(
    ROOT, 'configs', 'boundary',
    'boundary_effnet-lite0_1xb16-600it_camvid-things-176x176.py')
SEG_CONFIG = osp.join(
    ROOT, 'configs', 'seg',
    'deeplabv3plus_effnet-lite0_1xb16-800it_camvid-things-pseudo-'
    '176x176.py')

#: the stages ``--until`` can stop after, in order
UNTIL = ('rw', 'pseudo_labels', 'seg')


def parse_args():
    from benchmarks import _smoke
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--data-root',
        default=osp.join(ROOT, '..', 'shared', 'data', 'camvid_things'))
    parser.add_argument(
        '--cam-checkpoint',
        default=None,
        help='default: work_dirs/bench_cam_camvid/iter_1200.pth (with '
        '--smoke: a CAM baseline trained in the work dir)')
    parser.add_argument(
        '--cam-config',
        default=None,
        help='config of --cam-checkpoint (default: the camvid CAM baseline; '
        'with --maps seeds the camvid RS+EPM config)')
    parser.add_argument(
        '--maps',
        choices=sorted(MAPS),
        default='cams',
        help='what the random walk starts from: cams (a CAM model, '
        'tools/cam/infer_cams.py) or seeds (the RS+EPM seeds of an RS / '
        'RS+EPM checkpoint, tools/rsepm/infer_seeds.py); one work dir per '
        'maps source')
    parser.add_argument('--boundary-config', default=BOUNDARY_CONFIG)
    parser.add_argument('--seg-config', default=SEG_CONFIG)
    parser.add_argument(
        '--work-dir', default=None, help='default: work_dirs/pipeline_camvid')
    parser.add_argument(
        '--subset',
        type=int,
        default=None,
        help='first N images of train / test only (smoke)')
    parser.add_argument('--boundary-iters', type=int, default=None)
    parser.add_argument('--seg-iters', type=int, default=None)
    parser.add_argument(
        '--rw-bg-th',
        type=float,
        default=None,
        help='background threshold of the exported PNGs (default: the best '
        'threshold of the RW sweep on train GT)')
    parser.add_argument(
        '--rw',
        nargs='+',
        action='extend',
        default=[],
        metavar='ARG',
        help='random-walk settings passed to tools/pseudo_labels/'
        'random_walk.py, e.g. --rw=--exp-times=4 --rw=--beta=8 (a sweep: '
        'one --tag per setting)')
    parser.add_argument(
        '--export',
        nargs='+',
        action='extend',
        default=[],
        metavar='ARG',
        help='pseudo-label export settings passed to tools/pseudo_labels/'
        'export_pseudo_labels.py, e.g. --export=--crf=none (a setting '
        'without --rw reuses the RW maps of the work dir)')
    parser.add_argument(
        '--no-rw',
        action='store_true',
        help='no boundary net / random walk: the PNGs come straight from the '
        'stage-1 maps (at their sweep-best background threshold unless '
        '--rw-bg-th); needs --tag')
    parser.add_argument(
        '--ignore-margin',
        type=float,
        default=0.0,
        help='pseudo-label pixels whose two best scores differ by less are '
        '255 (export_pseudo_labels.py --ignore-margin); 0: off')
    parser.add_argument(
        '--cam-classes',
        type=int,
        nargs='+',
        default=[],
        metavar='ID',
        help='class ids whose PNG labels come from the stage-1 maps instead '
        'of the RW maps (export_pseudo_labels.py --cam-classes: the thin '
        'classes the walk erodes); needs the RW and a --tag')
    parser.add_argument(
        '--tag',
        default='',
        help='suffix of the RW / pseudo-label / seg outputs, so that the '
        'settings of a sweep share the CAMs and the boundary net; the run '
        'summary goes to summary_<tag>.json (untagged: summary.json)')
    parser.add_argument(
        '--seg-curve',
        type=int,
        default=None,
        metavar='M',
        help='save the segmentation net every M iterations and test each '
        'checkpoint (single scale): the curve of the schedule')
    parser.add_argument(
        '--until',
        choices=UNTIL,
        default='seg',
        help='last stage to run: rw (the RW sweep on train GT), '
        'pseudo_labels (+ the PNGs and their mIoU) or seg (all); a sweep '
        'screens on train GT and trains the seg stage for its winner only')
    parser.add_argument(
        '--seg-class-weight',
        choices=('none', 'inv-sqrt'),
        default='none',
        help='class weights of the seg stage cross-entropy, from the class '
        'frequencies p_c of the pseudo labels: inv-sqrt = p_c^-1/2 scaled so '
        'that the pixel-weighted mean weight is 1 (sum_c p_c w_c = 1)')
    parser.add_argument(
        '--seg-tag',
        default='',
        help='suffix of the seg outputs only (a seg-stage setting on the '
        'pseudo labels of --tag): seg<tag>_<seg-tag>/, seg_test<tag>_'
        '<seg-tag>*.json')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument(
        '--seed',
        type=int,
        default=None,
        help='randomness.seed of the trainings run here (boundary net, '
        'segmentation stage); default: MMEngine draws one and logs it')
    parser.add_argument(
        '--seg-val',
        action='store_true',
        help='also test the seg stage on val (single scale): the split a '
        'seg-stage setting is chosen on; test only reports')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='also test with multi-scale x flip + CRF')
    parser.add_argument(
        '--gt-labels',
        action='store_true',
        help='also test with multi-scale x flip + CRF keeping only the '
        'classes of the GT image labels (tta_model.use_gt_labels): a '
        'diagnostic that scores the seg stage with the labels the CAM '
        'baseline is scored with')
    _smoke.add_smoke_arg(parser)
    args = parser.parse_args()
    args.work_dir = _smoke.work_dir(
        'pseudo_labels_camvid_things', args.work_dir, args.smoke,
        osp.join(ROOT, 'work_dirs', 'pipeline_camvid'))
    if args.no_rw and (args.rw or not args.tag):
        parser.error('--no-rw needs a --tag of its own and no --rw')
    if args.cam_classes and (args.no_rw or not args.tag):
        parser.error('--cam-classes needs the random walk (no --no-rw) and '
                     'a --tag of its own')
    if args.cam_config is None:
        args.cam_config = SEED_CONFIG if args.maps == 'seeds' else CAM_CONFIG
    if not args.smoke and args.cam_checkpoint is None:
        args.cam_checkpoint = osp.join(ROOT, 'work_dirs', 'bench_cam_camvid',
                                       'iter_1200.pth')
    return args


def _split(args, name):
    """Split name, or a subset split file in the work dir."""
    if not args.subset:
        return name
    src = osp.join(args.data_root, 'splits', f'{name}.txt')
    with open(src) as f:
        ids = [ln.strip() for ln in f if ln.strip()][:args.subset]
    dst = osp.join(args.work_dir, 'splits', f'{name}_{args.subset}.txt')
    os.makedirs(osp.dirname(dst), exist_ok=True)
    with open(dst, 'w') as f:
        f.write('\n'.join(ids) + '\n')
    return dst


def _train(run_tool, config, work_dir, iters, opts, every=None, seed=None):
    """tools/train.py unless the final checkpoint exists (resumes);
    a checkpoint every ``every`` iterations (default: the last only);
    ``randomness.seed=seed`` unless ``seed`` is None."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    iters = iters or cfg.train_cfg.max_iters
    ckpt = osp.join(work_dir, f'iter_{iters}.pth')
    if osp.isfile(ckpt):
        print(f'done already: {ckpt}')
        return ckpt
    cmd = [
        'tools/train.py', config, '--work-dir', work_dir, '--cfg-options',
        f'train_cfg.max_iters={iters}', f'param_scheduler.0.end={iters + 1}',
        f'default_hooks.checkpoint.interval={every or iters}',
        'default_hooks.checkpoint.max_keep_ckpts=-1'
    ] + opts
    if seed is not None:
        cmd.append(f'randomness.seed={seed}')
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        cmd.append('--resume')
    run_tool(cmd)
    return ckpt


def _eval(run_tool, args, split, out, extra):
    run_tool([
        'tools/cam/eval_cams.py', '--data-root', args.data_root, '--split',
        split, '--out', out, '--workers',
        str(args.workers), '--cfg-options',
        f'work_dir={osp.join(osp.dirname(osp.abspath(out)), "eval_logs")}'
    ] + extra)
    with open(out) as f:
        return json.load(f)


def inv_sqrt_class_weights(counts) -> list:
    """Cross-entropy class weights ``w_c = p_c^-1/2 / sum_k p_k^1/2`` from
    per-class pixel counts (``p_c = n_c / sum n``), so that the
    pixel-weighted mean weight ``sum_c p_c w_c`` is 1 (the loss keeps its
    scale). A class without pixels gets weight 0 (no pixel uses it)."""
    import numpy as np
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() <= 0:
        raise ValueError('class weights: the pseudo labels have no labelled '
                         'pixel')
    p = counts / counts.sum()
    w = np.zeros_like(p)
    w[p > 0] = p[p > 0]**-0.5 / np.sqrt(p).sum()
    return [round(float(x), 4) for x in w]


def class_counts(png_dir: str, num_classes: int):
    """Pixels per class (0..num_classes-1) of the PNGs of ``png_dir``
    (255 and other values are not counted)."""
    import glob

    import numpy as np

    from mmwsss.utils.fileio import read_label_png
    counts = np.zeros(num_classes, np.int64)
    for path in sorted(glob.glob(osp.join(png_dir, '*.png'))):
        label = read_label_png(path, 'pseudo label').ravel()
        counts += np.bincount(
            label[label < num_classes], minlength=num_classes)
    return counts


def _check_source(args) -> None:
    """The stages after the first reuse what the work dir holds, so one
    work dir serves one source of maps: ``source.json`` records the first
    run's ``--maps`` / config / checkpoint; a run with another source
    stops with a one-line error instead of mixing the two pipelines."""
    from mmwsss.utils.fileio import atomic_save_json
    source = dict(
        maps=args.maps,
        config=osp.abspath(args.cam_config),
        checkpoint=osp.abspath(args.cam_checkpoint))
    path = osp.join(args.work_dir, 'source.json')
    if not osp.isfile(path):
        atomic_save_json(path, source)
        return
    with open(path) as f:
        old = json.load(f)
    if old != source:
        diff = ', '.join(f'{k} {old.get(k)!r} -> {v!r}'
                         for k, v in source.items() if old.get(k) != v)
        sys.exit(f'error: {args.work_dir} holds the pipeline of another '
                 f'source ({diff}; {path}): pass another --work-dir')


def _smoke_setup(args, run_tool, step):
    """``--smoke``: the tiny generated set, tiny iteration counts, a CAM
    baseline checkpoint of 2 iterations (unless one is given).

    Returns:
        tuple[list[str], list[str]]: ``--cfg-options`` added to the training
        runs, and to the tools that run a config's test loop.
    """
    from benchmarks import _smoke
    args.data_root = _smoke.make_data(args.work_dir)
    args.boundary_iters = args.boundary_iters or 2
    args.seg_iters = args.seg_iters or 2
    logs = _smoke.log_options(args.work_dir)
    train = _smoke.train_options() + logs
    if args.cam_checkpoint is None:
        step('0. CAM baseline checkpoint (smoke: 2 iterations)')
        args.cam_checkpoint = _train(
            run_tool, args.cam_config, osp.join(args.work_dir, 'cam'), 2,
            train + [
                f'{k}_dataloader.dataset.data_root={args.data_root}'
                for k in ('train', 'val', 'test')
            ] + ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None'])
    return train, logs


class _Run:
    """What the stages of one benchmark run share: the arguments, the tool
    runner, the work dir and splits, the common tool arguments, and the
    results / seconds per stage that ``_report`` prints."""

    def __init__(self, args, run_tool, step, smoke_train, smoke_logs):
        self.args, self.run_tool, self.step = args, run_tool, step
        self.smoke_train = smoke_train
        self.logs = ['--cfg-options'] + smoke_logs if smoke_logs else []
        self.wd = args.work_dir
        self.train, self.test = _split(args, 'train'), _split(args, 'test')
        self.data = ['--data-root', args.data_root, '--split', self.train]
        self.w = ['--workers', str(args.workers)]
        # suffix of the RW / pseudo-label / seg outputs of a setting
        self.tag = f'_{args.tag}' if args.tag else ''
        self.sec, self.res = {}, {}
        self.t0 = time.time()

    def eval(self, name, extra):
        """tools/cam/eval_cams.py on the train GT -> ``<name>.json``."""
        return _eval(self.run_tool, self.args, self.train,
                     osp.join(self.wd, f'{name}.json'), extra)


def _stage_maps(run: _Run) -> str:
    """Stage 1: the CAMs (or seeds) of train and their sweep on train GT;
    returns their folder."""
    args, t = run.args, time.time()
    tool, maps_dir = MAPS[args.maps]
    run.step(f'1. {args.maps} of train (multi-scale x flip, {tool}) + sweep '
             'on train GT')
    cams = osp.join(run.wd, maps_dir)
    run.run_tool([
        tool, args.cam_config, args.cam_checkpoint, *run.data, '--out-dir',
        cams, '--batch-size', '4'
    ] + run.w + run.logs)
    run.res['cam'] = run.eval('eval_cam', ['--cam-dir', cams])
    run.sec['cams'] = time.time() - t
    return cams


def _stage_random_walk(run: _Run, cams: str) -> str:
    """Stages 2-4: affinity labels, boundary net, random walk of the maps
    and its sweep on train GT; returns the RW folder."""
    args = run.args
    t = time.time()
    run.step('2. affinity labels')
    aff = osp.join(run.wd, 'aff_labels')
    run.run_tool([
        'tools/pseudo_labels/make_affinity_labels.py', *run.data, '--cam-dir',
        cams, '--out-dir', aff
    ] + run.w)
    run.sec['affinity'] = time.time() - t

    t = time.time()
    run.step('3. boundary network')
    opts = [
        f'train_dataloader.dataset.data_root={args.data_root}',
        f'train_dataloader.dataset.split={run.train}',
        f'train_dataloader.dataset.mask_dir={aff}'
    ]
    ckpt_b = _train(
        run.run_tool,
        args.boundary_config,
        osp.join(run.wd, 'boundary'),
        args.boundary_iters,
        opts + run.smoke_train,
        seed=args.seed)
    run.sec['boundary'] = time.time() - t

    t = time.time()
    run.step('4. random walk + sweep on train GT (0.05..0.95)')
    # RW maps depend on the RW settings only: a tag without --rw (an
    # export setting) reuses the default RW maps
    rw_tag = run.tag if args.rw else ''
    rw = osp.join(run.wd, f'rw_train{rw_tag}')
    run.run_tool([
        'tools/pseudo_labels/random_walk.py', args.boundary_config, ckpt_b,
        *run.data, '--cam-dir', cams, '--out-dir', rw, '--batch-size', '4'
    ] + list(args.rw) + run.w + run.logs)
    run.res['rw'] = run.eval(f'eval_rw{rw_tag}', [
        '--cam-dir', rw, '--field', 'rw', '--thr-start', '0.05', '--thr-end',
        '0.95'
    ])
    if args.rw_bg_th is None:
        args.rw_bg_th = round(float(run.res['rw']['best_thr']), 4)
    run.sec['random_walk'] = time.time() - t
    return rw


def _stage_pseudo_labels(run: _Run, cams: str, rw: str) -> str:
    """Stage 5: the PNGs of the RW maps (or of the stage-1 maps with
    ``--no-rw``) and their mIoU on train GT; returns their folder."""
    args, t = run.args, time.time()
    run.step(f'5. pseudo labels (bg {args.rw_bg_th}, label-CRF 1 it unless '
             f'{args.export}, ignore margin {args.ignore_margin}) + eval '
             '(255 = miss)')
    pl = osp.join(run.wd, f'pseudo_labels{run.tag}')
    run.run_tool([
        'tools/pseudo_labels/export_pseudo_labels.py', *run.data, '--map-dir',
        rw, '--field', 'hr_cam' if args.no_rw else 'rw', '--out-dir', pl,
        '--bg-th',
        str(args.rw_bg_th), '--ignore-margin',
        str(args.ignore_margin)
    ] + (['--cam-dir', cams, '--cam-classes', *map(str, args.cam_classes)]
         if args.cam_classes else []) + list(args.export) + run.w)
    run.res['pseudo_labels'] = run.eval(f'eval_pseudo_labels{run.tag}',
                                        ['--png-dir', pl])
    run.sec['export'] = time.time() - t
    return pl


def _seg_test(run: _Run,
              opts,
              ckpt,
              name,
              tta=False,
              gt_labels=False,
              split=None):
    """tools/test.py of a seg checkpoint on a split (test unless said;
    cached JSON)."""
    args, split = run.args, split or run.test
    out = osp.join(run.wd, f'{name}.json')
    if not osp.isfile(out):
        gt = [
            'tta_model.use_gt_labels=True',
            'test_dataloader.dataset.label_source=json'
        ] if gt_labels else []
        split_opts = [
            o if not o.startswith('test_dataloader.dataset.split=') else
            f'test_dataloader.dataset.split={split}' for o in opts
        ]
        run.run_tool([
            'tools/test.py', args.seg_config, ckpt, '--work-dir',
            osp.join(run.wd, name), '--cfg-options', *split_opts, *gt
        ] + (['--tta'] if tta else []))
        # the metrics of the last test run (mmengine writes a JSON)
        import glob

        from mmwsss.utils.fileio import atomic_save_json
        logs = sorted(glob.glob(osp.join(run.wd, name, '*', '*.json')))
        if not logs:
            sys.exit(f'error: no metrics JSON in {osp.join(run.wd, name)}')
        with open(logs[-1]) as f:
            metrics = json.load(f)
        atomic_save_json(out, metrics, indent=None)
    with open(out) as f:
        return json.load(f)


def _stage_seg(run: _Run, pl: str) -> None:
    """Stage 6: the segmentation net trained on the pseudo labels; its mIoU
    on test (and val, TTA, the curve, as asked)."""
    args, res, t = run.args, run.res, time.time()
    run.step('6. segmentation stage on the pseudo labels, test split')
    opts = [
        f'{k}_dataloader.dataset.data_root={args.data_root}'
        for k in ('train', 'val', 'test')
    ]
    opts += [
        f'train_dataloader.dataset.split={run.train}',
        f'train_dataloader.dataset.mask_dir={pl}',
        f'test_dataloader.dataset.split={run.test}'
    ]
    if args.seg_class_weight == 'inv-sqrt':
        from mmengine.config import Config
        num_classes = Config.fromfile(
            args.seg_config).model.decode_head.num_classes
        res['seg_class_weight'] = inv_sqrt_class_weights(
            class_counts(pl, num_classes))
        print(f'seg class weights (inv-sqrt of the pseudo-label '
              f'frequencies): {res["seg_class_weight"]}')
        opts_train = [
            'model.decode_head.loss_decode.class_weight=' +
            str(res['seg_class_weight']).replace(' ', '')
        ]
    else:
        opts_train = []
    # the seg outputs of a seg-stage setting (--seg-tag)
    tag = run.tag + (f'_{args.seg_tag}' if args.seg_tag else '')
    seg_wd = osp.join(run.wd, f'seg{tag}')
    # no val loop (camvid val is one short clip; the test split is the
    # benchmark, evaluated below)
    ckpt_s = _train(
        run.run_tool,
        args.seg_config,
        seg_wd,
        args.seg_iters,
        opts + opts_train +
        ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None'] +
        run.smoke_train,
        every=args.seg_curve,
        seed=args.seed)
    run.sec['seg_train'] = time.time() - t
    t = time.time()

    for tta in ([False, True] if args.tta else [False]):
        name = 'seg_test_tta' if tta else 'seg_test'
        res[name] = _seg_test(run, opts, ckpt_s, name + tag, tta)
    if args.seg_val:
        # the split a seg-stage setting is chosen on (never test)
        res['seg_val'] = _seg_test(
            run, opts, ckpt_s, f'seg_val{tag}', split=_split(args, 'val'))
    if args.gt_labels:
        res['seg_test_tta_gt'] = _seg_test(
            run,
            opts,
            ckpt_s,
            f'seg_test_tta_gt{tag}',
            tta=True,
            gt_labels=True)
    if args.seg_curve:
        last = int(osp.basename(ckpt_s)[len('iter_'):-len('.pth')])
        # the last point is the final checkpoint: its test above
        res['seg_curve'] = {
            it:
            res['seg_test']['mIoU'] if it == last else _seg_test(
                run, opts, osp.join(seg_wd, f'iter_{it}.pth'),
                f'seg_test{tag}_iter{it}')['mIoU']
            for it in range(args.seg_curve, last + 1, args.seg_curve)
        }
    run.sec['seg_test'] = time.time() - t


def main() -> int:
    args = parse_args()
    args.data_root = osp.abspath(args.data_root)
    from tools.cam_pipeline import run_tool, step
    smoke_train, smoke_logs = [], []
    if args.smoke:
        smoke_train, smoke_logs = _smoke_setup(args, run_tool, step)
    if not osp.isdir(args.data_root):
        sys.exit(f'error: {args.data_root} not found: pass --data-root')
    if not osp.isfile(args.cam_checkpoint):
        sys.exit(f'error: CAM checkpoint {args.cam_checkpoint} not found: '
                 f'run benchmarks/cam_camvid_things.py first (or pass '
                 f'--cam-checkpoint)')
    os.makedirs(args.work_dir, exist_ok=True)
    _check_source(args)
    run = _Run(args, run_tool, step, smoke_train, smoke_logs)
    cams = _stage_maps(run)
    if args.no_rw:
        # the PNGs straight from the stage-1 maps, at their sweep best
        rw = cams
        if args.rw_bg_th is None:
            args.rw_bg_th = round(float(run.res['cam']['best_thr']), 4)
    else:
        rw = _stage_random_walk(run, cams)
    if args.until != 'rw':
        pl = _stage_pseudo_labels(run, cams, rw)
        if args.until == 'seg':
            _stage_seg(run, pl)
    return _report(args, run.res, run.sec, run.t0)


def _report(args, res, sec, t0) -> int:
    """Print the results of the stages that ran; write summary JSONs."""
    from benchmarks import _smoke
    from mmwsss.utils.fileio import atomic_save_json

    def pct(x):
        return f'{100 * x:.2f}'

    print('\n=== benchmark: pseudo labels + segmentation stage, '
          'camvid_things ===')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    if args.subset:
        print(f'SUBSET RUN on the first {args.subset} train / test images '
              '(not the benchmark numbers)')
    c, r = res['cam'], res.get('rw')
    if args.maps != 'cams':
        print(f'maps: {args.maps} of {args.cam_config}')
    print(f'CAM  (train GT, sweep best) : mIoU {pct(c["mIoU"])} % at t='
          f'{c["best_thr"]:.2f}, FP {c["FP"]:.3f} FN {c["FN"]:.3f}')
    if r is None:
        print('+RW  skipped (--no-rw): the PNGs come from the maps above')
    else:
        print(f'+RW  (train GT, sweep best) : mIoU {pct(r["mIoU"])} % at t='
              f'{r["best_thr"]:.2f}, FP {r["FP"]:.3f} FN {r["FN"]:.3f}')
    if 'pseudo_labels' in res:
        p = res['pseudo_labels']
        print(f'+dCRF PNGs (train GT)       : mIoU {pct(p["mIoU"])} %, FP '
              f'{p["FP"]:.3f} FN {p["FN"]:.3f} (bg {args.rw_bg_th}; 255 = '
              f'miss, 255 share {p.get("ignored") or 0:.4f})')
    for name in ('seg_val', 'seg_test', 'seg_test_tta', 'seg_test_tta_gt'):
        if name in res:
            split = 'val' if name == 'seg_val' else 'test'
            print(f'{name:27} : mIoU {float(res[name]["mIoU"]):.2f} % '
                  f'({split} split)')
    if 'seg_curve' in res:
        print('seg stage curve (test mIoU % by iteration): ' +
              ', '.join(f'{it} {float(m):.2f}'
                        for it, m in res['seg_curve'].items()))
    if args.until != 'seg':
        print(f'stopped after the {args.until} stage (--until)')
    if args.tag or args.rw or args.export or args.ignore_margin:
        print(f'setting {args.tag!r}: rw {args.rw}, export {args.export}, '
              f'ignore margin {args.ignore_margin}' +
              (f', classes {args.cam_classes} from the stage-1 maps' if args.
               cam_classes else ''))
    if args.seg_tag or args.seg_class_weight != 'none':
        print(f'seg setting {args.seg_tag!r}: class weight '
              f'{args.seg_class_weight} {res.get("seg_class_weight", "")}')
    print('seconds: ' + ', '.join(f'{k} {v:.0f}' for k, v in sec.items()) +
          f', total {time.time() - t0:.0f}')
    summary = dict(results=res, seconds=sec, args=vars(args))
    # one summary per setting: a tagged run never overwrites the untagged
    # run's summary.json
    name = '_'.join(t for t in (args.tag, args.seg_tag) if t)
    atomic_save_json(
        osp.join(args.work_dir,
                 f'summary_{name}.json' if name else 'summary.json'), summary)
    return 0


if __name__ == '__main__':
    sys.exit(main())
