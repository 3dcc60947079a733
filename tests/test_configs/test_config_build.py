"""Every method config under configs/ (not _base_) loads, is consistent and
its model builds (pretrained weights off) and runs a training step on a tiny
random batch."""
import glob
import os.path as osp

import pytest
import torch
from mmengine import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmwsss  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ALL_CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(p, ROOT).split(osp.sep))
#: config folders of the pseudo-label / segmentation stages (checked in
#: test_seg_stage_configs.py); other folders hold CAM producers
SEG_STAGE_DIRS = ('seg', 'boundary')


def config_stage(path):
    """'boundary', 'seg' (any MMSeg decoder), 'slams' (the SLAMs-like
    stages, tests/test_models/test_slams_like.py) or 'cam' (CAM producers):
    by folder, top-level aliases by their model."""
    parts = osp.relpath(path, osp.join(ROOT, 'configs')).split(osp.sep)
    if len(parts) > 1:
        if parts[0] == 'slams':
            return 'slams'
        return parts[0] if parts[0] in SEG_STAGE_DIRS else 'cam'
    model = Config.fromfile(path).model
    if model.type in ('SemanticEncoder', 'SLAMsLike'):
        return 'slams'
    if model.type == 'BoundaryNet':
        return 'boundary'
    if model.type == 'EncoderDecoder' or ('decode_head' in model
                                          and 'cam_head' not in model):
        return 'seg'
    return 'cam'


CONFIGS = [p for p in ALL_CONFIGS if config_stage(p) == 'cam']
IDS = [osp.relpath(p, osp.join(ROOT, 'configs')) for p in CONFIGS]
#: number of foreground classes per dataset type (folder datasets: from the
#: config's classes.txt when the data is present)
FG_CLASSES = {'VOCAugWSSSDataset': 20, 'COCOWSSSDataset': 80}


def strip_pretrained(cfg):
    """Remove ``init_cfg`` of type Pretrained (and ``pretrained``) anywhere
    in a (nested) config, in place. Returns the config."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        elif isinstance(init, (list, tuple)):
            kept = [
                i for i in init
                if not (isinstance(i, dict) and i.get('type') == 'Pretrained')
            ]
            cfg['init_cfg'] = kept or None
        if cfg.get('pretrained') is not None:
            cfg['pretrained'] = None
        for v in cfg.values():
            strip_pretrained(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            strip_pretrained(v)
    return cfg


def _has_pretrained(cfg):
    if isinstance(cfg, dict):
        if (isinstance(cfg.get('init_cfg'), dict)
                and cfg['init_cfg'].get('type') == 'Pretrained'):
            return True
        return any(_has_pretrained(v) for v in cfg.values())
    if isinstance(cfg, (list, tuple)):
        return any(_has_pretrained(v) for v in cfg)
    return False


def test_strip_pretrained_helper():
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(
                    init_cfg=dict(type='Pretrained', checkpoint='x')),
                head=dict(init_cfg=[
                    dict(type='Pretrained', checkpoint='y'),
                    dict(type='Normal', std=0.01)
                ]),
                pretrained='z')))
    strip_pretrained(cfg.model)
    assert not _has_pretrained(cfg.model)
    assert cfg.model.backbone.init_cfg is None
    assert cfg.model.head.init_cfg == [dict(type='Normal', std=0.01)]
    assert cfg.model.pretrained is None


def test_configs_found():
    names = {osp.basename(p) for p in CONFIGS}
    for name in ('cam_r50_4xb8-4950it_voc12aug-512x512.py',
                 'cam_r50_4xb8-4950it_voc12aug-512x512_momentum.py',
                 'cam_r50_voc.py', 'cam_r50_4xb8-12825it_coco14-512x512.py',
                 'cam_effnet-lite0_1xb16-600it_synthetic-112x112.py'):
        assert name in names
    assert any('camvid-things' in n for n in names)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_consistency(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    assert 'mmwsss' in cfg.custom_imports.imports
    max_iters = cfg.train_cfg.max_iters
    # official poly (1 - t / T) ** 0.9 needs PolyLR end = max_iters + 1
    poly = [s for s in cfg.param_scheduler if s.type == 'PolyLR']
    # ... or, with RRM's restarted schedule, at the restart
    restart = [
        h for h in cfg.get('custom_hooks', [])
        if h.type == 'RRMScheduleHook'
    ]
    end = restart[0].joint_start_iter if restart else max_iters
    assert poly and poly[0].end == end + 1 and not poly[0].by_epoch
    # the train batch is padded/stacked to the crop size
    if 'crop_size' in cfg:
        assert tuple(cfg.model.data_preprocessor.size) == tuple(cfg.crop_size)
    # CAM evaluation next to IoUMetric with the 'cam' prefix
    evs = cfg.val_evaluator
    evs = evs if isinstance(evs, (list, tuple)) else [evs]
    sweep = [e for e in evs if e.type == 'CAMSweepMetric']
    # the CAM sweep reports under cam/ (beside IoUMetric's mIoU); a 'png'
    # mode instance (FP/FN of the final labels) needs its own prefix
    assert sweep and all(
        e.get('prefix') == ('cam' if e.get('mode', 'sweep') == 'sweep' else
                            'seg') for e in sweep)
    # number of classes
    ds = cfg.train_dataloader.dataset
    k = cfg.model.cam_head.num_classes
    if ds.type in FG_CLASSES:
        assert k == FG_CLASSES[ds.type]
    elif ds.get('data_root'):
        classes = osp.join(ROOT, ds.data_root, 'classes.txt')
        if osp.isfile(classes):
            with open(classes) as f:
                names = [n for n in f.read().splitlines() if n.strip()]
            assert k == len(names) - 1
    # optimiser preset: 'official' = effective momentum equal to the wd
    preset = cfg.get('optim_preset')
    opt = cfg.optim_wrapper.optimizer
    assert preset in ('official', 'momentum')
    if preset == 'official':
        # nesterov as in each official run (True for Puzzle-CAM, False
        # for RRM)
        assert opt.momentum == opt.weight_decay
        assert opt.nesterov == (cfg.model.type != 'RRM')
    else:
        assert opt.momentum == 0.9
    assert cfg.optim_wrapper.constructor == 'WSSSOptimWrapperConstructor'


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_model_builds_and_trains_one_step(path):
    cfg = Config.fromfile(path)
    model_cfg = strip_pretrained(cfg.model)
    assert not _has_pretrained(model_cfg)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    k = model.cam_head.num_classes
    samples = []
    for i in range(2):
        ds = SegDataSample()
        ds.set_metainfo(
            dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        labels = torch.zeros(k)
        labels[torch.randperm(k)[:1 + i]] = 1
        ds.gt_img_labels = labels
        samples.append(ds)
    inputs = torch.randn(2, 3, 64, 64)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = model.loss(inputs, samples)
    assert 'loss_cls' in losses and torch.isfinite(losses['loss_cls'])
    optim.update_params(losses['loss_cls'])
    # inference path used by the val loop (CAM + background threshold)
    model.eval()
    with torch.no_grad():
        out = model.predict(inputs[:1], samples[:1])[0]
    assert out.pred_sem_seg.data.shape[-2:] == (64, 64)
    assert out.seg_logits.data.shape[0] == k + 1
