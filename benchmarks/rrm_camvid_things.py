#!/usr/bin/env python
"""Benchmark: RRM one-step vs the CAM baseline (EfficientNet-Lite0) on
camvid_things, with the CAM baseline's image budget.

1. Step time (``--step-time``): the CAM baseline model and the RRM model of
   ``configs/rrm/rrm_effnet-lite0_1xb16-1200it_camvid-things-176x176.py``
   are built in ONE process and ``model.train_step`` is timed on the SAME
   training batch, interleaved (the order alternates every round; the
   ratio is the median of the per-round ratios): ``--warmup`` untimed +
   ``--steps`` timed steps each. The RRM step is broken down into the
   mining (its ``time_mining`` log value: multi-scale CAM + two CRFs per
   image), the dense energy loss (forward + backward of the head's
   ``DenseEnergyLoss`` on the step's shapes, timed alone) and the rest
   (forward / backward / update). Mining throughput (images / s) is
   measured with 1 and 2 CRF processes on the same batch. The camvid
   config is chosen so that the RRM step stays within 4x the CAM step
   (the choice and the measured ratio are printed).

2. Training and evaluation (``--train``, about an hour on 2 CPU cores;
   resumable): ``tools/train.py`` of the RRM camvid config (skipped when
   the final checkpoint exists, resumed otherwise), then the segmentation
   branch on ``test`` through ``tools/test.py``'s test loop, single scale,
   without and with the ``rrm_test`` CRF: mIoU (6 classes incl.
   background) and FP / FN. Each evaluation is written to
   ``test_<variant>.json`` and skipped when present. The table puts them
   next to the CAM baseline report (``benchmarks/cam_camvid_things.py``,
   the multi-scale x flip CAM with GT image labels, best threshold) and
   the multi-stage seg stage of ``benchmarks/pseudo_labels_camvid_things.py``
   (its ``summary.json`` when present).

Without ``--step-time`` / ``--train`` both parts run. ``--subset N`` and
``--max-iters N`` make a quick check on the real data (not the benchmark).
``--smoke``: both parts on a tiny generated set, batch 2, 1 + 2 timed
steps, 2 training iterations. Numbers meaningless.

Usage::

    python benchmarks/rrm_camvid_things.py [--step-time] [--train]
        [--data-root ../shared/data/camvid_things]
        [--work-dir work_dirs/bench_rrm_camvid] [--max-iters N]
        [--subset N] [--smoke]
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
CONFIG = osp.join(ROOT, 'configs', 'rrm',
                  'rrm_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
BASELINE_CONFIG = osp.join(
    ROOT, 'configs', 'cam',
    'cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
BASELINE_REPORT = osp.join(ROOT, 'work_dirs', 'bench_cam_camvid',
                           'cam_eval_test.json')
MULTISTAGE_REPORT = osp.join(ROOT, 'work_dirs', 'bench_pseudo_labels_camvid',
                             'summary.json')
#: the seg-stage test mIoU of benchmarks/pseudo_labels_camvid_things.py
#: (benchmarks/README.md, 2026-11-22), used when its summary is absent
MULTISTAGE_MIOU = 21.13
#: the step-time target of the camvid config: RRM / CAM
TARGET_RATIO = 4.0
SMOKE_BATCH, SMOKE_ITERS = 2, 2


def parse_args(argv=None):
    from benchmarks import _smoke
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--baseline-config', default=BASELINE_CONFIG)
    parser.add_argument('--baseline-report', default=None)
    parser.add_argument(
        '--data-root',
        default=osp.join(ROOT, '..', 'shared', 'data', 'camvid_things'))
    parser.add_argument(
        '--work-dir', default=None, help='default: work_dirs/bench_rrm_camvid')
    parser.add_argument('--step-time', action='store_true')
    parser.add_argument('--train', action='store_true')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--max-iters', type=int, default=None)
    parser.add_argument('--subset', type=int, default=None)
    parser.add_argument('--workers', type=int, default=2)
    _smoke.add_smoke_arg(parser)
    args = parser.parse_args(argv)
    args.work_dir = _smoke.work_dir(
        'rrm_camvid_things', args.work_dir, args.smoke,
        osp.join(ROOT, 'work_dirs', 'bench_rrm_camvid'))
    if args.smoke:
        args.warmup, args.steps = 1, 2
        args.max_iters = args.max_iters or SMOKE_ITERS
    if args.baseline_report is None:
        args.baseline_report = BASELINE_REPORT
    return args


def _puzzle_bench():
    """The model / batch helpers of benchmarks/puzzlecam_camvid_things.py."""
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
    from benchmarks import _smoke
    opts = [
        f'{k}_dataloader.dataset.data_root={args.data_root}'
        for k in ('train', 'val', 'test')
    ]
    if args.smoke:
        opts += (
            _smoke.train_options(SMOKE_BATCH) +
            _smoke.log_options(args.work_dir))
    if args.subset:
        opts += [
            f'train_dataloader.dataset.split={_split(args, "train")}',
            f'test_dataloader.dataset.split={_split(args, "test")}'
        ]
    return opts


# ----------------------------------------------------------------------
# 1. step time
# ----------------------------------------------------------------------
def _energy_time(model, batch, repeats=3):
    """Seconds of one forward + backward of the head's energy loss on the
    shapes of ``batch`` (random logits, the batch's images)."""
    import torch

    from mmwsss.models.utils import decode_losses
    energy = [
        loss for loss in decode_losses(model.decode_head)
        if type(loss).__name__ == 'DenseEnergyLoss'
    ]
    if not energy:
        return None
    data = model.data_preprocessor(batch, True)
    x = data['inputs']
    rgb = x * model.data_preprocessor.std.view(1, -1, 1, 1) + \
        model.data_preprocessor.mean.view(1, -1, 1, 1)
    B, _, H, W = x.shape
    logits = torch.randn(B, model.num_classes, H, W, requires_grad=True)
    label = torch.full((B, H, W), 255, dtype=torch.long)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        loss = energy[0](logits, label, img=rgb, roi=None)
        loss.backward()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _mining_throughput(model, batch, workers):
    """Images / s of the mining (multi-scale CAM + CRFs) with ``workers``
    CRF processes, on ``batch`` (median of 3 after a warm-up)."""
    import torch

    from mmwsss.models.heads.cam_head import stack_img_labels
    from mmwsss.models.utils import images_u8
    data = model.data_preprocessor(batch, True)
    x, samples = data['inputs'], data['data_samples']
    labels = stack_img_labels(samples)
    mining = model.mining
    old, mining.crf_workers = mining.crf_workers, workers
    mining.close()
    mining._pool = None
    try:
        with torch.no_grad():
            cam, _ = model.cam_head.cam_and_logits(
                model.extract_feat(x)[model.cam_in_index])
            p_fg = model.training_cams(x, cam, labels)
        images = list(images_u8(x, model.data_preprocessor))
        times = []
        for i in range(4):
            t = time.perf_counter()
            mining(images, p_fg, labels)
            if i:
                times.append(time.perf_counter() - t)
        return len(images) / statistics.median(times)
    finally:
        mining.close()
        mining._pool = None
        mining.crf_workers = old


def step_time(args):
    import torch
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    bench = _puzzle_bench()
    print(f'torch threads: {torch.get_num_threads()}', flush=True)
    cfg_cam, cam, wrap_c = bench._build(args.baseline_config)
    cfg_rrm, rrm, wrap_r = bench._build(args.config)
    cfg_cam.train_dataloader.dataset.split = _split(args, 'train')
    if args.smoke:
        cfg_cam.train_dataloader.batch_size = SMOKE_BATCH
    elif args.subset:
        cfg_cam.train_dataloader.batch_size = min(
            cfg_cam.train_dataloader.batch_size, args.subset)
    batch = bench._batch(cfg_cam, args.data_root)
    models = {'cam': (cam, wrap_c), 'rrm': (rrm, wrap_r)}
    times = {k: [] for k in models}
    mining = []
    for i in range(args.warmup + args.steps):
        for name in (['cam', 'rrm'] if i % 2 == 0 else ['rrm', 'cam']):
            model, wrapper = models[name]
            t = time.perf_counter()
            log = model.train_step(batch, wrapper)
            dt = time.perf_counter() - t
            if i >= args.warmup:
                times[name].append(dt)
                if name == 'rrm':
                    mining.append(float(log['time_mining']))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = statistics.median(
        [r / c for r, c in zip(times['rrm'], times['cam'])])
    energy = _energy_time(rrm, batch)
    mining_s = statistics.median(mining)
    rest = med['rrm'] - mining_s - (energy or 0.0)
    throughput = {str(w): _mining_throughput(rrm, batch, w) for w in (1, 2)}
    rrm.mining.close()
    head = rrm.decode_head
    res = dict(
        batch=len(batch['inputs']),
        shape=list(batch['inputs'][0].shape[-2:]),
        steps=args.steps,
        median_s=med,
        rrm_over_cam=ratio,
        breakdown_s=dict(mining=mining_s, energy=energy, rest=rest),
        mining_images_per_s=throughput,
        config=dict(
            crop=list(cfg_rrm.crop_size),
            batch=cfg_rrm.train_dataloader.batch_size,
            energy_scale=[
                loss.energy_scale for loss in head.loss_decode
                if hasattr(loss, 'energy_scale')
            ],
            crf_workers=cfg_rrm.model.mining.crf_workers),
        within_target=ratio <= TARGET_RATIO)
    print(
        f'batch {res["batch"]} x {tuple(res["shape"])}, {args.steps} timed '
        f'steps each: CAM {med["cam"]:.3f} s, RRM {med["rrm"]:.3f} s, '
        f'RRM / CAM {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x)',
        flush=True)
    return res


# ----------------------------------------------------------------------
# 2. training and evaluation
# ----------------------------------------------------------------------
def _evaluate(args, ckpt, opts, variant):
    """Metrics of the segmentation branch on test (``variant`` 'plain' or
    'crf'), cached in ``test_<variant>.json``."""
    from mmengine.config import Config

    from mmwsss.utils.fileio import atomic_save_json
    from tools.cam_pipeline import step
    from tools.cli_helpers import cfg_options, run_test, strict_checkpoint
    out = osp.join(args.work_dir, f'test_{variant}.json')
    if osp.isfile(out):
        step(f'test ({variant}): done already ({out})')
        with open(out) as f:
            return json.load(f)
    step(f'test split, segmentation branch ({variant})')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(cfg_options(opts) or {})
    if variant == 'crf':
        cfg.model.test_cfg.crf = dict(type='DenseCRF', preset='rrm_test')
    cfg.test_dataloader.num_workers = args.workers
    cfg.test_dataloader.persistent_workers = args.workers > 0
    cfg.work_dir = osp.join(args.work_dir, f'test_{variant}')
    strict_checkpoint(cfg, ckpt, args.config, True)
    t = time.time()
    metrics = run_test(cfg, ckpt)
    metrics = {k: float(v) for k, v in metrics.items()}
    metrics['seconds'] = time.time() - t
    atomic_save_json(out, metrics)
    return metrics


def train_and_eval(args):
    from mmengine.config import Config

    from tools.cam_pipeline import run_tool, step
    cfg = Config.fromfile(args.config)
    max_iters = args.max_iters or cfg.train_cfg.max_iters
    wd = args.work_dir
    opts = _data_options(args) + [
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None'
    ]
    ckpt = osp.join(wd, f'iter_{max_iters}.pth')
    t = time.time()
    if osp.isfile(ckpt):
        step(f'training: done already ({ckpt})')
    else:
        step(f'training RRM ({max_iters} iterations)')
        cmd = [
            'tools/train.py', args.config, '--work-dir', wd, '--cfg-options',
            f'train_cfg.max_iters={max_iters}',
            f'param_scheduler.0.end={max_iters + 1}',
            f'default_hooks.checkpoint.interval={max(max_iters // 6, 1)}'
        ] + opts
        if osp.isfile(osp.join(wd, 'last_checkpoint')):
            cmd.append('--resume')
        run_tool(cmd)
    seconds = dict(train=time.time() - t)
    test_opts = [o for o in opts if not o.startswith(('val_', 'train_'))]
    results = {}
    for variant in ('plain', 'crf'):
        results[variant] = _evaluate(args, ckpt, test_opts, variant)
        seconds[f'test_{variant}'] = results[variant]['seconds']
    return dict(results=results, checkpoint=ckpt, seconds=seconds)


def _pick(metrics, *names):
    for name in names:
        for key, val in metrics.items():
            if key == name or key.endswith('/' + name):
                return val
    return None


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
        data_root=args.data_root,
        subset=args.subset,
        max_iters=args.max_iters,
        smoke=args.smoke)
    if both or args.step_time:
        summary['step_time'] = step_time(args)
    if both or args.train:
        summary['training'] = train_and_eval(args)

    print('\n=== benchmark: RRM one-step vs CAM, EfficientNet-Lite0, '
          'camvid_things ===')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    elif args.subset or args.max_iters:
        print(f'SHORT RUN (subset {args.subset}, max_iters '
              f'{args.max_iters}): not the benchmark numbers')
    st = summary.get('step_time')
    if st:
        b = st['breakdown_s']
        print(f'step time (batch {st["batch"]} x {tuple(st["shape"])}): CAM '
              f'{st["median_s"]["cam"]:.3f} s, RRM {st["median_s"]["rrm"]:.3f}'
              f' s, RRM / CAM {st["rrm_over_cam"]:.2f}x (target <= '
              f'{TARGET_RATIO:.0f}x: '
              f'{"met" if st["within_target"] else "NOT met"})')
        energy = 'n/a' if b['energy'] is None else f'{b["energy"]:.3f} s'
        print(f'RRM step breakdown: mining {b["mining"]:.3f} s, energy '
              f'{energy}, forward/backward/update {b["rest"]:.3f} s')
        tp = st['mining_images_per_s']
        print(f'mining throughput: 1 CRF process {tp["1"]:.2f} images/s, '
              f'2 processes {tp["2"]:.2f} images/s '
              f'({tp["2"] / tp["1"]:.2f}x)')
        print(f'config: {st["config"]}')
    tr = summary.get('training')
    if tr:
        print('test split, mIoU % (6 classes incl. background):')
        print('| model                                | mIoU   | FP    '
              '| FN    |')
        if osp.isfile(args.baseline_report):
            with open(args.baseline_report) as f:
                base = json.load(f)
            print(f'| CAM baseline (MS x flip CAM, GT labels, t '
                  f'{base["best_thr"]:.2f}) | {base["mIoU"] * 100:6.2f} | '
                  f'{base.get("FP", float("nan")):.3f} | '
                  f'{base.get("FN", float("nan")):.3f} |')
        else:
            print(f'| CAM baseline: report not found ({args.baseline_report}'
                  '; run benchmarks/cam_camvid_things.py) | - | - | - |')
        ms = MULTISTAGE_MIOU
        if osp.isfile(MULTISTAGE_REPORT):
            with open(MULTISTAGE_REPORT) as f:
                seg = json.load(f).get('seg_test', {})
            ms = seg.get('mIoU', ms)
        print(f'| multi-stage seg stage (DeepLabV3+)   | {ms:6.2f} | -     '
              '| -     |')
        for variant, label in (('plain', 'RRM one-step, single scale'),
                               ('crf', 'RRM one-step + CRF (rrm_test)')):
            m = tr['results'][variant]
            fp, fn = _pick(m, 'FP'), _pick(m, 'FN')
            print(f'| {label:<36} | {_pick(m, "mIoU"):6.2f} | '
                  f'{fp if fp is None else round(fp, 3)} | '
                  f'{fn if fn is None else round(fn, 3)} |')
        print('  seconds: ' + ', '.join(f'{k} {v:.0f}'
                                        for k, v in tr['seconds'].items()))
    summary['seconds'] = time.time() - t0
    out = osp.join(args.work_dir, 'summary.json')
    atomic_save_json(out, summary)
    print(f'summary: {out}; total seconds: {summary["seconds"]:.0f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
