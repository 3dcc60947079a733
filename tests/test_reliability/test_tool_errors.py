"""Bad input and faults against the real tools, as a user meets them: each
case runs the tool in a subprocess on a generated set and checks the exit
status (2), the one ``error:`` line (what, the file or option, the fix), no
traceback, and that no partial or wrong file is left."""
import errno
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from repo_commands import ROOT

CAM_CFG = osp.join(ROOT, 'configs', 'cam',
                   'cam_effnet-lite0_1xb16-600it_synthetic-112x112.py')
N_TRAIN = 4

CFG = '''
_base_ = [{base!r}]
model = dict(backbone=dict(init_cfg=None), cam_head=dict(num_classes=3))
ds = dict(_delete_=True, type='WSSSFolderDataset', data_root={root!r})
loader = dict(num_workers=0, persistent_workers=False)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomContainerCrop', crop_size=(32, 32)),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(**loader, batch_size=2,
                        dataset=dict(ds, split='train',
                                     pipeline=train_pipeline))
val_dataloader = dict(**loader, dataset=dict(ds, split='val'))
test_dataloader = dict(**loader, dataset=dict(ds, split='val'))
train_cfg = dict(max_iters=2, val_interval=1000)
default_hooks = dict(logger=dict(interval=1))
'''

# runs a tool with the writer's open() failing with ENOSPC from the
# (LIMIT + 1)-th temp map file on: a full disk, injected (root ignores
# permissions and quotas)
ENOSPC_RUNNER = '''
import builtins, errno, runpy, sys
sys.path.insert(0, {root!r})
import mmwsss.utils.fileio as fio
LIMIT = {limit}
state = dict(n=0)


class Full:
    def __init__(self, f):
        self.f = f

    def write(self, data):
        raise OSError(errno.ENOSPC, 'No space left on device')

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def fake_open(path, mode='r', *args, **kwargs):
    f = builtins.open(path, mode, *args, **kwargs)
    if 'w' in mode and fio.TMP_TAG in str(path) and str(path).endswith(
            '.npz'):
        state['n'] += 1
        if state['n'] > LIMIT:
            return Full(f)
    return f


fio.open = fake_open
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def _tool(args, code=2, env=None):
    """Run a tool; assert its exit status; return (stdout, stderr)."""
    env = dict(env or os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    env.pop('MMWSSS_TRUST_CHECKPOINT', None)
    res = subprocess.run([sys.executable] + list(args),
                         cwd=ROOT,
                         env=env,
                         capture_output=True,
                         text=True,
                         timeout=600)
    assert res.returncode == code, (res.returncode, res.stderr[-4000:])
    return res.stdout, res.stderr


def _error_line(err):
    """The one error line: the last stderr line, no traceback."""
    assert 'Traceback' not in err, err[-4000:]
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith('error: ')]
    assert len(errors) == 1 and lines[-1] == errors[0], err[-3000:]
    return errors[0]


def _leftovers(folder):
    return glob.glob(osp.join(folder, '**', '*.tmp*'), recursive=True)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmwsss.datasets.testing import make_folder_fixture
    tmp = tmp_path_factory.mktemp('reliability')
    root = str(tmp / 'data')
    make_folder_fixture(
        root, {
            'train': N_TRAIN,
            'val': 2
        }, num_classes=3, size=(40, 52))
    cfg = str(tmp / 'cam.py')
    with open(cfg, 'w') as f:
        f.write(CFG.format(base=CAM_CFG, root=root))
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg).model)
    ckpt = str(tmp / 'cam.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    blocker = tmp / 'a_file'
    blocker.write_text('not a folder')
    return dict(tmp=tmp, root=root, cfg=cfg, ckpt=ckpt, blocker=str(blocker))


def _infer(env, out_dir, *extra, code=2):
    return _tool([
        'tools/cam/infer_cams.py', env['cfg'], env['ckpt'], '--dataset',
        'train', '--out-dir', out_dir, '--workers', '0', *extra
    ],
                 code=code)


@pytest.mark.parametrize('option,value,name', [
    ('--scales', '0', 'scales'),
    ('--scales', '-1', 'scales'),
    ('--conf-th', '2', 'conf_th'),
])
def test_bad_export_option(env, option, value, name):
    out = str(env['tmp'] / f'cams_{name}_{value}')
    extra = [option, value]
    if option == '--conf-th':
        extra.append('--use-pred-labels')
    _, err = _infer(env, out, *extra)
    line = _error_line(err)
    assert line.startswith(f'error: {name} must ') and value in line, line
    assert not osp.exists(out)  # nothing written, not even the folder


def test_bad_thresholds(env):
    out = str(env['tmp'] / 'pl_bad_th')
    _, err = _tool([
        'tools/pseudo_labels/export_pseudo_labels.py', env['cfg'],
        '--dataset', 'train', '--map-dir', env['root'], '--out-dir', out,
        '--bg-th', '-5'
    ])
    assert 'bg_th must be in [0, 1], got -5.0' in _error_line(err)
    assert not osp.exists(out)
    # classes from CAM files need the CAM folder, an existing one
    _, err = _tool([
        'tools/pseudo_labels/export_pseudo_labels.py', env['cfg'],
        '--dataset', 'train', '--map-dir', env['root'], '--out-dir', out,
        '--cam-classes', '2'
    ])
    assert '--cam-classes needs --cam-dir' in err, err
    missing = str(env['tmp'] / 'no_cams')
    _, err = _tool([
        'tools/pseudo_labels/export_pseudo_labels.py', env['cfg'],
        '--dataset', 'train', '--map-dir', env['root'], '--out-dir', out,
        '--cam-classes', '2', '--cam-dir', missing
    ])
    line = _error_line(err)
    assert 'CAM folder not found' in line and missing in line, line
    assert not osp.exists(out)
    _, err = _tool([
        'tools/cam/eval_cams.py', env['cfg'], '--dataset', 'val',
        '--cam-dir', env['root'], '--thr-start', '-1'
    ])
    line = _error_line(err)
    assert '--thr-start' in line and 'must be in [0, 1]' in line, line


def test_missing_map_folder_names_option_and_fix(env):
    missing = str(env['tmp'] / 'no_such_cams')
    _, err = _tool([
        'tools/cam/eval_cams.py', env['cfg'], '--dataset', 'val',
        '--cam-dir', missing
    ])
    line = _error_line(err)
    assert missing in line and '--cam-dir' in line and 'give the' in line


@pytest.mark.parametrize('labels', [[True], ['1'], [1.0], 1])
def test_data_root_labels_json_types(env, tmp_path, labels):
    """``--data-root`` reads labels.json with the dataset class: a bool, a
    string, a float or a bare number is an error naming file and id."""
    import shutil
    root = str(tmp_path / 'data')
    shutil.copytree(env['root'], root)
    path = osp.join(root, 'labels.json')
    table = json.load(open(path))
    first = sorted(table)[0]
    table[first] = labels
    json.dump(table, open(path, 'w'))
    out = str(tmp_path / 'cams')
    _, err = _tool([
        'tools/cam/infer_cams.py', env['cfg'], env['ckpt'], '--data-root',
        root, '--split', 'train', '--out-dir', out, '--workers', '0'
    ])
    line = _error_line(err)
    assert path in line and f'"{first}"' in line and 'Fix' in line, line
    assert not osp.exists(out)


def test_empty_split_file_is_an_error_everywhere(env, tmp_path):
    import shutil
    root = str(tmp_path / 'data')
    shutil.copytree(env['root'], root)
    split = osp.join(root, 'splits', 'val.txt')
    open(split, 'w').write('\n\n')
    cfg = str(tmp_path / 'cam.py')
    open(cfg, 'w').write(CFG.format(base=CAM_CFG, root=root))
    # the --data-root reader, the config path of two tools, and training
    runs = [
        [
            'tools/cam/eval_cams.py', '--data-root', root, '--split', 'val',
            '--cam-dir', env['root']
        ],
        [
            'tools/cam/eval_cams.py', cfg, '--dataset', 'val', '--cam-dir',
            env['root']
        ],
        [
            'tools/cam/infer_cams.py', cfg, env['ckpt'], '--dataset', 'val',
            '--out-dir',
            str(tmp_path / 'cams'), '--workers', '0'
        ],
        [
            'tools/train.py', cfg, '--work-dir',
            str(tmp_path / 'wd'), '--cfg-options',
            'train_dataloader.dataset.split=val'
        ],
    ]
    for args in runs:
        _, err = _tool(args)
        line = _error_line(err)
        assert 'Split file is empty' in line and split in line, (args, line)
    assert not osp.exists(tmp_path / 'cams')


def test_output_folder_blocked_before_model_work(env):
    """A file in the way of the output folder (what root cannot get from
    permissions): refused before the checkpoint is read -- a corrupt
    checkpoint is not even looked at -- and nothing is written."""
    bad_ckpt = str(env['tmp'] / 'corrupt.pth')
    open(bad_ckpt, 'wb').write(b'PK\x03\x04 cut')
    out = osp.join(env['blocker'], 'cams')
    _, err = _tool([
        'tools/cam/infer_cams.py', env['cfg'], bad_ckpt, '--dataset',
        'train', '--out-dir', out, '--workers', '0'
    ])
    line = _error_line(err)
    assert ('--out-dir' in line and out in line
            and f'{env["blocker"]} is a file, not a folder' in line
            and 'choose another path' in line), line
    # the PNG tools and the report of the evaluation, likewise
    _, err = _tool([
        'tools/pseudo_labels/export_pseudo_labels.py', env['cfg'],
        '--dataset', 'train', '--map-dir', env['root'], '--out-dir', out
    ])
    assert 'not writable' in _error_line(err)
    report = osp.join(env['blocker'], 'report.json')
    _, err = _tool([
        'tools/cam/eval_cams.py', env['cfg'], '--dataset', 'val',
        '--cam-dir', env['root'], '--out', report
    ])
    line = _error_line(err)
    assert '--out' in line and 'not writable' in line, line
    # training: the work dir
    _, err = _tool([
        'tools/train.py', env['cfg'], '--work-dir',
        osp.join(env['blocker'], 'wd')
    ])
    assert '--work-dir' in _error_line(err)
    assert open(env['blocker']).read() == 'not a folder'


def test_disk_full_while_exporting(env):
    """ENOSPC injected into the writer after 2 files: one line naming the
    file being written and the fix; the finished files are whole, no temp
    file is left; after space is freed a rerun completes the folder."""
    out = str(env['tmp'] / 'cams_full')
    runner = str(env['tmp'] / 'enospc_runner.py')
    with open(runner, 'w') as f:
        f.write(ENOSPC_RUNNER.format(root=ROOT, limit=2))
    args = [
        'tools/cam/infer_cams.py', env['cfg'], env['ckpt'], '--dataset',
        'train', '--out-dir', out, '--workers', '0'
    ]
    _, err = _tool([runner] + args)
    line = _error_line(err)
    assert line.startswith(f'error: cannot write {out}/'), line
    assert ('No space left on device' in line
            and 'free space on that disk or write somewhere else' in line)
    assert errno.errorcode[errno.ENOSPC] == 'ENOSPC'
    assert not _leftovers(out)
    done = sorted(f for f in os.listdir(out) if f.endswith('.npz'))
    assert len(done) == 2
    for f in done:  # whole files
        with np.load(osp.join(out, f)) as z:
            assert z['hr_cam'].shape[0] == len(z['keys']) - 1
    _tool(args, code=0)
    assert len([f for f in os.listdir(out) if f.endswith('.npz')]) == N_TRAIN


def test_data_error_through_a_config_is_one_line_and_debug_shows_it(env):
    """A corrupt image met by training (via the config's dataset): one line
    naming the image; ``--debug`` gives the traceback instead."""
    import shutil
    tmp = env['tmp'] / 'corrupt_img'
    root = str(tmp / 'data')
    shutil.copytree(env['root'], root)
    img = sorted(glob.glob(osp.join(root, 'images', '*')))[0]
    data = open(img, 'rb').read()
    open(img, 'wb').write(data[:len(data) // 3])
    cfg = str(tmp / 'cam.py')
    open(cfg, 'w').write(CFG.format(base=CAM_CFG, root=root))
    args = [
        'tools/train.py', cfg, '--work-dir',
        str(tmp / 'wd'), '--cfg-options', 'train_cfg.max_iters=4',
        'train_dataloader.sampler.shuffle=False'
    ]
    _, err = _tool(args)
    line = _error_line(err)
    assert img in line, line
    _, err = _tool(args + ['--debug'], code=1)
    assert 'Traceback' in err and img in err
