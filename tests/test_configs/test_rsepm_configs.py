"""RS+EPM configs (configs/rsepm/, configs/rsepm_r50_voc.py): the
official VOC recipe, schedule readings, decoder swaps, the camvid budget
of the CAM baseline, every model builds (pretrained weights off), and the
VOC and camvid configs train on tiny generated fixtures (then run their
test loop).

Expected values are computed here from the official recipe, not read
from the configs: 20 epochs x floor(10582 / 16) iterations, milestones at
epochs 5 / 15, lr multipliers 1 / 2 / 10 / 20 with no weight decay on
biases."""
import glob
import os.path as osp
import uuid

import pytest
import torch
from mmengine import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import HOOKS, MODELS

import mmwsss  # noqa: F401
from mmwsss.datasets.testing import make_folder_fixture, make_voc_fixture

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', 'rsepm')
MAIN = osp.join(CFG_DIR, 'rsepm_r50_4xb4-13220it_voc12aug-512x512.py')
ALIAS = osp.join(ROOT, 'configs', 'rsepm_r50_voc.py')
CAMVID = osp.join(CFG_DIR,
                  'rsepm_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
CAMVID_RS = osp.join(CFG_DIR,
                     'rs_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
CAM_CAMVID = osp.join(
    ROOT, 'configs', 'cam',
    'cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, '*.py'))) + [ALIAS]
IDS = [osp.relpath(p, osp.join(ROOT, 'configs')) for p in CONFIGS]

VOC_TRAIN_AUG = 10582
COCO_TRAIN = 82081


def _strip_pretrained(node):
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            node['init_cfg'] = None
        for v in node.values():
            _strip_pretrained(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _strip_pretrained(v)
    return node


def _phase_hook(cfg):
    hooks = [h for h in cfg.custom_hooks if h.type == 'RSEPMPhaseHook']
    assert len(hooks) == 1
    return HOOKS.build(dict(hooks[0]))


def _phases(cfg):
    """Phase of every iteration of the schedule (independent loop)."""
    hook = _phase_hook(cfg)
    ipe = cfg.custom_hooks[1].iters_per_epoch
    return [hook.phase_at(i, ipe) for i in range(cfg.train_cfg.max_iters)]


def _plain(x):
    return x.to_dict() if hasattr(x, 'to_dict') else x


def _first(phases, name):
    return phases.index(name) if name in phases else None


def test_all_configs_present():
    names = {osp.basename(p) for p in CONFIGS}
    assert osp.isfile(ALIAS)
    for name in ('rsepm_r50_4xb4-13220it_voc12aug-512x512.py',
                 'rsepm_r50_4xb4-13220it_voc12aug-512x512_reading-a.py',
                 'rs_r50_4xb4-13220it_voc12aug-512x512.py',
                 'rsepm-official-head_r50_4xb4-13220it_voc12aug-512x512.py',
                 'rsepm-aspp-head_r50_4xb4-13220it_voc12aug-512x512.py',
                 'rsepm-uper-head_r50_4xb4-13220it_voc12aug-512x512.py',
                 'rsepm_r50_4xb4-102600it_coco14-512x512.py',
                 osp.basename(CAMVID), osp.basename(CAMVID_RS),
                 'rsepm_effnet-lite0_1xb16-600it_synthetic-112x112.py'):
        assert name in names, name


def test_alias_is_the_main_config():
    a, b = Config.fromfile(ALIAS), Config.fromfile(MAIN)
    for key in ('model', 'train_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg', 'custom_hooks',
                'val_dataloader', 'test_dataloader'):
        assert _plain(a[key]) == _plain(b[key]), key


def test_voc_recipe():
    cfg = Config.fromfile(MAIN)
    ipe = VOC_TRAIN_AUG // 16
    assert ipe == 661
    assert cfg.train_cfg.max_iters == 20 * ipe == 13220
    # 4 GPUs x 4 images (the config name says 4xb4)
    assert cfg.train_dataloader.batch_size * 4 == 16
    assert cfg.train_dataloader.dataset.split == 'train_aug'
    assert cfg.train_dataloader.dataset.label_source == 'xml'
    pipe = cfg.train_dataloader.dataset.pipeline
    types = [t.type for t in pipe]
    assert types == [
        'LoadWSSSImageFromFile', 'RandomChoiceResize', 'RandomFlip',
        'mmpretrain.ColorJitter', 'RandomContainerCrop', 'PackWSSSInputs'
    ]
    resize = pipe[1]
    longs = sorted({max(s) for s in resize.scales})
    assert longs == list(range(320, 641)) and resize.keep_ratio
    assert pipe[2].prob == 0.5
    jitter = pipe[3]
    assert (jitter.brightness, jitter.contrast, jitter.saturation,
            jitter.hue) == (0.3, 0.3, 0.3, 0.1)
    assert tuple(pipe[4].crop_size) == (512, 512)
    assert tuple(cfg.model.data_preprocessor.size) == (512, 512)
    # SGD mu 0.9, nesterov False, lr 0.01, wd 1e-4, poly 0.9 per iteration
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay,
            opt.nesterov) == ('SGD', 0.01, 0.9, 1e-4, False)
    (poly, ) = cfg.param_scheduler
    assert poly.type == 'PolyLR' and poly.power == 0.9
    assert poly.end == cfg.train_cfg.max_iters + 1 and not poly.by_epoch
    # official test settings
    tc = cfg.model.test_cfg
    assert tuple(tc.scales) == (1.0, 0.5, 1.5, 2.0) and tc.flip
    assert tc.conf_th == 0.34 and tc.bg_gamma == 2.0
    assert tc.crf.type == 'DenseCRF' and tc.crf.preset == 'rsepm'
    assert cfg.val_dataloader.dataset.split == 'train'
    assert cfg.test_dataloader.dataset.label_source == 'none'
    evs = [e.type for e in cfg.val_evaluator]
    assert evs == ['IoUMetric', 'CAMSweepMetric', 'CAMSweepMetric']
    # seed sweep on pred_cam + FP/FN of the final labels (official eval)
    assert [(e.get('mode', 'sweep'), e.prefix) for e in cfg.val_evaluator[1:]
            ] == [('sweep', 'cam'), ('png', 'seg')]


def test_voc_parameter_groups():
    """1x / 2x / 10x / 20x lr, wd only on weights (official rule)."""
    cfg = Config.fromfile(MAIN)
    model = MODELS.build(_strip_pretrained(cfg.model))
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    base_lr, wd = 0.01, 1e-4
    seen = set()
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            name = names[id(p)]
            backbone = name.startswith('backbone.')
            bias = name.endswith('bias')
            lr = base_lr * (1 if backbone else 10) * (2 if bias else 1)
            assert group['lr'] == pytest.approx(lr), name
            assert group['weight_decay'] == (0 if bias else wd), name
            seen.add((backbone, bias))
    assert seen == {(True, True), (True, False), (False, True), (False, False)}


@pytest.mark.parametrize(
    'name, rs_epoch, epm_epoch',
    [
        ('rsepm_r50_4xb4-13220it_voc12aug-512x512.py', 5, 15),  # (b)
        ('rsepm_r50_4xb4-13220it_voc12aug-512x512_reading-a.py', 0, 5),
        ('rs_r50_4xb4-13220it_voc12aug-512x512.py', 5, None),
        ('rsepm_r50_4xb4-102600it_coco14-512x512.py', 5, 15),
    ])
def test_schedule_readings(name, rs_epoch, epm_epoch):
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    n_train = COCO_TRAIN if 'coco' in name else VOC_TRAIN_AUG
    ipe = n_train // 16
    assert cfg.train_cfg.max_iters == 20 * ipe
    assert cfg.param_scheduler[0].end == 20 * ipe + 1
    phases = _phases(cfg)
    assert _first(phases, 'rs') == rs_epoch * ipe
    if epm_epoch is None:
        assert 'rs_epm' not in phases
    else:
        assert _first(phases, 'rs_epm') == epm_epoch * ipe
    assert (_first(phases, 'cls') == 0) == (rs_epoch > 0)


def test_decoder_swaps():
    heads = {}
    for path in CONFIGS:
        heads[osp.basename(path)] = Config.fromfile(path).model.decode_head
    main = heads[osp.basename(MAIN)]
    assert main.type == 'DepthwiseSeparableASPPHead'
    off = heads['rsepm-official-head_r50_4xb4-13220it_voc12aug-512x512.py']
    assert off.type == 'RSEPMDecoderHead'
    assert (off.aspp_dropout_ratio, off.decoder_dropout_ratio,
            off.dropout_ratio) == (0.5, 0.5, 0.1)
    # the official decoder projects C2 (256 ch) to 256 channels and the
    # first decoder conv sees 256 + 256 = 512: the official state_dict
    from mmseg.registry import MODELS
    head = MODELS.build(dict(off, init_cfg=None))
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert shapes['c1_bottleneck.conv.weight'] == (256, 256, 1, 1)
    assert shapes['decoder_conv1.conv.weight'] == (256, 512, 3, 3)
    assert shapes['conv_seg.weight'] == (21, 256, 3, 3)
    assert 'conv_seg.bias' not in shapes
    aspp = heads['rsepm-aspp-head_r50_4xb4-13220it_voc12aug-512x512.py']
    assert aspp.type == 'ASPPHead' and 'c1_in_channels' not in aspp
    uper = heads['rsepm-uper-head_r50_4xb4-13220it_voc12aug-512x512.py']
    assert uper.type == 'UPerHead'
    assert list(uper.in_channels) == [256, 512, 1024, 2048]
    for h in (main, off, aspp, uper):
        assert h.num_classes == 21
        assert h.loss_decode.avg_non_ignore


def test_camvid_budget_equals_cam_baseline():
    cam = Config.fromfile(CAM_CAMVID)
    for path in (CAMVID, CAMVID_RS):
        cfg = Config.fromfile(path)
        for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler',
                    'crop_size'):
            assert _plain(cfg[key]) == _plain(cam[key]), key
        assert cfg.train_cfg.max_iters == cam.train_cfg.max_iters == 1200
        assert cfg.model.backbone.to_dict() == cam.model.backbone.to_dict()
        phases = _phases(cfg)
        # 5 / 15 / 20 epochs scaled to 1,200 iterations
        assert _first(phases, 'cls') == 0 and _first(phases, 'rs') == 300
        if path == CAMVID:
            assert _first(phases, 'rs_epm') == 900
            assert phases.count('rs_epm') == 300
        else:
            assert 'rs_epm' not in phases


def test_camvid_pamr_scaled_to_the_seed_map():
    """Both camvid PAMRs (seed, EP) use dilations that stay within a
    quarter of the 44 x 44 stride-4 map of a 176 crop (issue 16: the VOC
    dilations 12 / 24 erased the seed foreground); the VOC base keeps
    (1, 2, 4, 8, 12, 24)."""
    for path in (CAMVID, CAMVID_RS):
        cfg = Config.fromfile(path)
        side = cfg.crop_size[0] // cfg.model.seed_stride
        assert side == 44
        for pamr in (cfg.model.pamr, cfg.model.edge_predict.pamr):
            assert tuple(pamr.dilations) == (1, 2, 4, 8)
            assert max(pamr.dilations) <= side // 4
            assert pamr.num_iter == 10
    base = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/models/rsepm.py')).model
    assert tuple(base.pamr.dilations) == (1, 2, 4, 8, 12, 24)
    assert tuple(base.edge_predict.pamr.dilations) == (1, 2, 4, 8, 12, 24)


def test_camvid_feature_indices():
    """Decoder / SCG / CAM inputs have the strides and widths claimed in
    the config comment (EfficientNet-Lite0: 4, 8, 16, 16 + head conv)."""
    cfg = Config.fromfile(CAMVID)
    model = MODELS.build(_strip_pretrained(cfg.model)).eval()
    x = torch.randn(1, 3, 176, 176)
    with torch.no_grad():
        feats = model.extract_feat(x)
    strides = [176 // f.shape[-1] for f in feats]
    assert strides == [4, 8, 16, 16, 16]
    m = cfg.model
    high = feats[m.decode_head.in_index]
    assert high.shape[1] == m.decode_head.in_channels == 1280
    assert feats[0].shape[1] == m.decode_head.c1_in_channels == 24
    assert feats[m.cam_in_index].shape[1] == m.cam_head.in_channels
    assert [strides[i] for i in m.scg_in_index] == [16, 16]
    assert [feats[i].shape[1] for i in m.scg_in_index] == [112, 1280]
    with torch.no_grad():
        seg = model.decode_head(feats)
    assert seg.shape[-2:] == (44, 44)  # stride 4


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'RSEPM'
    assert cfg.default_scope == 'mmseg'
    assert 'mmwsss' in cfg.custom_imports.imports
    assert cfg.get('find_unused_parameters') is True  # 'cls' phase + DDP
    model = MODELS.build(_strip_pretrained(cfg.model))
    model.init_weights()
    k = cfg.model.cam_head.num_classes
    assert model.decode_head.num_classes == k + 1
    assert tuple(cfg.model.data_preprocessor.size) == tuple(cfg.crop_size)
    assert cfg.train_cfg.max_iters == cfg.custom_hooks[1].iters_per_epoch * \
        cfg.custom_hooks[1].max_epochs


def _voc_options(cfg, root):
    crop = (64, 64)
    pipe = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    cfg.train_dataloader.dataset.pipeline[pipe.index(
        'RandomContainerCrop')].crop_size = crop
    cfg.model.data_preprocessor.size = crop
    # a tiny ResNet: ResNet-18 (C2..C5 = 64 / 128 / 256 / 512 channels)
    cfg.model.backbone.depth = 18
    cfg.model.backbone.init_cfg = None
    cfg.model.cam_head.in_channels = 512
    cfg.model.decode_head.in_channels = 512
    cfg.model.decode_head.c1_in_channels = 64
    for loader in ('train', 'val', 'test'):
        dl = cfg[f'{loader}_dataloader']
        dl.dataset.data_root = root
        dl.num_workers = 0
        dl.persistent_workers = False
    cfg.train_dataloader.batch_size = 2


def _run_runner(cfg, tmp_path, max_iters, rs_start, epm_start):
    """Train max_iters iterations (phase hook: iters_per_epoch 1), then
    run the test loop; returns the test metrics."""
    from mmengine.runner import Runner
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters + 1
    cfg.param_scheduler[0].end = max_iters + 1
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    hook = cfg.custom_hooks[1]
    hook.update(
        iters_per_epoch=1,
        rs_start_epoch=rs_start,
        epm_start_epoch=epm_start,
        max_epochs=max_iters)
    cfg.work_dir = str(tmp_path / 'wd')
    cfg.visualizer.name = f'vis_{uuid.uuid4().hex}'
    cfg.launcher = 'none'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert osp.isfile(osp.join(cfg.work_dir, f'iter_{max_iters}.pth'))
    model = runner.model
    assert model.phase == ('rs_epm' if epm_start < max_iters else 'rs')
    # every loss of the last (rs_epm) step was logged
    scalars = runner.message_hub.log_scalars
    for key in ('train/loss_cls', 'train/loss_rec', 'train/decode.loss_ce',
                'train/mix.loss_rec', 'train/mix.decode.loss_ce'):
        assert key in scalars, (key, sorted(scalars))
        assert torch.isfinite(torch.tensor(scalars[key].current()))
    assert scalars['train/phase'].current() == 2
    return runner.test()


def test_voc_config_trains_on_fixture(tmp_path):
    root = str(tmp_path / 'VOC2012')
    make_voc_fixture(root, n=6, size=(64, 80), seed=0)
    cfg = Config.fromfile(MAIN)
    _voc_options(cfg, root)
    # the test loop on the VOC `train` fixture split with GT labels
    cfg.test_dataloader.dataset.split = 'train'
    cfg.test_dataloader.dataset.label_source = 'xml'
    cfg.model.test_cfg.scales = (1.0, 0.5)  # keep the CRF test short
    # iteration 0: 'rs', iteration 1: 'rs_epm'
    metrics = _run_runner(cfg, tmp_path, 2, rs_start=0, epm_start=1)
    assert 0 <= metrics['mIoU'] <= 100
    assert 0 <= metrics['cam/mIoU'] <= 100


def test_camvid_config_trains_on_fixture(tmp_path):
    root = str(tmp_path / 'camvid')
    make_folder_fixture(
        root, {
            'train': 4,
            'val': 2,
            'test': 2
        }, num_classes=5, size=(48, 64))
    cfg = Config.fromfile(CAMVID)
    crop = (48, 48)
    cfg.train_dataloader.dataset.pipeline[2].crop_size = crop
    assert cfg.train_dataloader.dataset.pipeline[2].type == \
        'RandomContainerCrop'
    cfg.model.data_preprocessor.size = crop
    cfg.model.backbone.init_cfg = None
    for loader in ('train', 'val', 'test'):
        dl = cfg[f'{loader}_dataloader']
        dl.dataset.data_root = root
        dl.num_workers = 0
        dl.persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    cfg.model.test_cfg.scales = (1.0, 0.5)  # keep the CRF test short
    # one 'rs_epm' iteration (the heaviest step), then the test loop
    metrics = _run_runner(cfg, tmp_path, 1, rs_start=0, epm_start=0)
    assert 0 <= metrics['mIoU'] <= 100
    assert 0 <= metrics['cam/mIoU'] <= 100
