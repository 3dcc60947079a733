"""Worker processes die with their parent: after ``kill -9`` of a process
that runs workers (``imap_pool``'s forkserver pool, torch DataLoader
workers, the real export tools), every process it started -- workers,
forkserver, resource tracker -- is gone within 10 s.

Each test starts the process in its own session, waits until the workers
are up (and busy / blocked where that is the point), records every
descendant from ``/proc``, kills the parent with SIGKILL and polls the
recorded processes (a zombie counts as gone: after the reparenting this
test is not their parent and cannot reap them). Whatever is left is
killed at the end, so a failing run leaks nothing."""
import importlib.util
import os
import os.path as osp
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from repo_commands import ROOT

#: the requirement: every worker exits within this many seconds
DEADLINE_S = 10.0

if not osp.isdir('/proc/self/task'):  # pragma: no cover - non-Linux
    pytest.skip('needs /proc to find the worker processes',
                allow_module_level=True)

SLOW_DATA = '''
"""Datasets of the DataLoader tests (importable by any start method)."""
import time

import numpy as np
from torch.utils.data import Dataset


class Stuck(Dataset):
    """Every read blocks (a hung network mount)."""

    def __len__(self):
        return 100

    def __getitem__(self, i):
        time.sleep(600)
        return i


class Big(Dataset):
    """1 MiB numpy items: they are pickled through the result pipe."""

    def __len__(self):
        return 100

    def __getitem__(self, i):
        return np.zeros(1 << 20, np.uint8)


def keep(batch):
    return batch
'''

LOADER_SCRIPT = '''
import sys, time
import mmwsss  # noqa: F401 (as every tool does)
from torch.utils.data import DataLoader
import slow_data
loader = DataLoader(getattr(slow_data, sys.argv[1])(), batch_size=1,
                    num_workers=2, collate_fn=slow_data.keep,
                    persistent_workers=True)
it = iter(loader)
if sys.argv[1] == 'Big':
    next(it)  # then stop consuming: the workers fill the result pipe
print('READY', flush=True)
time.sleep(600)
'''

POOL_SCRIPT = '''
import sys, threading, time
from mmwsss.utils.parallel import imap_pool
print('READY', flush=True)
run = lambda: list(imap_pool(time.sleep, [600] * 4, workers=2))
if sys.argv[1] == 'main':
    run()
elif sys.argv[1] == 'persistent':  # the pool a model keeps (RRM's CRFs)
    from mmwsss.utils.parallel import PersistentPool
    PersistentPool(2).map(time.sleep, [600] * 4)
else:  # no kernel signal: the workers' watcher thread
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
'''


