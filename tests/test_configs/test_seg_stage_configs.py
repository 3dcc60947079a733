"""Configs of the pseudo-label stages (boundary network) and of the
segmentation stage (any MMSeg decoder on pseudo labels): consistency, and
one training step of every model on a tiny random batch (pretrained weights
off). CAM-stage configs are checked in test_config_build.py."""
import os.path as osp

import pytest
import torch
from mmengine import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from test_config_build import (ALL_CONFIGS, FG_CLASSES, ROOT, config_stage,
                               strip_pretrained)

import mmwsss  # noqa: F401

STAGES = {p: config_stage(p) for p in ALL_CONFIGS}
SEG = [p for p in ALL_CONFIGS if STAGES[p] == 'seg']
BOUNDARY = [p for p in ALL_CONFIGS if STAGES[p] == 'boundary']
SEG_IDS = [osp.relpath(p, osp.join(ROOT, 'configs')) for p in SEG]
BOUNDARY_IDS = [osp.relpath(p, osp.join(ROOT, 'configs')) for p in BOUNDARY]
#: classes (incl. background) of the datasets without a classes.txt at hand
NUM_CLASSES = {'SyntheticWSSSDataset': 5}
#: models already stepped in this process (optimiser-preset variants share
#: their model; stepping a ResNet-101 again only costs time)
_SEEN_MODELS = set()


def _first_time(model_cfg):
    key = repr(sorted(model_cfg.to_dict().items()))
    if key in _SEEN_MODELS:
        return False
    _SEEN_MODELS.add(key)
    return True


def _num_classes(ds):
    if ds.type in FG_CLASSES:
        return FG_CLASSES[ds.type] + 1
    if ds.type in NUM_CLASSES:
        return NUM_CLASSES[ds.type]
    if ds.get('data_root'):
        path = osp.join(ROOT, ds.data_root, 'classes.txt')
        if osp.isfile(path):
            with open(path) as f:
                return len([n for n in f.read().splitlines() if n.strip()])
    return None


def _common_checks(cfg):
    assert cfg.default_scope == 'mmseg'
    assert 'mmwsss' in cfg.custom_imports.imports
    max_iters = cfg.train_cfg.max_iters
    poly = [s for s in cfg.param_scheduler if s.type == 'PolyLR']
    assert poly and poly[0].end == max_iters + 1 and not poly[0].by_epoch
    if 'crop_size' in cfg:
        assert tuple(cfg.model.data_preprocessor.size) == tuple(cfg.crop_size)
    assert cfg.optim_wrapper.constructor == 'WSSSOptimWrapperConstructor'
    opt = cfg.optim_wrapper.optimizer
    preset = cfg.get('optim_preset')
    if preset == 'official':
        assert opt.type == 'SGD' and opt.momentum == opt.weight_decay
        assert opt.nesterov
    elif preset == 'momentum':
        assert opt.type == 'SGD' and opt.momentum == 0.9
    else:
        assert preset == 'adamw' and opt.type == 'AdamW', preset


def test_stages_found():
    names = {osp.basename(p) for p in SEG}
    heads = {Config.fromfile(p).model.decode_head.type for p in SEG}
    # decoders swap by config
    assert {
        'ASPPHead', 'DepthwiseSeparableASPPHead', 'UPerHead', 'SegformerHead'
    } <= heads
    assert any('camvid-things' in n for n in names)
    assert any('deeplabv3plus_r101' in n and 'voc12aug' in n for n in names)
    assert any('voc12aug' in osp.basename(p) for p in BOUNDARY)


@pytest.mark.parametrize('path', SEG, ids=SEG_IDS)
def test_seg_config(path):
    cfg = Config.fromfile(path)
    _common_checks(cfg)
    ds = cfg.train_dataloader.dataset
    # trained on pseudo labels: a mask folder other than the GT one
    assert ds.get('mask_dir') and 'pseudo' in ds.mask_dir
    k = _num_classes(ds)
    if k is not None:
        assert cfg.model.decode_head.num_classes == k
    evs = cfg.val_evaluator
    evs = evs if isinstance(evs, (list, tuple)) else [evs]
    assert any(e.type == 'IoUMetric' for e in evs)
    # multi-scale + flip test with the official merge and the CRF option
    assert cfg.tta_model.type == 'WSSSSegTTAModel'
    assert cfg.tta_model.crf.type == 'DenseCRF'
    assert cfg.tta_pipeline[1].type == 'TestTimeAug'

    model_cfg = strip_pretrained(cfg.model)
    if not _first_time(model_cfg):
        return
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    torch.manual_seed(0)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.set_metainfo(
            dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        seg = torch.randint(0, cfg.model.decode_head.num_classes, (1, 64, 64))
        seg[:, :4] = 255
        s.gt_sem_seg = PixelData(data=seg)
        samples.append(s)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss)
    optim.update_params(loss)
    model.eval()
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, 64, 64), samples[:1])[0]
    assert out.pred_sem_seg.data.shape[-2:] == (64, 64)


@pytest.mark.parametrize('path', BOUNDARY, ids=BOUNDARY_IDS)
def test_boundary_config(path):
    cfg = Config.fromfile(path)
    _common_checks(cfg)
    assert cfg.optim_wrapper.paramwise_cfg.single_group
    assert cfg.get('val_cfg') is None and cfg.get('val_dataloader') is None
    assert cfg.train_dataloader.dataset.get('mask_dir')
    assert cfg.model.boundary_head.radius == 10
    tc = cfg.model.test_cfg
    # official: 2**8 steps at beta 10 for VOC-sized maps; the synthetic
    # config scales the step count with the stride-4 map area (28x28),
    # camvid 60x45 (6) with the beta and radius of its train-GT sweep
    # (20, 8)
    expected = {'synthetic': (4, 10.0, 5), 'camvid': (6, 20.0, 8)}
    name = osp.basename(path)
    exp = next((v for k, v in expected.items() if k in name), (8, 10.0, 5))
    assert (tc.rw_exp_times, tc.rw_beta, tc.rw_radius) == exp

    model_cfg = strip_pretrained(cfg.model)
    if not _first_time(model_cfg):
        return
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    assert not model.backbone.training  # frozen backbone, eval mode
    torch.manual_seed(0)
    size = 96  # stride-4 map 24x24 >= the radius-10 window
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size)))
        lab = torch.zeros((1, size, size), dtype=torch.long)
        lab[:, 30:70, 20:60] = 1
        lab[:, :, 80:] = 255
        s.gt_sem_seg = PixelData(data=lab)
        samples.append(s)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    assert [g['name'] for g in optim.optimizer.param_groups] == ['all']
    back = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head = {k: v.clone() for k, v in model.boundary_head.state_dict().items()}
    losses = model.loss(torch.randn(2, 3, size, size), samples)
    assert torch.isfinite(losses['loss_aff'])
    optim.update_params(losses['loss_aff'])
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, back[k]), k  # weights and BN stats frozen
    assert any(not torch.equal(v, head[k])
               for k, v in model.boundary_head.state_dict().items())
    model.eval()
    edge = model.extract_edge(torch.randn(1, 3, 70, 90))
    assert edge.shape == (1, 18, 23)
    assert float(edge.min()) >= 0 and float(edge.max()) <= 1
