"""Tests of mmwsss.utils.compat (both branches of every fix)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import mmwsss  # noqa: F401
from mmwsss.utils import compat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_shim_active_when_ext_missing():
    """Simulate a missing mmcv._ext; mmseg.models imports and ops raise."""
    res = _run("""
        import sys, importlib.util
        real_find = importlib.util.find_spec
        def fake_find(name, *a, **k):
            if name == 'mmcv._ext':
                return None
            return real_find(name, *a, **k)
        importlib.util.find_spec = fake_find
        sys.modules.pop('mmcv._ext', None)
        import mmwsss, mmseg.models  # must not fail
        import torch
        from mmcv.ops import nms
        from mmwsss.utils.compat import MissingMMCVOpError
        assert getattr(sys.modules['mmcv._ext'], '_mmwsss_shim', False)
        # mmengine's probe (used by the Runner) sees no full mmcv
        from mmengine.utils.dl_utils import mmcv_full_available
        assert mmcv_full_available() is False
        try:
            nms(torch.rand(3, 4), torch.rand(3), 0.5)
        except MissingMMCVOpError as e:
            msg = str(e)
            assert 'nms' in msg and 'MMCV_WITH_OPS=1' in msg, msg
            print('RAISED')
        """)
    assert res.returncode == 0, res.stderr
    assert 'RAISED' in res.stdout


def test_shim_inactive_when_real_ext_exists():
    """Simulate a real compiled extension: the shim must not replace it."""
    res = _run("""
        import sys, types
        real = types.ModuleType('mmcv._ext')
        real.nms = lambda *a, **k: 'real-op'
        sys.modules['mmcv._ext'] = real
        # load the compat module alone (importing the mmwsss package would
        # import mmcv.ops, which needs every op of a real extension)
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            'compat', 'mmwsss/utils/compat.py')
        compat = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(compat)
        assert compat.has_real_mmcv_ext()
        assert compat.install_mmcv_ext_shim() is False
        assert sys.modules['mmcv._ext'] is real
        print('KEPT')
        """)
    assert res.returncode == 0, res.stderr
    assert 'KEPT' in res.stdout


def test_shim_inactive_when_spec_found(monkeypatch):
    """find_spec finds mmcv._ext (full mmcv installed) -> no shim."""
    import importlib.util

    class _Spec:
        pass

    monkeypatch.setattr(importlib.util, 'find_spec', lambda *a, **k: _Spec())
    saved = sys.modules.pop('mmcv._ext', None)
    try:
        assert compat.has_real_mmcv_ext()
        assert compat.install_mmcv_ext_shim() is False
        assert 'mmcv._ext' not in sys.modules
    finally:
        if saved is not None:
            sys.modules['mmcv._ext'] = saved


def test_mmengine_checkpoint_loads(tmp_path):
    """A checkpoint with pickled non-tensor objects loads via MMEngine."""
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import _load_checkpoint
    ckpt = dict(
        meta=dict(epoch=1, seed=np.int64(3)),
        state_dict=dict(w=torch.arange(4.)),
        message_hub=dict(
            log_scalars=dict(loss=HistoryBuffer([1.0, 2.0], [1, 1]))))
    path = tmp_path / 'iter_1.pth'
    torch.save(ckpt, path)
    major, minor = (int(v) for v in torch.__version__.split('.')[:2])
    if (major, minor) >= (2, 6):
        # the reason for the fix: torch's default refuses this file
        with pytest.raises(Exception):
            torch.load(path)
    loaded = _load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.arange(4.))
    assert loaded['meta']['seed'] == 3
    assert list(loaded['message_hub']['log_scalars']['loss'].data[0]) == [
        1.0, 2.0
    ]


def test_missing_checkpoint_names_file(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(str(missing))


def test_cpu_distributed_noop_without_launcher():
    assert compat.init_cpu_distributed('none') is False


def test_cpu_ddp_wrapper_cfg():
    from mmengine.config import Config
    cfg = Config(dict(find_unused_parameters=True))
    compat.cpu_ddp_wrapper_cfg(cfg)
    if torch.cuda.is_available():
        assert 'model_wrapper_cfg' not in cfg
    else:
        assert cfg.model_wrapper_cfg.device_ids is None
        assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
        assert cfg.model_wrapper_cfg.find_unused_parameters is True
