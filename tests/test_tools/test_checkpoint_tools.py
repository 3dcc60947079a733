"""Checkpoints through the tools: a crafted pickle is refused by
tools/test.py and as ``load_from`` (and loads only with the opt-in), every
checkpoint tools/train.py writes (plain, EMA, resumed) loads with the safe
default, and a checkpoint that does not fit the config (another
architecture, another class count) stops tools/test.py and the map tools
before any output is written, unless ``--no-strict``."""
import glob
import importlib.util
import os
import os.path as osp
import re
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_utils'))
from repo_commands import tool_error  # noqa: E402
from test_checkpoint import Payload  # noqa: E402
from test_train_test_tools import BASE_CFG, TINY_CFG, _run  # noqa: E402

RSEPM_CFG = osp.join(ROOT, 'configs', 'rsepm',
                     'rsepm_effnet-lite0_1xb16-600it_synthetic-112x112.py')
BOUNDARY_CFG = osp.join(
    ROOT, 'configs', 'boundary',
    'boundary_effnet-lite0_1xb16-600it_camvid-things-176x176.py')

#: TINY_CFG (whose assignments these replace) with random init, 2
#: iterations and the EMA hook
EMA_CFG = TINY_CFG + '''
model = dict(data_preprocessor=dict(size=crop_size),
             backbone=dict(init_cfg=None))
train_cfg = dict(max_iters=2, val_interval=1000)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=5),
                     visualization=dict(draw=False))
custom_hooks = [dict(type='EMAHook', momentum=0.01)]
'''
PY = sys.executable


def _error_line(out):
    """The one ``error: ...`` line a refused run ends with."""
    lines = [ln for ln in out.splitlines() if ln.startswith('error: ')]
    assert len(lines) == 1, out[-3000:]
    assert 'Traceback' not in out, out[-3000:]
    return lines[0]


def _no_trust_env():
    return {k: v for k, v in os.environ.items()
            if k != 'MMWSSS_TRUST_CHECKPOINT'}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """tools/train.py (EMA hook on) for 2 iterations, then --resume to 4."""
    tmp = tmp_path_factory.mktemp('ckpt_tools')
    cfg = str(tmp / 'tiny_ema.py')
    with open(cfg, 'w') as f:
        f.write(EMA_CFG.format(base=BASE_CFG, root=str(tmp / 'data')))
    wd = str(tmp / 'wd')
    _run([PY, 'tools/train.py', cfg, '--work-dir', wd], env=_no_trust_env())
    out = _run([
        PY, 'tools/train.py', cfg, '--work-dir', wd, '--resume',
        '--cfg-options', 'train_cfg.max_iters=4'
    ], env=_no_trust_env())
    assert 'resumed epoch: 0, iter: 2' in out, out[-3000:]
    return tmp, cfg, osp.join(wd, 'iter_2.pth'), osp.join(wd, 'iter_4.pth')


def _wrong_checkpoints(tmp, cfg_path):
    """A 20-class head for the 4-class config, and a ResNet-18 backbone."""
    from mmengine.config import Config
    from mmseg.registry import MODELS

    import mmwsss  # noqa: F401
    cfg = Config.fromfile(cfg_path)
    cfg.model.cam_head.num_classes = 20
    classes20 = str(tmp / 'classes20.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()),
               classes20)
    cfg = Config.fromfile(cfg_path)
    cfg.model.backbone = dict(type='mmpretrain.ResNet', depth=18)
    cfg.model.cam_head.in_channels = 512
    resnet = str(tmp / 'resnet18.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), resnet)
    return classes20, resnet


def test_every_kind_written_loads_safely(trained):
    """The non-tensor types of plain, EMA and resumed checkpoints are
    exactly those of the allow-list, and tools/test.py loads them with the
    default (safe, strict) loader."""
    from mmwsss.utils.checkpoint import checkpoint_safe_globals
    tmp, cfg, ck2, ck4 = trained
    allowed = set()
    for g in checkpoint_safe_globals():
        obj, name = g if isinstance(g, tuple) else (
            g, f'{g.__module__}.{g.__qualname__}')
        allowed.add(name)
    for ck in (ck2, ck4):
        found = set(torch.serialization.get_unsafe_globals_in_checkpoint(ck))
        assert found <= allowed, found - allowed
        assert 'mmengine.logging.history_buffer.HistoryBuffer' in found
        assert 'ema_state_dict' in torch.load(ck, weights_only=False)
    out = _run([PY, 'tools/test.py', cfg, ck4, '--work-dir',
                str(tmp / 'wd_test')], env=_no_trust_env())
    assert re.search(r'cam/mIoU: \d', out), out[-3000:]
    assert 'weights_only=False' not in out


def test_crafted_pickle_refused_by_test_and_load_from(trained, tmp_path):
    tmp, cfg, _, ck4 = trained
    marker = tmp_path / 'MARKER'
    weights = torch.load(ck4, weights_only=False)['state_dict']
    evil = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict=weights, meta=dict(), x=Payload(marker)),
               evil)
    env = _no_trust_env()
    err = _error_line(
        _run([PY, 'tools/test.py', cfg, evil, '--work-dir',
              str(tmp_path / 't')], ok=False, env=env))
    assert evil in err and 'io.open' in err and '--trust-checkpoint' in err
    err = _error_line(
        _run([
            PY, 'tools/train.py', cfg, '--work-dir',
            str(tmp_path / 'w'), '--cfg-options', f'load_from={evil}'
        ], ok=False, env=env))
    assert evil in err and 'MMWSSS_TRUST_CHECKPOINT=1' in err
    assert not marker.exists()

    # the opt-ins: the payload runs, and the log names the file
    out = _run([PY, 'tools/test.py', cfg, evil, '--trust-checkpoint',
                '--work-dir', str(tmp_path / 't')], env=env)
    assert marker.exists()
    warn = [ln for ln in out.splitlines()
            if 'WARNING' in ln and 'weights_only=False' in ln]
    assert warn and evil in warn[0], out[-3000:]
    marker.unlink()
    out = _run([
        PY, 'tools/train.py', cfg, '--work-dir',
        str(tmp_path / 'w'), '--cfg-options', f'load_from={evil}',
        'custom_hooks=[]'
    ], env=dict(env, MMWSSS_TRUST_CHECKPOINT='1'))
    assert marker.exists()
    assert re.search(r'WARNING.*' + re.escape(evil), out), out[-3000:]


