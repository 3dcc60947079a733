#!/usr/bin/env python
"""Where do the RecurSeed training seeds lose their foreground? Every stage
of the RS seed (CAM -> SCG -> PAMR -> certain filter) of a trained RS / RS+EPM
checkpoint, measured against the GT masks of a split (``train`` by default:
the WSSS convention for seed quality; training never sees those masks).

For each image (whole tile, single scale, GT image labels, eval mode) the
model's own :meth:`RSEPM.compute_seeds` gives the maps of each stage; they
are resized to the image (bilinear; the certain-filter labels nearest) and
compared with the GT:

- continuous maps (normalised CAM ``relu(A) / max``, M_scg, M_rs): the share
  of the valid pixels whose max map reaches the certain threshold ``c``
  (what the filter will call certain foreground), and the best mIoU of the
  background-threshold sweep 0.05-0.95 with its threshold;
- the certain-filter labels M_seg: the shares of certain foreground and of
  uncertain (255) pixels, the mIoU on the certain pixels only (255 skipped)
  and the mIoU with 255 counted as a miss;
- beside them the share of GT foreground pixels.

Variants (``--variants``) rebuild one part of the seed recipe (PAMR
dilations, certain threshold, SCG grid) on the same weights, so their rows
are directly comparable.

Usage::

    python benchmarks/rs_seed_stages.py CONFIG CHECKPOINT
        [--data-root ../shared/data/camvid_things] [--split train]
        [--num 300] [--variants default,pamr1248,cf0.35,scg8]
        [--out work_dirs/rs_seed_stages.json] [--smoke]

``--smoke``: the RS camvid config with random weights (no checkpoint) on a
tiny generated set; numbers meaningless.
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
RS_CONFIG = osp.join(ROOT, 'configs', 'rsepm',
                     'rs_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
#: name -> (description, changes of the model)
VARIANTS = {
    'default': ('the config', {}),
    'pamr1248': ('PAMR dilations (1, 2, 4, 8)',
                 dict(pamr=dict(type='PAMR', dilations=(1, 2, 4, 8)))),
    'pamr_off': ('no PAMR (M_rs = M_scg)', dict(pamr=None)),
    'cf0.35':
    ('certain threshold 0.35',
     dict(certain_filter=dict(type='CertainFilter', certain_th=0.35))),
    'scg8': ('SCG on the stride-8 grid, every level',
             dict(scg_grid='stride8', scg_in_index=(0, 1, 2, 3, 4))),
}
STAGES = ('cam', 'scg', 'rs')


def parse_args(argv=None):
    from benchmarks import _smoke
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', nargs='?', default=RS_CONFIG)
    p.add_argument('checkpoint', nargs='?', default=None)
    p.add_argument(
        '--data-root',
        default=osp.join(ROOT, '..', 'shared', 'data', 'camvid_things'))
    p.add_argument('--split', default='train')
    p.add_argument('--num', type=int, default=300, help='first N images')
    p.add_argument('--variants', default='default,pamr1248,pamr_off,cf0.35')
    p.add_argument('--out', default=None, help='JSON of the table')
    p.add_argument('--work-dir', default=None)
    _smoke.add_smoke_arg(p)
    args = p.parse_args(argv)
    args.variants = [v for v in args.variants.split(',') if v]
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        p.error(f'--variants: unknown {bad}; choose from {",".join(VARIANTS)}')
    args.work_dir = _smoke.work_dir('rs_seed_stages', args.work_dir,
                                    args.smoke, None)
    if not args.smoke and args.checkpoint is None:
        p.error('CHECKPOINT is required (an RS / RS+EPM training of CONFIG)')
    return args


def apply_variant(model, changes):
    from mmseg.registry import MODELS
    from torch import nn

    class _Identity(nn.Module):
        """PAMR stand-in of the ``pamr_off`` variant."""

        def forward(self, image, masks):
            return masks

    for key, value in changes.items():
        if key in ('pamr', 'certain_filter'):
            setattr(model, key,
                    _Identity() if value is None else MODELS.build(value))
        else:
            setattr(model, key, value)


def _images(cfg, args):
    from mmengine.dataset import Compose
    from mmseg.registry import DATASETS
    ds_cfg = dict(cfg.test_dataloader.dataset)
    ds_cfg.update(data_root=args.data_root, split=args.split)
    ds = DATASETS.build(ds_cfg)
    pipe = Compose(cfg.test_dataloader.dataset.pipeline)
    for i in range(min(args.num, len(ds))):
        yield pipe(ds.get_data_info(i))


def measure(model, cfg, args, changes):
    """Accumulated confusions and shares of one variant."""
    import torch
    import torch.nn.functional as F

    from mmwsss.evaluation import label_confusion, sweep_confusion
    from mmwsss.evaluation.functional import thresholds_from
    from mmwsss.utils.cam_ops import normalise_cam
    apply_variant(model, changes)
    thr = thresholds_from(0.05, 0.95, 0.05)
    C = model.num_classes
    c_th = float(getattr(model.certain_filter, 'certain_th', 0.55))
    acc = dict(
        sweep={s: 0
               for s in STAGES},
        certain={s: 0
                 for s in STAGES},
        valid=0,
        gt_fg=0,
        cf_skip=0,
        cf_miss=0,
        cf_fg=0,
        cf_ign=0)
    for item in _images(cfg, args):
        data = model.data_preprocessor(
            dict(inputs=[item['inputs']], data_samples=[item['data_samples']]),
            False)
        x, sample = data['inputs'], data['data_samples'][0]
        gt = sample.gt_sem_seg.data[0]
        h, w = gt.shape
        labels = sample.gt_img_labels.float()[None]
        with torch.no_grad():
            feats, cam, _, _ = model._network(x)
            seeds = model.compute_seeds(x, feats, cam, labels,
                                        torch.ones(1, *x.shape[-2:]).bool())
        present = torch.nonzero(labels[0] > 0.5)[:, 0]
        keys = torch.cat([present.new_zeros(1), present + 1])
        cam_n = normalise_cam(cam.float()) * (labels > 0.5)[:, :, None, None]
        maps = dict(cam=cam_n, scg=seeds['scg_maps'], rs=seeds['rs_maps'])
        valid = gt != 255
        acc['valid'] += int(valid.sum())
        acc['gt_fg'] += int(((gt > 0) & valid).sum())
        for s, m in maps.items():
            m = F.interpolate(
                m.float(), size=(h, w), mode='bilinear',
                align_corners=False)[0, present]
            acc['sweep'][s] = acc['sweep'][s] + sweep_confusion(
                m, keys, gt, thr, C)
            top = m.amax(0) if len(present) else torch.zeros(h, w)
            acc['certain'][s] += int(((top >= c_th) & valid).sum())
        lab = F.interpolate(
            seeds['seg_labels'][:, None].float(), size=(h, w),
            mode='nearest')[0, 0].long()
        acc['cf_fg'] += int(((lab > 0) & (lab != 255) & valid).sum())
        acc['cf_ign'] += int(((lab == 255) & valid).sum())
        acc['cf_skip'] = acc['cf_skip'] + label_confusion(
            lab, gt, C, pred_ignore='skip')
        acc['cf_miss'] = acc['cf_miss'] + label_confusion(
            lab, gt, C, pred_ignore='miss')
    return acc, thr, c_th


def summarise(acc, thr, c_th):
    from mmwsss.evaluation import summarize_confusion
    n = max(acc['valid'], 1)
    rows = []
    for s in STAGES:
        summ = summarize_confusion(acc['sweep'][s], thresholds=thr)
        rows.append(
            dict(
                stage=s,
                certain_share=acc['certain'][s] / n,
                mIoU=summ['mIoU'],
                best_thr=summ['best_thr'],
                FP=summ['FP'],
                FN=summ['FN']))
    skip = summarize_confusion(acc['cf_skip'])
    miss = summarize_confusion(acc['cf_miss'])
    rows.append(
        dict(
            stage='cf',
            certain_share=acc['cf_fg'] / n,
            ignored_share=acc['cf_ign'] / n,
            mIoU_certain_pixels=skip['mIoU'],
            mIoU=miss['mIoU'],
            FP=miss['FP'],
            FN=miss['FN']))
    return dict(c_th=c_th, gt_fg_share=acc['gt_fg'] / n, rows=rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmwsss  # noqa: F401  (the mmcv-lite shims before any mmseg import)
    from benchmarks import _smoke
    if args.smoke:
        args.data_root = _smoke.make_data(args.work_dir)
        args.num = min(args.num, 4)
    args.data_root = osp.abspath(args.data_root)
    if not osp.isdir(args.data_root):
        sys.exit(f'error: {args.data_root} not found: pass --data-root')
    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from mmwsss.utils.checkpoint import load_model_checkpoint
    from mmwsss.utils.fileio import atomic_save_json
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.smoke:
        cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    results = {}
    for name in args.variants:
        model = MODELS.build(cfg.model)
        if args.checkpoint:
            load_model_checkpoint(model, args.checkpoint, args.config)
        model.eval()
        acc, thr, c_th = measure(model, cfg, args, VARIANTS[name][1])
        results[name] = summarise(acc, thr, c_th)
        print(f'{name}: done', flush=True)

    print(f'\n=== RS seed stages, {args.split} GT, first {args.num} images,'
          f' {args.checkpoint or "random weights"} ===')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    print('| variant | stage | certain fg % (max >= c) | GT fg % | 255 % | '
          'mIoU % (t) | mIoU % certain px | FP | FN |')
    print('|---|---|---|---|---|---|---|---|---|')
    for name, r in results.items():
        for row in r['rows']:
            t = f' ({row["best_thr"]:.2f})' if 'best_thr' in row else ''
            ign = row.get('ignored_share')
            cert = row.get('mIoU_certain_pixels')
            print(f'| {name} | {row["stage"]} | '
                  f'{100 * row["certain_share"]:.2f} | '
                  f'{100 * r["gt_fg_share"]:.2f} | '
                  f'{"-" if ign is None else f"{100 * ign:.2f}"} | '
                  f'{100 * row["mIoU"]:.2f}{t} | '
                  f'{"-" if cert is None else f"{100 * cert:.2f}"} | '
                  f'{row["FP"]:.3f} | {row["FN"]:.3f} |')
    for name in args.variants:
        print(f'{name}: {VARIANTS[name][0]}')
    out = args.out or osp.join(
        args.work_dir or osp.join(ROOT, 'work_dirs'), 'rs_seed_stages.json')
    atomic_save_json(out, dict(args=vars(args), results=results))
    print(f'summary: {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
