"""benchmarks/compare_methods.py: the generated per-method configs (classes,
crop, scale, schedule scaled to the budget, options) and the one-line
errors for a dataset that does not fit. The end-to-end run is the smoke
case of test_smoke.py."""
import argparse

import pytest
import torch
from mmengine.config import Config
from repo_commands import load_benchmark


def _module():
    return load_benchmark('compare_methods')


def _args(tmp_path, **kw):
    a = dict(
        data_root=str(tmp_path / 'data'),
        num_classes=3,
        crop=128,
        scale=(300, 200),
        seed=7,
        smoke=False,
        cfg_options=['optim_wrapper.optimizer.lr=0.02'],
        work_dir=str(tmp_path))
    a.update(kw)
    return argparse.Namespace(**a)


def _pipeline(cfg, type_):
    return [
        t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == type_
    ][0]


def test_rsepm_config_classes_crop_and_scaled_phases(tmp_path):
    mod = _module()
    path = mod.make_config(
        str(tmp_path / 'configs' / 'rsepm.py'), mod.METHODS['rsepm'],
        _args(tmp_path), 100, ['model.use_cls_mix=True'])
    cfg = Config.fromfile(path)
    assert cfg.model.cam_head.num_classes == 3
    assert cfg.model.decode_head.num_classes == 4
    assert cfg.model.data_preprocessor.size == (128, 128)
    assert _pipeline(cfg, 'RandomContainerCrop')['crop_size'] == (128, 128)
    assert _pipeline(cfg, 'RandomResize')['scale'] == (300, 200)
    assert cfg.train_cfg.max_iters == 100
    assert cfg.train_cfg.val_interval == 101
    assert cfg.param_scheduler[0].end == 101
    # checkpoints every 100 // 3 its; a 1,200-it run every 100, not 400
    assert cfg.default_hooks.checkpoint.interval == 33
    long = Config.fromfile(
        mod.make_config(
            str(tmp_path / 'configs' / 'cam.py'), mod.METHODS['cam'],
            _args(tmp_path), 1200))
    assert long.default_hooks.checkpoint.interval == 100
    hook = [h for h in cfg.custom_hooks if h.type == 'RSEPMPhaseHook'][0]
    # the 5 / 15 / 20 schedule epochs of the config scaled to 100 its
    assert (hook.rs_start_epoch, hook.epm_start_epoch, hook.max_epochs,
            hook.iters_per_epoch) == (25, 75, 100, 1)
    assert cfg.randomness.seed == 7
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.model.use_cls_mix is True
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.data_root == str(tmp_path /
                                                                   'data')


def test_slams_stage1_and_rrm_configs(tmp_path):
    mod = _module()
    s1 = Config.fromfile(
        mod.make_config(
            str(tmp_path / 'c' / 's1.py'), mod.SLAMS_STAGE1, _args(tmp_path),
            50))
    assert s1.model.head.num_classes == 3
    assert s1.train_cfg.max_iters == 50
    rrm = Config.fromfile(
        mod.make_config(
            str(tmp_path / 'c' / 'rrm.py'), mod.METHODS['rrm'],
            _args(tmp_path), 40))
    assert rrm.model.cam_head.num_classes == 3
    assert rrm.model.decode_head.num_classes == 4


def test_dataset_errors_are_one_line(tmp_path, capsys):
    mod = _module()
    root = tmp_path / 'd'
    with pytest.raises(SystemExit, match=r'classes\.txt not found'):
        mod.check_dataset(str(root), 3)
    root.mkdir()
    (root / 'classes.txt').write_text('background\na\nb\n')
    with pytest.raises(
            SystemExit, match=r'lists 3 classes .* pass --num-classes 2'):
        mod.check_dataset(str(root), 3)
    mod.check_dataset(str(root), 2)
    with pytest.raises(SystemExit) as exc:
        mod.parse_args(['--smoke', '--methods', 'cam,deeplab'])
    assert exc.value.code == 2
    assert "--methods: unknown ['deeplab']" in capsys.readouterr().err