def test_test_tool_refuses_what_does_not_fit(trained, tmp_path):
    tmp, cfg, _, ck4 = trained
    classes20, resnet = _wrong_checkpoints(tmp_path, cfg)
    env = _no_trust_env()
    err = _error_line(
        _run([PY, 'tools/test.py', cfg, classes20, '--work-dir',
              str(tmp_path / 't')], ok=False, env=env))
    assert f'checkpoint {classes20} does not fit the model of {cfg}' in err
    assert '1 shape mismatch(es) (cam_head.classifier.weight: checkpoint ' \
        '[20, 1280, 1, 1] vs model [4, 1280, 1, 1])' in err
    assert 'missing' not in err and 'unexpected' not in err
    err = _error_line(
        _run([PY, 'tools/test.py', cfg, resnet, '--work-dir',
              str(tmp_path / 't')], ok=False, env=env))
    assert 'missing key(s) (backbone.stem.conv.weight' in err
    assert 'unexpected key(s) (backbone.conv1.weight' in err
    # --no-strict: today's behaviour (loads what fits, runs to the end)
    out = _run([PY, 'tools/test.py', cfg, classes20, '--no-strict',
                '--work-dir', str(tmp_path / 't')], env=env)
    assert re.search(r'cam/mIoU: \d', out), out[-3000:]

    # not a checkpoint: one line naming the file
    photo = tmp_path / 'photo.pth'
    photo.write_bytes(b'\xff\xd8\xff\xe0\x00\x10JFIF' + bytes(200))
    cut = tmp_path / 'iter_4.pth'
    data = open(ck4, 'rb').read()
    cut.write_bytes(data[:len(data) * 2 // 3])
    for bad in (str(photo), str(cut)):
        err = _error_line(
            _run([PY, 'tools/test.py', cfg, bad, '--work-dir',
                  str(tmp_path / 't')], ok=False, env=env))
        assert bad in err and 'not a readable PyTorch checkpoint' in err


def _tool(path):
    name = '_ckpt_tool_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_map_tools_write_nothing_for_a_wrong_checkpoint(trained, tmp_path,
                                                        monkeypatch):
    monkeypatch.delenv('MMWSSS_TRUST_CHECKPOINT', raising=False)
    tmp, cfg, _, ck4 = trained
    classes20, resnet = _wrong_checkpoints(tmp_path, cfg)
    data = ['--dataset', 'test', '--workers', '0']
    infer_cams = _tool('tools/cam/infer_cams.py')
    for i, ck in enumerate((classes20, resnet)):
        out = str(tmp_path / f'cams{i}')
        msg = tool_error(infer_cams.main, [cfg, ck, '--out-dir', out, *data])
        assert msg.startswith('error: checkpoint ') and ck in msg
        assert cfg in msg and '\n' not in msg
        assert not glob.glob(osp.join(out, '*'))
    out = str(tmp_path / 'cams_nostrict')
    assert infer_cams.main(
        [cfg, classes20, '--out-dir', out, '--no-strict', *data]) == 0
    assert len(glob.glob(osp.join(out, '*.npz'))) == 3  # num_test

    # the seed and random-walk exports share the strict loading
    seeds = _tool('tools/rsepm/infer_seeds.py')
    out = str(tmp_path / 'seeds')
    msg = tool_error(seeds.main, [
        RSEPM_CFG, ck4, '--out-dir', out, '--data-root',
        str(tmp / 'data'), '--split', 'test', '--workers', '0',
        '--cfg-options', 'model.backbone.init_cfg=None'
    ])
    assert f'checkpoint {ck4} does not fit' in msg
    assert not osp.exists(out)
    rw = _tool('tools/pseudo_labels/random_walk.py')
    out = str(tmp_path / 'rw')
    msg = tool_error(rw.main, [
        BOUNDARY_CFG, ck4, '--cam-dir',
        str(tmp_path / 'cams_nostrict'), '--out-dir', out, '--data-root',
        str(tmp / 'data'), '--split', 'test', '--workers', '0',
        '--cfg-options', 'model.backbone.init_cfg=None'
    ])
    assert f'checkpoint {ck4} does not fit' in msg
    assert not osp.exists(out)
