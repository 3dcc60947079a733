#!/usr/bin/env python
"""Benchmark: RS and RS+EPM vs the CAM baseline (EfficientNet-Lite0) on
camvid_things, with the CAM baseline's budget.

1. Step time (``--step-time``): the CAM baseline model and two RS+EPM models
   of the camvid configs are built in ONE process and ``model.train_step`` is
   timed on the SAME training batch (batch 16 of the camvid train split),
   interleaved (the order rotates every round so drifts of a shared machine
   hit every model alike; ratios are medians of the per-round ratios):
   ``--warmup`` untimed + ``--steps`` timed steps each, with the RS model
   in phase ``'rs'`` (network forward + SCG / PAMR / CF seeds + L_cls, L_rec,
   L_seg) and the RS+EPM model in phase ``'rs_epm'`` (+ no-grad forward, EP,
   mixing and the forward of the 2B concatenated batch). Weights are not
   loaded (the step time does not depend on them). ``--keep-freed-memory``
   and ``--threads`` as in ``benchmarks/puzzlecam_camvid_things.py`` (whose
   helpers are reused).

2. Training and evaluation (``--train``, hours on 2 CPU cores; resumable):
   for the RS twin and the RS+EPM config
   (``configs/rsepm/rs[epm]_effnet-lite0_1xb16-1200it_camvid-things-
   176x176.py``): ``tools/train.py`` (skipped when the final checkpoint
   exists, resumed otherwise), multi-scale x flip CAMs of ``test``
   (``tools/cam/infer_cams.py``, the protocol of the CAM baseline) and
   their threshold sweep (:func:`tools.cam_pipeline.run_cam_pipeline`),
   then the single-stage seeds of ``test`` (``tools/rsepm/infer_seeds.py``, GT
   image labels like the CAM baseline's CAMs, no CRF) evaluated at the
   background threshold equivalent to ``bg = (1 - max)^2`` (t = 0.382) and
   swept (``tools/cam/eval_cams.py``). The table puts them next to the CAM
   baseline report ``work_dirs/bench_cam_camvid/cam_eval_test.json`` of
   ``benchmarks/cam_camvid_things.py``.

Without ``--step-time`` / ``--train`` both parts run. ``--subset N`` uses
the first N images of train and test (and a batch of at most N) and
``--max-iters`` shortens training (the phase milestones are scaled with
it): a quick check on the real data, its numbers are not the benchmark.

``--smoke``: both parts (or the ones asked for) on a tiny set generated
into the work dir (default ``work_dirs/smoke/rsepm_camvid_things``): batch
2, 1 warm-up + 2 timed steps, 4 training iterations (L_cls, RS, RS, EPM
for RS+EPM). Numbers meaningless. The baseline row comes from the report of
``benchmarks/cam_camvid_things.py --smoke`` in its default work dir
(``work_dirs/smoke/cam_camvid_things/cam_eval_test.json``) or from
``--baseline-report``; without one the table says so (making one here
would add a third training pipeline to the 3-minute budget).

Usage::

    python benchmarks/rsepm_camvid_things.py [--step-time] [--train]
        [--keep-freed-memory] [--data-root ../shared/data/camvid_things]
        [--work-dir work_dirs/bench_rsepm_camvid] [--models rs rsepm]
        [--max-iters N] [--subset N] [--smoke]
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
CONFIGS = dict(
    rs=osp.join(ROOT, 'configs', 'rsepm',
                'rs_effnet-lite0_1xb16-1200it_camvid-things-176x176.py'),
    rsepm=osp.join(ROOT, 'configs', 'rsepm',
                   'rsepm_effnet-lite0_1xb16-1200it_camvid-things-176x176.py'))
BASELINE_CONFIG = osp.join(
    ROOT, 'configs', 'cam',
    'cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
BASELINE_REPORT = osp.join(ROOT, 'work_dirs', 'bench_cam_camvid',
                           'cam_eval_test.json')
#: phase milestones of the camvid configs: 300 / 900 of 1,200 iterations
RS_FRAC, EPM_FRAC = 0.25, 0.75
#: training batch and iterations of a smoke run
SMOKE_BATCH, SMOKE_ITERS = 2, 4
#: the CAM baseline report of benchmarks/cam_camvid_things.py --smoke
SMOKE_BASELINE_REPORT = osp.join(ROOT, 'work_dirs', 'smoke',
                                 'cam_camvid_things', 'cam_eval_test.json')


def parse_args():
    from benchmarks import _smoke
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--baseline-config', default=BASELINE_CONFIG)
    parser.add_argument(
        '--baseline-report',
        default=None,
        help='default: work_dirs/bench_cam_camvid/cam_eval_test.json (with '
        '--smoke: work_dirs/smoke/cam_camvid_things/cam_eval_test.json)')
    parser.add_argument(
        '--data-root',
        default=osp.join(ROOT, '..', 'shared', 'data', 'camvid_things'))
    parser.add_argument(
        '--work-dir',
        default=None,
        help='default: work_dirs/bench_rsepm_camvid')
    parser.add_argument(
        '--step-time', action='store_true', help='run the step-time part')
    parser.add_argument(
        '--train', action='store_true', help='run the training part')
    parser.add_argument(
        '--models',
        nargs='+',
        default=['rs', 'rsepm'],
        choices=['rs', 'rsepm'],
        help='configs trained by --train')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument(
        '--keep-freed-memory',
        action='store_true',
        help='glibc keeps freed memory (see '
        'benchmarks/puzzlecam_camvid_things.py)')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch threads of the step-time part')
    parser.add_argument('--max-iters', type=int, default=None)
    parser.add_argument(
        '--subset',
        type=int,
        default=None,
        help='first N images of train / test only (smoke)')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument(
        '--batch-size',
        type=int,
        default=8,
        help='images per CAM / seed inference call')
    _smoke.add_smoke_arg(parser)
    args = parser.parse_args()
    args.work_dir = _smoke.work_dir(
        'rsepm_camvid_things', args.work_dir, args.smoke,
        osp.join(ROOT, 'work_dirs', 'bench_rsepm_camvid'))
    if args.smoke:
        args.warmup, args.steps = 1, 2
        args.max_iters = args.max_iters or SMOKE_ITERS
    if args.baseline_report is None:
        args.baseline_report = (
            SMOKE_BASELINE_REPORT if args.smoke else BASELINE_REPORT)
    return args


def _puzzle_bench():
    """The helpers of benchmarks/puzzlecam_camvid_things.py."""
    path = osp.join(ROOT, 'benchmarks', 'puzzlecam_camvid_things.py')
    spec = importlib.util.spec_from_file_location('_puzzle_bench', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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


def _data_options(args):
    opts = [
        f'{k}_dataloader.dataset.data_root={args.data_root}'
        for k in ('train', 'val', 'test')
    ]
    if args.smoke:
        from benchmarks import _smoke
        opts += (
            _smoke.train_options(SMOKE_BATCH) +
            _smoke.log_options(args.work_dir))
    if args.subset:
        opts += [
            f'train_dataloader.dataset.split={_split(args, "train")}',
            f'test_dataloader.dataset.split={_split(args, "test")}'
        ]
    return opts


def _phase_options(name, max_iters):
    """Phase milestones scaled to a shortened training (hook index 1); the
    RS twin never reaches the EPM phase."""
    if max_iters is None:
        return []
    epm = max_iters if name == 'rs' else int(max_iters * EPM_FRAC)
    return [
        'custom_hooks.1.iters_per_epoch=1',
        f'custom_hooks.1.rs_start_epoch={int(max_iters * RS_FRAC)}',
        f'custom_hooks.1.epm_start_epoch={epm}',
        f'custom_hooks.1.max_epochs={max_iters}'
    ]


# ----------------------------------------------------------------------
# 1. step time
# ----------------------------------------------------------------------
def step_time(args):
    import torch
    from mmengine.registry import init_default_scope

    from mmwsss.utils import tune_cpu_malloc
    init_default_scope('mmseg')
    bench = _puzzle_bench()
    if args.threads:
        torch.set_num_threads(args.threads)
    kept = args.keep_freed_memory and tune_cpu_malloc()
    print(
        f'torch threads: {torch.get_num_threads()}; glibc keeps freed '
        f'memory: {kept}',
        flush=True)
    cfg_cam, cam, wrap_c = bench._build(args.baseline_config)
    _, rs, wrap_rs = bench._build(CONFIGS['rsepm'])
    _, rsepm, wrap_e = bench._build(CONFIGS['rsepm'])
    rs.set_phase('rs')
    rsepm.set_phase('rs_epm')
    cfg_cam.train_dataloader.dataset.split = _split(args, 'train')
    if args.subset:
        cfg_cam.train_dataloader.batch_size = min(
            cfg_cam.train_dataloader.batch_size, args.subset)
    if args.smoke:
        cfg_cam.train_dataloader.batch_size = SMOKE_BATCH
    batch = bench._batch(cfg_cam, args.data_root)
    models = {
        'cam': (cam, wrap_c),
        'rs': (rs, wrap_rs),
        'rs_epm': (rsepm, wrap_e)
    }
    names = list(models)
    times = {k: [] for k in names}
    for i in range(args.warmup + args.steps):
        for name in names[i % 3:] + names[:i % 3]:
            model, wrapper = models[name]
            t = time.perf_counter()
            model.train_step(batch, wrapper)
            dt = time.perf_counter() - t
            if i >= args.warmup:
                times[name].append(dt)
    med = {k: statistics.median(v) for k, v in times.items()}
    res = dict(
        batch=len(batch['inputs']),
        shape=list(batch['inputs'][0].shape[-2:]),
        steps=args.steps,
        median_s=med,
        min_s={
            k: min(v)
            for k, v in times.items()
        })
    for name in ('rs', 'rs_epm'):
        res[f'{name}_over_cam'] = statistics.median(
            [a / c for a, c in zip(times[name], times['cam'])])
    print(
        f'batch {res["batch"]} x {tuple(res["shape"])}, {args.steps} timed '
        f'steps each: CAM median {med["cam"]:.3f} s, RS {med["rs"]:.3f} s, '
        f'RS+EPM {med["rs_epm"]:.3f} s; RS / CAM '
        f'{res["rs_over_cam"]:.3f}, RS+EPM / CAM {res["rs_epm_over_cam"]:.3f}'
        ' (medians of the paired per-round ratios)',
        flush=True)
    return res


# ----------------------------------------------------------------------
# 2. training, CAMs, seeds
# ----------------------------------------------------------------------
def _eval(run_tool, config, cam_dir, out, opts, workers, thr=None):
    cmd = [
        'tools/cam/eval_cams.py', config, '--dataset', 'test', '--cam-dir',
        cam_dir, '--out', out, '--workers',
        str(workers)
    ]
    if thr is not None:
        cmd += ['--thr-start', f'{thr:.6f}', '--thr-end', f'{thr:.6f}']
    run_tool(cmd + ['--cfg-options'] + opts)
    with open(out) as f:
        return json.load(f)


def train_and_eval(args, name):
    from mmwsss.utils.cam_ops import bg_gamma_threshold
    from tools.cam_pipeline import run_cam_pipeline, run_tool, step
    config = CONFIGS[name]
    wd = osp.join(args.work_dir, name)
    # no val loop at the end of training (the single-stage multi-scale + CRF
    # test of the 404 val tiles): the seeds and CAMs of `test` are evaluated
    # below
    opts = _data_options(args) + _phase_options(name, args.max_iters) + [
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None'
    ]
    t = time.time()
    res = run_cam_pipeline(
        config,
        wd,
        split='test',
        max_iters=args.max_iters,
        workers=args.workers,
        batch_size=args.batch_size,
        cfg_options=opts)
    sec = dict(res['seconds'])
    step(f'[{name}] single-stage seeds of test (GT labels, no CRF)')
    t = time.time()
    seeds = osp.join(wd, 'seeds_test')
    run_tool([
        'tools/rsepm/infer_seeds.py', config, res['checkpoint'], '--dataset',
        'test', '--out-dir', seeds, '--workers',
        str(args.workers), '--batch-size',
        str(args.batch_size), '--cfg-options'
    ] + opts)
    sec['seeds'] = time.time() - t
    step(f'[{name}] seed evaluation (bg = (1 - max)^2 and sweep)')
    t = time.time()
    seed = _eval(run_tool, config, seeds, osp.join(wd, 'seed_eval_test.json'),
                 opts, args.workers, bg_gamma_threshold(2.0))
    sweep = _eval(run_tool, config, seeds,
                  osp.join(wd, 'seed_sweep_test.json'), opts, args.workers)
    sec['seed_eval'] = time.time() - t
    return dict(
        cam=res['summary'],
        seed=seed,
        seed_sweep=sweep,
        checkpoint=res['checkpoint'],
        seconds=sec)


def _row(label, cam=None, seed=None, sweep=None):

    def pct(s, key='mIoU'):
        return f'{s[key] * 100:6.2f}' if s else '     -'

    def thr(s):
        return f'{s["best_thr"]:.2f}' if s else '   -'

    def frac(s, key):
        return f'{s[key]:.3f}' if s else '    -'

    return (f'| {label:<22} | {pct(cam)} (t {thr(cam)}) | {pct(seed)} | '
            f'{frac(seed, "FP")} | {frac(seed, "FN")} | {pct(sweep)} '
            f'(t {thr(sweep)}) |')


def main() -> int:
    args = parse_args()
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
        data_root=args.data_root,
        subset=args.subset,
        max_iters=args.max_iters,
        smoke=args.smoke)
    if both or args.step_time:
        summary['step_time'] = step_time(args)
    results = {}
    if both or args.train:
        for name in args.models:
            results[name] = train_and_eval(args, name)
        summary['results'] = results

    print('\n=== benchmark: RS / RS+EPM vs CAM, EfficientNet-Lite0, '
          'camvid_things ===')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    elif args.subset or args.max_iters:
        print(f'SHORT RUN (subset {args.subset}, max_iters '
              f'{args.max_iters}): not the benchmark numbers')
    st = summary.get('step_time')
    if st:
        print(f'step time (batch {st["batch"]} x {tuple(st["shape"])}): CAM '
              f'{st["median_s"]["cam"]:.3f} s, RS {st["median_s"]["rs"]:.3f}'
              f' s, RS+EPM {st["median_s"]["rs_epm"]:.3f} s; RS / CAM '
              f'{st["rs_over_cam"]:.2f}x, RS+EPM / CAM '
              f'{st["rs_epm_over_cam"]:.2f}x')
    if results:
        print('test split, mIoU % (6 classes incl. background); CAM = '
              'multi-scale x flip CAM, best threshold; seed = single-stage '
              'without CRF (GT labels)')
        print('| model                  | CAM mIoU (sweep) |  seed  | FP    '
              '| FN    | seed sweep      |')
        base = None
        if osp.isfile(args.baseline_report):
            with open(args.baseline_report) as f:
                base = json.load(f)
            print(_row('CAM baseline (L_cls)', cam=base))
        else:
            print(f'(CAM baseline report not found: {args.baseline_report};'
                  ' run benchmarks/cam_camvid_things.py' +
                  (' --smoke)' if args.smoke else ')'))
        labels = dict(rs='RS', rsepm='RS+EPM')
        for name, r in results.items():
            print(_row(labels[name], r['cam'], r['seed'], r['seed_sweep']))
            print('  seconds: ' + ', '.join(f'{k} {v:.0f}'
                                            for k, v in r['seconds'].items()))
    summary['seconds'] = time.time() - t0
    out = osp.join(args.work_dir, 'summary.json')
    atomic_save_json(out, summary)
    print(f'summary: {out}; total seconds: {summary["seconds"]:.0f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