def test_every_ablation_setting_builds(tmp_path):
    """The options of benchmarks/ablate_camvid_things.py reach existing
    keys: each generated config builds its model and its hooks carry the
    option values (scaled to the run)."""
    from mmseg.registry import MODELS
    mod = _module()
    ablate = load_benchmark('ablate_camvid_things')
    seen = {}
    for _, name, extra in ablate.SETTINGS:
        argv = ablate.command(
            ablate.parse_args(['--work-dir', str(tmp_path)]), name, extra)
        args = mod.parse_args(argv)
        args.scale = (240, 180)
        for m in args.methods:
            cfg = Config.fromfile(
                mod.make_config(
                    str(tmp_path / 'c' / f'{name}.py'), mod.METHODS[m], args,
                    300, mod._method_options(args, m)))
            cfg.model.backbone.init_cfg = None
            model = MODELS.build(cfg.model)
            seen[name] = (cfg, model)
    assert seen['pz_alpha2'][0].custom_hooks[1].alpha_max == 2.0
    # the Puzzle-CAM settings pin their stride: OS16 except pz_os8 (the
    # camvid config runs at OS8 since round 2)
    for name, pz in seen.items():
        if name.startswith('pz_'):
            stride = 8 if name == 'pz_os8' else 16
            assert (pz[1].puzzle.stride, pz[1].backbone.output_stride,
                    pz[1].backbone.out_strides[-1]) == (stride, ) * 3, name
    assert seen['cam_os8'][1].backbone.out_strides[-1] == 8
    assert seen['cam'][1].backbone.out_strides[-1] == 16
    for name in ('rs_scg_stride8', 'rsepm_scg_stride8'):
        assert seen[name][1].scg_grid == 'stride8', name
        assert list(seen[name][1].pamr.dilations) == [1, 2, 4, 8], name
    assert list(seen['rs_pamr1248'][1].pamr.dilations) == [1, 2, 4, 8]
    # every setting names its recipe (independent of the config defaults)
    assert list(seen['rs_default'][1].pamr.dilations) == [1, 2, 4, 8, 12, 24]
    assert list(seen['rs_cf0.35'][1].pamr.dilations) == [1, 2, 4, 8]
    assert seen['rs_pamr_off'][1].pamr.num_iter == 0
    ep = seen['rsepm_default'][1].edge_predict.pamr
    assert list(ep.dilations) == [1, 2, 4, 8, 12, 24]
    ep = seen['rsepm_max_prob'][1].edge_predict.pamr
    assert list(ep.dilations) == [1, 2, 4, 8]
    for name, level in (('pz_alpha4', 'feature'), ('pz_alpha0.5', 'feature'),
                        ('pz_re_cam', 'cam'), ('pz_os8', 'cam')):
        assert seen[name][1].cam_head.loss_re.re_level == level, name
    assert seen['pz_alpha4'][0].custom_hooks[1].alpha_max == 4.0
    assert seen['rsepm_max_prob'][1].edge_predict.ep_edge_map == 'max_prob'
    assert seen['rs_ema'][0].custom_hooks[-1].ema_type == 'RampedEMA'
    hook = seen['rsepm_reading_a'][0].custom_hooks[1]
    assert (hook.reading, hook.rs_start_epoch,
            hook.epm_start_epoch) == ('duration', 75, 225)


def test_cam_os8_is_the_equal_stride_baseline_of_puzzlecam(tmp_path):
    """``cam-os8`` and ``puzzlecam`` build backbones of the same stride (8),
    ``cam`` the stride-16 one; all three the same parameters (the stride
    does not change the weights), and ``cam-os8`` is evaluated like a CAM."""
    from mmseg.registry import MODELS
    mod = _module()
    strides, shapes = {}, {}
    for m in ('cam', 'cam-os8', 'puzzlecam'):
        cfg = Config.fromfile(
            mod.make_config(
                str(tmp_path / 'c' / f'{m}.py'), mod.METHODS[m],
                _args(tmp_path, crop=176, cfg_options=[]), 30))
        cfg.model.backbone.init_cfg = None
        model = MODELS.build(cfg.model).eval()
        with torch.no_grad():  # the CAM feature of a 176 crop: 11 or 22
            feat = model.backbone(torch.zeros(1, 3, 176, 176))[-1]
        strides[m] = 176 // feat.shape[-1]
        shapes[m] = [(k, tuple(v.shape))
                     for k, v in model.backbone.state_dict().items()]
    assert strides == {'cam': 16, 'cam-os8': 8, 'puzzlecam': 8}
    assert shapes['cam'] == shapes['cam-os8'] == shapes['puzzlecam']
    assert mod.KIND['cam-os8'] == mod.KIND['cam'] == 'cam'
    assert 'cam-os8' in mod.parse_args(['--smoke']).methods


def test_a_work_dir_of_other_settings_is_never_reused(tmp_path):
    """A finished / stopped training is reused only for the same training
    settings (the copy the runner dumped into the run's work dir); another
    seed or model option stops with a one-line error; the default work
    dir depends on the split, the budget and the seed."""
    import shutil
    mod = _module()
    wd = tmp_path / 'run' / 'cam'
    wd.mkdir(parents=True)
    first = mod.make_config(
        str(tmp_path / 'configs' / 'cam.py'), mod.METHODS['cam'],
        _args(tmp_path), 30)
    shutil.copy(first, wd / 'cam.py')  # what tools/train.py dumps there
    mod.check_same_training(first, str(wd))  # the same run: no error
    again = mod.make_config(
        str(tmp_path / 'c2' / 'cam.py'), mod.METHODS['cam'], _args(tmp_path),
        30)
    mod.check_same_training(again, str(wd))
    seed = mod.make_config(
        str(tmp_path / 'c3' / 'cam.py'), mod.METHODS['cam'],
        _args(tmp_path, seed=8), 30)
    with pytest.raises(SystemExit, match=r'other settings \(randomness '):
        mod.check_same_training(seed, str(wd))
    opt = mod.make_config(
        str(tmp_path / 'c4' / 'cam.py'), mod.METHODS['cam'], _args(tmp_path),
        30, ['model.backbone.output_stride=8'])
    with pytest.raises(SystemExit, match=r'other settings \(model '):
        mod.check_same_training(opt, str(wd))
    mod.check_same_training(seed, str(tmp_path / 'fresh'))  # nothing there
    dirs = {
        mod.parse_args([
            '--data-root', 'd', '--num-classes', '5', '--split', split,
            '--seed', seed
        ]).work_dir
        for split in ('val', 'test')
        for seed in ('0', '1')
    }
    assert len(dirs) == 4 and all('1200it_seed' in d for d in dirs), dirs
