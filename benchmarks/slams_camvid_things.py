#!/usr/bin/env python
"""Benchmark: SLAMs-like (reconstruction) vs the CAM baseline
(EfficientNet-Lite0) on camvid_things, with the CAM baseline's image budget.

SLAMs has no public code; the method here is our labelled reconstruction
(``configs/slams/README.md``): no number below is a SLAMs reproduction.

1. Step time (``--step-time``): the CAM baseline model and the stage-2
   model of ``configs/slams/slams_effnet-lite0_1xb16-1200it_camvid-things-
   176x176.py`` are built in ONE process and ``model.train_step`` is timed
   on the SAME training batch, interleaved (the order alternates every
   round; the ratio is the median of the per-round ratios): ``--warmup``
   untimed + ``--steps`` timed steps each. Also the number of (image,
   class) pairs (2 encoder images each) and the time of the one batched
   encoder forward + backward alone. The stage-2 step must stay within 4x
   the CAM step for the CAM baseline's budget (1,200 x 16 images): the
   config uses encoder_input 112 for that (its comment has the
   measurements; ``--encoder-input`` measures another encoder size).

2. Training and evaluation (``--train``, resumable): stage 1
   (``tools/train.py`` of the encoder config, 600 iterations, skipped when
   its final checkpoint exists, resumed otherwise), stage 2 with that
   checkpoint,
   then the multi-scale x flip sigma-maps of ``test`` in the CAM format
   (``tools/cam/infer_cams.py``, finished images skipped) and their sweep
   0.05-0.95 (``tools/cam/eval_cams.py --thr-end 0.95``): activation-map
   mIoU, FP / FN beside the CAM baseline report at the same budget
   (``python benchmarks/cam_camvid_things.py``) and the README figures of
   the CAM baseline, RS and Puzzle-CAM at 1,200 x 16.

Without ``--step-time`` / ``--train`` both parts run. ``--smoke``: both
parts on a tiny generated set, batch 2, 1 + 2 timed steps, 2 iterations per
stage. Numbers meaningless.

Usage::

    python benchmarks/slams_camvid_things.py [--step-time] [--train]
        [--data-root ../shared/data/camvid_things]
        [--work-dir work_dirs/bench_slams_camvid] [--max-iters N]
        [--encoder-input N] [--smoke]
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
STAGE1 = osp.join(
    ROOT, 'configs', 'slams',
    'slams-encoder_effnet-lite0_1xb16-600it_camvid-things-176x176.py')
STAGE2 = osp.join(ROOT, 'configs', 'slams',
                  'slams_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
BASELINE_CONFIG = osp.join(
    ROOT, 'configs', 'cam',
    'cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
#: the CAM baseline at the same budget (1,200 x 16)
BASELINE_REPORT = osp.join(ROOT, 'work_dirs', 'bench_cam_camvid',
                           'cam_eval_test.json')
#: camvid test figures of benchmarks/README.md (2026-11-22) at 1,200 x 16:
#: (label, CAM / seed mIoU %)
README_ROWS = [
    ('CAM baseline 1200 it (README)', 27.87),
    ('Puzzle-CAM CAMs 1200 it (README)', 19.48),
    ('RS classifier CAMs 1200 it (README)', 32.63),
    ('RS single-stage seeds 1200 it (README)', 25.77),
]
TARGET_RATIO = 4.0
SMOKE_BATCH, SMOKE_ITERS = 2, 2


def parse_args(argv=None):
    from benchmarks import _smoke
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--stage1-config', default=STAGE1)
    parser.add_argument('--config', default=STAGE2)
    parser.add_argument('--baseline-config', default=BASELINE_CONFIG)
    parser.add_argument('--baseline-report', default=BASELINE_REPORT)
    parser.add_argument(
        '--data-root',
        default=osp.join(ROOT, '..', 'shared', 'data', 'camvid_things'))
    parser.add_argument(
        '--work-dir',
        default=None,
        help='default: work_dirs/bench_slams_camvid')
    parser.add_argument('--step-time', action='store_true')
    parser.add_argument('--train', action='store_true')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--max-iters', type=int, default=None)
    parser.add_argument(
        '--encoder-input',
        type=int,
        default=None,
        help='step time with another encoder input size')
    parser.add_argument('--workers', type=int, default=2)
    _smoke.add_smoke_arg(parser)
    args = parser.parse_args(argv)
    args.work_dir = _smoke.work_dir(
        'slams_camvid_things', args.work_dir, args.smoke,
        osp.join(ROOT, 'work_dirs', 'bench_slams_camvid'))
    if args.smoke:
        args.warmup, args.steps = 1, 2
        args.max_iters = args.max_iters or SMOKE_ITERS
    return args


def _puzzle_bench():
    """The model / batch helpers of benchmarks/puzzlecam_camvid_things.py."""
    path = osp.join(ROOT, 'benchmarks', 'puzzlecam_camvid_things.py')
    spec = importlib.util.spec_from_file_location('_puzzle_bench', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _data_options(args):
    from benchmarks import _smoke
    opts = [
        f'{k}_dataloader.dataset.data_root={args.data_root}'
        for k in ('train', 'val', 'test')
    ]
    if args.smoke:
        opts += (
            _smoke.train_options(SMOKE_BATCH) +
            _smoke.log_options(args.work_dir))
    return opts


# ----------------------------------------------------------------------
# 1. step time
# ----------------------------------------------------------------------
def _encoder_time(model, batch, repeats=3):
    """(pairs, seconds) of the one batched encoder forward + backward of a
    step on ``batch`` (random maps; the gradient reaches the maps)."""
    import torch

    from mmwsss.models.heads.cam_head import stack_img_labels
    from mmwsss.models.utils.semantics import semantic_targets
    data = model.data_preprocessor(batch, True)
    x, samples = data['inputs'], data['data_samples']
    targets = semantic_targets(stack_img_labels(samples))
    head = model.act_head
    B, _, H, W = x.shape
    valid = torch.ones(B, 1, H, W, dtype=torch.bool)
    times, pairs = [], 0
    for _ in range(repeats):
        masks = torch.rand(B, head.num_classes + 1, H, W, requires_grad=True)
        t = time.perf_counter()
        xs, own, _, _, _ = head.encoder_inputs(x, masks, valid, targets)
        model.encoder.embed(xs).sum().backward()
        times.append(time.perf_counter() - t)
        pairs = own.shape[0]
    return pairs, statistics.median(times)


def step_time(args):
    import torch
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    bench = _puzzle_bench()
    print(f'torch threads: {torch.get_num_threads()}', flush=True)
    cfg_cam, cam, wrap_c = bench._build(args.baseline_config)
    cfg_s, slams, wrap_s = bench._build(args.config)
    if args.encoder_input:
        slams.act_head.encoder_input = int(args.encoder_input)
    if args.smoke:
        cfg_cam.train_dataloader.batch_size = SMOKE_BATCH
    batch = bench._batch(cfg_cam, args.data_root)
    models = {'cam': (cam, wrap_c), 'slams': (slams, wrap_s)}
    times = {k: [] for k in models}
    for i in range(args.warmup + args.steps):
        for name in (['cam', 'slams'] if i % 2 == 0 else ['slams', 'cam']):
            model, wrapper = models[name]
            t = time.perf_counter()
            model.train_step(batch, wrapper)
            dt = time.perf_counter() - t
            if i >= args.warmup:
                times[name].append(dt)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = statistics.median(
        [s / c for s, c in zip(times['slams'], times['cam'])])
    pairs, enc = _encoder_time(slams, batch)
    res = dict(
        batch=len(batch['inputs']),
        shape=list(batch['inputs'][0].shape[-2:]),
        steps=args.steps,
        median_s=med,
        slams_over_cam=ratio,
        pairs=pairs,
        encoder_s=enc,
        encoder_input=slams.act_head.encoder_input,
        within_target=ratio <= TARGET_RATIO)
    print(
        f'batch {res["batch"]} x {tuple(res["shape"])}, {args.steps} timed '
        f'steps each: CAM {med["cam"]:.3f} s, SLAMs-like stage 2 '
        f'{med["slams"]:.3f} s, ratio {ratio:.2f}x', flush=True)
    return res


# ----------------------------------------------------------------------
# 2. training and evaluation
# ----------------------------------------------------------------------
def train_and_eval(args):
    from mmengine.config import Config

    from tools.cam_pipeline import run_cam_pipeline, run_tool, step
    opts = _data_options(args)
    c1 = Config.fromfile(args.stage1_config)
    iters1 = args.max_iters or c1.train_cfg.max_iters
    wd1 = osp.join(args.work_dir, 'stage1')
    ckpt1 = osp.join(wd1, f'iter_{iters1}.pth')
    seconds = {}
    t = time.time()
    if osp.isfile(ckpt1):
        step(f'stage 1: done already ({ckpt1})')
    else:
        step(f'stage 1: the semantic encoder ({iters1} iterations)')
        cmd = [
            'tools/train.py', args.stage1_config, '--work-dir', wd1,
            '--cfg-options', f'train_cfg.max_iters={iters1}',
            f'train_cfg.val_interval={iters1 + 1}',
            f'param_scheduler.0.end={iters1 + 1}',
            f'default_hooks.checkpoint.interval={max(iters1 // 4, 1)}'
        ] + [o for o in opts if o.startswith(('train_', 'work_dir'))]
        if osp.isfile(osp.join(wd1, 'last_checkpoint')):
            cmd.append('--resume')
        run_tool(cmd)
    seconds['stage1'] = time.time() - t
    step('stage 2 + sigma-map export + sweep (test split)')
    res = run_cam_pipeline(
        args.config,
        osp.join(args.work_dir, 'stage2'),
        split='test',
        max_iters=args.max_iters,
        workers=args.workers,
        cfg_options=opts + [f'model.encoder_checkpoint={ckpt1}'],
        eval_args=['--thr-end', '0.95'])
    seconds.update({f'stage2_{k}': v for k, v in res['seconds'].items()})
    return dict(summary=res['summary'], seconds=seconds)


def _row(label, s):
    return (f'| {label:<40} | {s["mIoU"] * 100:6.2f} | '
            f'{s["best_thr"]:.2f} | {s["FP"]:.3f} | {s["FN"]:.3f} |')


def main(argv=None) -> int:
    args = parse_args(argv)
    from benchmarks import _smoke
    if args.smoke:
        args.data_root = _smoke.make_data(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    if not osp.isdir(args.data_root):
        sys.exit(f'error: {args.data_root} not found: pass --data-root '
                 'pointing at a camvid_things copy (images/, masks/, ...)')
    import mmwsss  # noqa: F401
    from mmwsss.utils.fileio import atomic_save_json
    os.makedirs(args.work_dir, exist_ok=True)
    both = not (args.step_time or args.train)
    t0 = time.time()
    summary = dict(
        method_status='reconstruction',
        data_root=args.data_root,
        max_iters=args.max_iters,
        smoke=args.smoke)
    if both or args.step_time:
        summary['step_time'] = step_time(args)
    if both or args.train:
        summary['training'] = train_and_eval(args)

    print('\n=== benchmark: SLAMs-like (reconstruction) vs CAM, '
          'EfficientNet-Lite0, camvid_things ===')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    elif args.max_iters:
        print(f'SHORT RUN (max_iters {args.max_iters}): not the benchmark '
              'numbers')
    st = summary.get('step_time')
    if st:
        print(f'step time (batch {st["batch"]} x {tuple(st["shape"])}): CAM '
              f'{st["median_s"]["cam"]:.3f} s, SLAMs-like stage 2 '
              f'{st["median_s"]["slams"]:.3f} s, stage 2 / CAM '
              f'{st["slams_over_cam"]:.2f}x (target <= {TARGET_RATIO:.0f}x: '
              f'{"met" if st["within_target"] else "NOT met"})')
        print(f'encoder: {st["pairs"]} (image, class) pairs -> '
              f'{2 * st["pairs"]} images of {st["encoder_input"]} px in one '
              f'call, forward + backward {st["encoder_s"]:.3f} s')
    tr = summary.get('training')
    if tr:
        print('test split, activation-map / CAM mIoU % (6 classes incl. '
              'background), sweep best:')
        print(f'| {"model":<40} | mIoU   | t    | FP    | FN    |')
        if osp.isfile(args.baseline_report):
            with open(args.baseline_report) as f:
                print(_row('CAM baseline, same budget (report)',
                           json.load(f)))
        else:
            print(f'| CAM baseline, same budget: report not found '
                  f'({args.baseline_report}) | - | - | - | - |')
        for label, miou in README_ROWS:
            print(f'| {label:<40} | {miou:6.2f} | -    | -     | -     |')
        print(_row('SLAMs-like (reconstruction) sigma-maps', tr['summary']))
        print('  seconds: ' + ', '.join(f'{k} {v:.0f}'
                                        for k, v in tr['seconds'].items()))
    summary['seconds'] = time.time() - t0
    out = osp.join(args.work_dir, 'summary.json')
    atomic_save_json(out, summary)
    print(f'summary: {out}; total seconds: {summary["seconds"]:.0f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