def _stat(pid):
    """``(ppid, state, starttime)`` of ``pid`` from ``/proc``, or None."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b')') + 2:].split()
    return int(fields[1]), fields[0].decode(), fields[19]


def _descendants(pid):
    """``{pid: starttime}`` of every live descendant of ``pid``."""
    kids = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                kids.setdefault(st[0], []).append((int(name), st[2]))
    out, todo = {}, [pid]
    while todo:
        for child, start in kids.get(todo.pop(), []):
            out[child] = start
            todo.append(child)
    return out


def _alive(pid, start):
    """Whether the process ``pid`` started at ``start`` still runs (not a
    zombie, and not a newer process that reuses the pid)."""
    st = _stat(pid)
    return st is not None and st[1] not in 'ZX' and st[2] == start


def _describe(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        cmd = '?'
    try:
        with open(f'/proc/{pid}/wchan') as f:
            wchan = f.read()
    except OSError:
        wchan = '?'
    return f'{pid} (waiting in {wchan}): {cmd[:120]}'


def _wait_until(cond, timeout, what, proc):
    deadline = time.time() + timeout
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f'the process ended ({proc.returncode}) before '
                        f'{what}')
        if time.time() > deadline:
            pytest.fail(f'timed out waiting for {what}')
        time.sleep(0.05)


class _Parent:
    """The process under test, in its own session (its group is killed at
    the end, which also takes any worker it leaked)."""

    def __init__(self, cmd, tmp_path, extra_path=(), pipe_stdout=False):
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([ROOT, *extra_path]),
            OMP_NUM_THREADS='1')
        env.pop('MMWSSS_TRUST_CHECKPOINT', None)
        # append mode: reading the log back cannot move the writers' offset
        self.log = open(tmp_path / 'parent.log', 'a+')
        # stdout is read only for a READY line (a tool's log could fill an
        # unread pipe and stall it)
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe_stdout else self.log,
            stderr=self.log,
            text=True,
            start_new_session=True)
        self.pids = {}

    def read_line(self, expected, timeout=120):
        """Wait for the line ``expected`` on the parent's stdout."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [],
                                        max(0.0, deadline - time.time()))
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.strip() == expected:
                return
        pytest.fail(f'no {expected!r} line from the parent: '
                    f'{self.tail()}')

    def tail(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]

    def kill9_and_measure(self):
        """Record the descendants, ``kill -9`` the parent, and return
        ``{pid: seconds until gone}`` plus the processes left after
        :data:`DEADLINE_S`."""
        self.pids = _descendants(self.proc.pid)
        assert self.pids, 'no worker process found'
        t0 = time.time()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        gone, left = {}, dict(self.pids)
        while left and time.time() - t0 < DEADLINE_S:
            time.sleep(0.1)
            for pid, start in list(left.items()):
                if not _alive(pid, start):
                    gone[pid] = round(time.time() - t0, 1)
                    del left[pid]
        return gone, [_describe(pid) for pid in left]

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid, start in self.pids.items():
            if _alive(pid, start):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def _assert_all_gone(gone, left):
    assert not left, (
        f'{len(left)} process(es) still alive {DEADLINE_S:.0f} s after '
        f'kill -9 of their parent (gone: {gone}):\n' + '\n'.join(left))


@pytest.mark.parametrize('thread', ['main', 'other', 'persistent'])
def test_busy_pool_workers_exit_with_killed_parent(tmp_path, thread):
    """imap_pool (forkserver) workers in the middle of a 600 s item, the
    pool started from the main thread (the kernel kills forkserver and
    workers) or from another thread (the workers' watcher thread), and the
    PersistentPool a model keeps open during training."""
    parent = _Parent([sys.executable, '-c', POOL_SCRIPT, thread],
                     tmp_path,
                     pipe_stdout=True)
    try:
        parent.read_line('READY')

        def two_workers():
            # forkserver + resource tracker are children, workers are
            # grandchildren of the parent
            kids = _descendants(parent.proc.pid)
            direct = [
                p for p in kids
                if (_stat(p) or (None, ))[0] == parent.proc.pid
            ]
            return len(kids) - len(direct) >= 2

        _wait_until(two_workers, 60, 'two pool workers', parent.proc)
        time.sleep(1.0)  # both are inside their item
        gone, left = parent.kill9_and_measure()
        _assert_all_gone(gone, left)
    finally:
        parent.cleanup()


@pytest.mark.parametrize('dataset', ['Stuck', 'Big'])
def test_dataloader_workers_exit_with_killed_parent(tmp_path, dataset):
    """torch DataLoader workers (persistent) of a process that imported
    mmwsss. ``Stuck``: each worker blocked in ``__getitem__`` (torch's own
    watchdog only looks between items). ``Big``: results that do not fit
    in the result pipe (the worker's exit waits for its queue feeder
    thread, which blocks on the full pipe)."""
    (tmp_path / 'slow_data.py').write_text(SLOW_DATA)
    parent = _Parent([sys.executable, '-c', LOADER_SCRIPT, dataset],
                     tmp_path,
                     extra_path=[str(tmp_path)],
                     pipe_stdout=True)
    try:
        parent.read_line('READY')
        _wait_until(lambda: len(_descendants(parent.proc.pid)) >= 2, 60,
                    'two loader workers', parent.proc)
        time.sleep(2.0)  # Stuck: in __getitem__; Big: pipe filled
        gone, left = parent.kill9_and_measure()
        _assert_all_gone(gone, left)
    finally:
        parent.cleanup()


