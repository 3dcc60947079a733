"""Safe checkpoint loading (allow-list, opt-in, refusals), strict model
loading and atomic checkpoint writes (mmwsss.utils.checkpoint / fileio)."""
import io
import os
import os.path as osp
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseTTAModel
from mmengine.runner import CheckpointLoader, save_checkpoint

import mmwsss  # noqa: F401  (registers the loader and the file backend)
from mmwsss.utils import (TRUST_ENV, AtomicLocalBackend, CheckpointError,
                          CheckpointMismatchError, UntrustedCheckpointError,
                          check_checkpoint_fits, load_checkpoint_file,
                          load_model_checkpoint)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class Payload:
    """Unpickling this object creates ``marker`` (what an attack would do:
    run a stored call)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def crafted_checkpoint(path, marker, state_dict=None):
    """A torch.save file that looks like a checkpoint and carries a
    payload."""
    torch.save(
        dict(state_dict=state_dict or {}, meta=dict(), x=Payload(marker)),
        str(path))
    return str(path)


def mmengine_like_checkpoint():
    """What tools/train.py checkpoints hold besides tensors."""
    return dict(
        meta=dict(
            iter=3,
            seed=np.int64(7),
            dataset_meta=dict(classes=('bg', 'a'), palette=[[0, 0, 0]])),
        state_dict=OrderedDict(w=torch.arange(4.)),
        message_hub=dict(
            log_scalars={
                'train/loss': HistoryBuffer([1.5, 2.5], [1, 1]),
            },
            runtime_info=dict(
                lr=np.float32(0.25),
                hist=np.array([[1, 2], [3, 4]], np.int16),
                mask=np.array([True, False]),
                f64=np.linspace(0, 1, 3))))


def ours_in_global_allow_list():
    """Entries of mmwsss's allow-list found in torch's global one."""
    from mmwsss.utils.checkpoint import checkpoint_safe_globals
    ours = {id(g[0] if isinstance(g, tuple) else g)
            for g in checkpoint_safe_globals()}
    return [g for g in torch.serialization.get_safe_globals()
            if id(g[0] if isinstance(g, tuple) else g) in ours]


@pytest.fixture
def no_trust(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


def test_payload_refused_by_default(tmp_path, no_trust):
    marker = tmp_path / 'MARKER'
    path = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    for load in (load_checkpoint_file,
                 lambda p: CheckpointLoader.load_checkpoint(p)):
        with pytest.raises(UntrustedCheckpointError) as e:
            load(path)
        msg = str(e.value)
        assert '\n' not in msg
        assert path in msg and 'the type io.open' in msg
        assert '--trust-checkpoint' in msg and TRUST_ENV in msg
    assert not marker.exists()


def test_payload_runs_only_with_the_opt_in(tmp_path, monkeypatch, capsys):
    from mmengine.logging import MMLogger
    marker = tmp_path / 'MARKER'
    path = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    logger = MMLogger.get_instance(
        'test_trust', log_file=str(tmp_path / 'log.txt'))
    assert logger is MMLogger.get_current_instance()
    monkeypatch.setenv(TRUST_ENV, '1')
    ckpt = CheckpointLoader.load_checkpoint(path)
    assert marker.exists() and 'x' in ckpt
    log = (tmp_path / 'log.txt').read_text()
    assert 'WARNING' in log and path in log and 'weights_only=False' in log
    # the explicit argument wins over the environment
    marker.unlink()
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(path, trust=False)
    assert not marker.exists()


def test_mmengine_types_load_safely(tmp_path, no_trust):
    path = str(tmp_path / 'iter_3.pth')
    torch.save(mmengine_like_checkpoint(), path)
    # torch's own default refuses it (why an allow-list is needed) ...
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    ck = load_checkpoint_file(path)
    assert torch.equal(ck['state_dict']['w'], torch.arange(4.))
    assert ck['meta']['seed'] == 7 and ck['meta']['iter'] == 3
    buf = ck['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.data[0].tolist() == [1.5, 2.5] and buf.mean() == 2.0
    info = ck['message_hub']['runtime_info']
    assert info['lr'] == np.float32(0.25) and info['lr'].dtype == np.float32
    assert info['hist'].dtype == np.int16
    assert info['hist'].tolist() == [[1, 2], [3, 4]]
    assert info['mask'].tolist() == [True, False]
    assert info['f64'].tolist() == [0.0, 0.5, 1.0]
    # ... and the scoped allow-list left torch's global one as it was
    assert not ours_in_global_allow_list()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_numpy1_module_names_load(tmp_path, no_trust):
    """A checkpoint written under numpy 1 names ``numpy.core.multiarray``
    (numpy 2: ``numpy._core``); both spellings are on the allow-list."""
    buf = io.BytesIO()
    torch.save(
        dict(a=np.array([3, 1], np.int64), s=np.float64(2.5)),
        buf,
        _use_new_zipfile_serialization=False)  # one plain pickle stream
    data = buf.getvalue()
    assert b'cnumpy._core.multiarray\n' in data
    path = tmp_path / 'np1.pth'
    path.write_bytes(
        data.replace(b'cnumpy._core.multiarray\n',
                     b'cnumpy.core.multiarray\n'))
    ck = load_checkpoint_file(str(path))
    assert ck['a'].tolist() == [3, 1] and ck['s'] == 2.5


class _Getattr:
    """Pickles as ``getattr(owner, name)``."""

    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return (getattr, (self.owner, self.name))


@pytest.mark.parametrize('owner,name', [(HistoryBuffer, '__init__'),
                                        (np.ndarray, 'tofile')])
def test_getattr_only_for_history_buffer_statistics(tmp_path, no_trust,
                                                    owner, name):
    ok = str(tmp_path / 'ok.pth')
    torch.save(dict(f=_Getattr(HistoryBuffer, 'mean')), ok)
    assert load_checkpoint_file(ok)['f'] is HistoryBuffer.mean
    bad = str(tmp_path / 'bad.pth')
    torch.save(dict(f=_Getattr(owner, name)), bad)
    with pytest.raises(UntrustedCheckpointError, match=name):
        load_checkpoint_file(bad)


def test_not_a_checkpoint_names_the_file(tmp_path, no_trust):
    good = str(tmp_path / 'good.pth')
    torch.save(dict(state_dict=dict(w=torch.zeros(1000))), good)
    data = open(good, 'rb').read()
    cases = {
        'photo.pth': b'\xff\xd8\xff\xe0\x00\x10JFIF' + b'\x00' * 64,
        'cut.pth': data[:len(data) // 2],
        'empty.pth': b'',
        'text.pth': b'version https://git-lfs.github.com/spec/v1\n',
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CheckpointError) as e:
            load_checkpoint_file(str(path))
        msg = str(e.value)
        assert not isinstance(e.value, UntrustedCheckpointError), name
        assert '\n' not in msg and str(path) in msg, msg
        assert 'not a readable PyTorch checkpoint' in msg
        assert 'torch.save' in msg
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


class _Net(nn.Module):

    def __init__(self, k=3):
        super().__init__()
        self.conv = nn.Conv2d(2, k, 1)
        self.bn = nn.BatchNorm2d(k)

    def test_step(self, data):
        return data


class _TTA(BaseTTAModel):

    def merge_preds(self, data_samples_list):
        return data_samples_list


def test_strict_check_lists_the_mismatches():
    net = _Net(3)
    sd = OrderedDict((f'module.{k}', v) for k, v in net.state_dict().items())
    for model in (net, _TTA(module=net)):
        check_checkpoint_fits(model, dict(state_dict=sd), 'a.pth', 'c.py')
    bad = dict(_Net(5).state_dict())  # a 5-class head for a 3-class model
    del bad['bn.running_var']
    bad['head.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointMismatchError) as e:
        check_checkpoint_fits(_TTA(module=net), bad, 'w.pth', 'cfg.py')
    msg = str(e.value)
    assert '\n' not in msg
    assert 'checkpoint w.pth' in msg and 'the model of cfg.py' in msg
    assert '1 missing key(s) (bn.running_var)' in msg
    assert '1 unexpected key(s) (head.weight)' in msg
    # conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean: 5 keys
    assert '5 shape mismatch(es) (conv.weight: checkpoint [5, 2, 1, 1] vs ' \
        'model [3, 2, 1, 1], conv.bias: checkpoint [5] vs model [3], ' \
        'bn.weight: checkpoint [5] vs model [3], ... 2 more)' in msg
    assert '--no-strict' in msg
    with pytest.raises(CheckpointError, match='no state_dict'):
        check_checkpoint_fits(net, [1, 2], 'l.pth')


def test_load_model_checkpoint_strict_and_not(tmp_path, no_trust):
    torch.manual_seed(0)
    src = _Net(3)
    good = str(tmp_path / 'good.pth')
    torch.save(dict(state_dict=src.state_dict()), good)
    dst = _Net(3)
    load_model_checkpoint(dst, good, 'c.py')
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
    wrong = str(tmp_path / 'wrong.pth')
    torch.save(dict(state_dict=_Net(5).state_dict()), wrong)
    before = {k: v.clone() for k, v in dst.state_dict().items()}
    with pytest.raises(CheckpointMismatchError, match='wrong.pth'):
        load_model_checkpoint(dst, wrong, 'c.py')
    for k, v in before.items():  # nothing was loaded
        assert torch.equal(dst.state_dict()[k], v), k
    # non-strict (the old behaviour): what fits is loaded, the rest kept
    part = dict(src.state_dict())
    part['conv.weight'] = torch.full((5, 2, 1, 1), 9.)
    part['bn.weight'] = torch.full((3, ), 4.)
    torch.save(dict(state_dict=part), wrong)
    load_model_checkpoint(dst, wrong, strict=False)
    assert torch.equal(dst.bn.weight.data, torch.full((3, ), 4.))
    assert torch.equal(dst.conv.weight, before['conv.weight'])


def test_checkpoint_backend_is_atomic(tmp_path, monkeypatch):
    path = str(tmp_path / 'w' / 'iter_2.pth')
    backend = get_file_backend(path)
    assert isinstance(backend, AtomicLocalBackend)
    save_checkpoint(dict(state_dict=dict(w=torch.ones(3))), path)
    assert torch.equal(load_checkpoint_file(path)['state_dict']['w'],
                       torch.ones(3))

    def failing_replace(src, dst):
        raise KeyboardInterrupt  # interrupted between write and rename

    monkeypatch.setattr(os, 'replace', failing_replace)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(dict(state_dict=dict(w=torch.zeros(3))), path)
    monkeypatch.undo()
    # the old checkpoint is whole, and no temp file is left
    assert torch.equal(load_checkpoint_file(path)['state_dict']['w'],
                       torch.ones(3))
    assert os.listdir(osp.dirname(path)) == ['iter_2.pth']
    backend.put_text('iter_2.pth', str(tmp_path / 'w' / 'last_checkpoint'))
    assert (tmp_path / 'w' / 'last_checkpoint').read_text() == 'iter_2.pth'


def test_kill9_during_save_leaves_a_whole_checkpoint(tmp_path):
    """A training process killed while it writes a checkpoint leaves the
    previous checkpoint whole. The child saves a 24 MB checkpoint over and
    over with file writes slowed to 1 MB per 10 ms, so the kill lands in
    the middle of a write (MMEngine's in-place write leaves a truncated
    file here)."""
    path = str(tmp_path / 'iter_1.pth')
    script = textwrap.dedent(f'''
        import builtins, time, torch
        import mmwsss
        from mmengine.runner import save_checkpoint

        _open = builtins.open

        class SlowFile:
            def __init__(self, f):
                self.f = f
            def write(self, data):
                view = memoryview(data)
                for i in range(0, len(view), 1 << 20):
                    self.f.write(view[i:i + (1 << 20)])
                    self.f.flush()
                    time.sleep(0.01)
                return len(view)
            def __getattr__(self, name):
                return getattr(self.f, name)
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return self.f.__exit__(*exc)

        def slow_open(file, mode='r', *args, **kwargs):
            f = _open(file, mode, *args, **kwargs)
            return SlowFile(f) if 'w' in mode and 'b' in mode else f

        builtins.open = slow_open
        i = 0
        while True:
            i += 1
            w = torch.full((6_000_000, ), float(i))
            save_checkpoint(dict(state_dict=dict(w=w), meta=dict(i=i)),
                            {path!r})
            print('saved', i, flush=True)
    ''')
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.Popen([sys.executable, '-c', script],
                            env=env,
                            stdout=subprocess.PIPE,
                            text=True)
    try:
        for line in proc.stdout:  # until one save has finished
            if line.startswith('saved'):
                break
        else:
            pytest.fail('the saving process ended early')
        time.sleep(0.15)  # the next save is writing now
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    ck = load_checkpoint_file(path)
    i = ck['meta']['i']
    assert torch.equal(ck['state_dict']['w'],
                       torch.full((6_000_000, ), float(i)))


def test_import_relaxes_nothing_globally(tmp_path):
    """``import mmwsss`` leaves torch's allow-list and torch.load's default
    as they were: a bare torch.load still refuses the payload."""
    marker = tmp_path / 'MARKER'
    path = crafted_checkpoint(tmp_path / 'evil.pth', marker)
    code = textwrap.dedent(f'''
        import pickle, sys, torch, mmwsss
        sys.path.insert(0, {osp.dirname(osp.abspath(__file__))!r})
        from test_checkpoint import ours_in_global_allow_list
        assert not ours_in_global_allow_list()
        try:
            torch.load({path!r})
        except pickle.UnpicklingError:
            print('refused')
    ''')
    env = {k: v for k, v in os.environ.items() if k != TRUST_ENV}
    out = subprocess.run([sys.executable, '-c', code],
                         env=dict(env, PYTHONPATH=ROOT),
                         capture_output=True,
                         text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == 'refused'
    assert not marker.exists()