@pytest.fixture
def cam_fixture(tmp_path):
    """8 images, a CAM config (no pretrained weights) and its checkpoint."""
    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmwsss.datasets.testing import make_folder_fixture
    root = str(tmp_path / 'data')
    make_folder_fixture(root, {'train': 8}, num_classes=3, size=(40, 52))
    base = osp.join(ROOT, 'configs', 'cam',
                    'cam_effnet-lite0_1xb16-600it_synthetic-112x112.py')
    cfg = str(tmp_path / 'cams.py')
    with open(cfg, 'w') as f:
        f.write(
            textwrap.dedent(f'''
            _base_ = [{base!r}]
            model = dict(backbone=dict(init_cfg=None),
                         cam_head=dict(num_classes=3))
            train_dataloader = dict(dataset=dict(
                _delete_=True, type='WSSSFolderDataset',
                data_root={root!r}, split='train'))
            '''))
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg).model)
    ckpt = str(tmp_path / 'cam.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    return dict(root=root, cfg=cfg, ckpt=ckpt)


def test_infer_cams_workers_stuck_on_a_read_exit_with_killed_tool(
        tmp_path, cam_fixture):
    """tools/cam/infer_cams.py --workers 2 whose image reads hang (the
    images are FIFOs nobody writes: ``open`` blocks, like a dead network
    mount), killed with SIGKILL."""
    images = osp.join(cam_fixture['root'], 'images')
    for name in os.listdir(images):
        os.remove(osp.join(images, name))
        os.mkfifo(osp.join(images, name))
    parent = _Parent([
        sys.executable, 'tools/cam/infer_cams.py', cam_fixture['cfg'],
        cam_fixture['ckpt'], '--out-dir',
        str(tmp_path / 'cams'), '--dataset', 'train', '--workers', '2',
        '--cfg-options', f'work_dir={tmp_path / "wd"}'
    ], tmp_path)
    try:

        def blocked_workers():
            kids = _descendants(parent.proc.pid)
            return len(kids) >= 2 and all(
                'wait_for_partner' in _describe(p) for p in kids)

        _wait_until(lambda: len(_descendants(parent.proc.pid)) >= 2, 120,
                    'two loader workers', parent.proc)
        try:
            _wait_until(blocked_workers, 10, 'workers blocked on a read',
                        parent.proc)
        except pytest.fail.Exception:
            # wchan may be hidden; the workers block right away anyway
            time.sleep(2.0)
        gone, left = parent.kill9_and_measure()
        _assert_all_gone(gone, left)
    finally:
        parent.cleanup()


def test_export_pseudo_labels_pool_exits_with_killed_tool(tmp_path):
    """tools/pseudo_labels/export_pseudo_labels.py --workers 2 (label CRF
    in a forkserver pool) killed with SIGKILL mid-way: workers, forkserver
    and resource tracker are gone."""
    pytest.importorskip('pydensecrf')
    spec = importlib.util.spec_from_file_location(
        '_pl_toys_for_worker_death',
        osp.join(ROOT, 'tests', 'test_apis', '_pl_toys.py'))
    toys = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toys)
    root, cams = str(tmp_path / 'data'), str(tmp_path / 'cams')
    toys.make_pl_fixture(root, cams, splits={'train': 40}, size=(240, 320))
    out = str(tmp_path / 'pl')
    parent = _Parent([
        sys.executable, 'tools/pseudo_labels/export_pseudo_labels.py',
        '--data-root', root, '--split', 'train', '--map-dir', cams,
        '--field', 'hr_cam', '--crf', 'label', '--out-dir', out,
        '--workers', '2'
    ], tmp_path)
    try:

        def written():
            return osp.isdir(out) and len(
                [f for f in os.listdir(out) if f.endswith('.png')]) >= 2

        _wait_until(written, 120, 'two pseudo-label PNGs', parent.proc)
        gone, left = parent.kill9_and_measure()
        assert len(parent.pids) >= 4, (
            'expected forkserver, resource tracker and 2 workers: '
            f'{parent.pids}')
        _assert_all_gone(gone, left)
    finally:
        parent.cleanup()
