"""Export configs run by tools/test.py and tools/dist_test.sh: the CAM files
equal an independent per-scale x flip loop written here; 2 CPU processes
write every image once, equal to 1 process; kill -9 + rerun gives the same
files and no temp file; a changed checkpoint or option is refused by the
manifest; a rerun with nothing left exits 0."""
import glob
import json
import math
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from repo_commands import ROOT, run_repo

from mmwsss.utils.fileio import load_cam

CAM_CFG = osp.join(ROOT, 'configs', 'cam',
                   'cam_effnet-lite0_1xb16-600it_synthetic-112x112.py')
N = 24
SCALES = (0.5, 1.0, 1.5, 2.0)
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])

EXPORT_CFG = '''
_base_ = [{base!r}, {snippet!r}]
model = dict(backbone=dict(init_cfg=None), cam_head=dict(num_classes=3))
train_dataloader = dict(dataset=dict(
    _delete_=True, type='WSSSFolderDataset', data_root={root!r},
    split='train'))
export = dict(split='train', num_workers=0)
'''


def _run(args, ok=True, timeout=600):
    """:func:`run_repo` without ``MMWSSS_TRUST_CHECKPOINT``."""
    return run_repo(args, ok=ok, timeout=timeout,
                    drop_env=('MMWSSS_TRUST_CHECKPOINT', ))


def _export(cfg, ckpt, out_dir, *extra, ok=True):
    return _run([
        sys.executable, 'tools/test.py', cfg, ckpt, '--out-dir', out_dir,
        '--work-dir',
        osp.join(osp.dirname(out_dir), 'wd'), *extra
    ],
                ok=ok)


def _files(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith('.npz'))


def _same_files(a, b):
    assert _files(a) == _files(b) and len(_files(a)) == N
    for f in _files(a):
        x, y = np.load(osp.join(a, f)), np.load(osp.join(b, f))
        assert sorted(x.files) == sorted(y.files) == ['cam', 'hr_cam', 'keys']
        for k in x.files:
            assert np.array_equal(x[k], y[k]), (f, k)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmwsss.datasets.testing import make_folder_fixture
    tmp = tmp_path_factory.mktemp('export')
    root = str(tmp / 'data')
    make_folder_fixture(root, {'train': N}, num_classes=3, size=(40, 52))
    cfg = str(tmp / 'cams.py')
    with open(cfg, 'w') as f:
        f.write(
            EXPORT_CFG.format(
                base=CAM_CFG,
                snippet=osp.join(ROOT, 'configs', '_base_', 'export',
                                 'cams.py'),
                root=root))
    ckpts = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = MODELS.build(Config.fromfile(cfg).model)
        ckpts.append(str(tmp / f'cam{seed}.pth'))
        torch.save(dict(state_dict=model.state_dict(), meta={}), ckpts[-1])
    ref = str(tmp / 'ref')
    _export(cfg, ckpts[0], ref)
    return dict(tmp=tmp, root=root, cfg=cfg, ckpts=ckpts, ref=ref)


def test_export_equals_an_independent_loop(setup):
    from mmengine.config import Config
    from mmseg.registry import MODELS
    model = MODELS.build(Config.fromfile(setup['cfg']).model).eval()
    sd = torch.load(setup['ckpts'][0], weights_only=True)['state_dict']
    model.load_state_dict(sd)
    labels = json.load(open(osp.join(setup['root'], 'labels.json')))
    manifest = json.load(open(osp.join(setup['ref'], 'manifest.json')))
    assert manifest['kind'] == 'cam'
    assert manifest['checkpoint'] == setup['ckpts'][0]
    assert manifest['options']['model']['scales'] == list(SCALES)
    for path in sorted(glob.glob(osp.join(setup['root'], 'images', '*'))):
        img_id = osp.splitext(osp.basename(path))[0]
        img = np.asarray(Image.open(path).convert('RGB'))
        H, W = img.shape[:2]
        cam4 = hr = 0
        for s in SCALES:
            im = np.asarray(
                Image.fromarray(img).resize((round(W * s), round(H * s)),
                                            Image.BICUBIC), np.float32)
            x = torch.from_numpy(((im - MEAN) / STD).astype(
                np.float32).transpose(2, 0, 1).copy())
            with torch.no_grad():
                a = F.relu(model.extract_cam(torch.stack([x, x.flip(-1)])))
            c = a[0] + a[1].flip(-1)
            cam4 = cam4 + F.interpolate(
                c[None], (math.ceil(H / 4), math.ceil(W / 4)),
                mode='bilinear')[0]
            hr = hr + F.interpolate(
                c[None], (16 * math.ceil(H / 16), 16 * math.ceil(W / 16)),
                mode='bilinear')[0, :, :H, :W]
        present = [c - 1 for c in labels[img_id]]
        got = load_cam(osp.join(setup['ref'], img_id + '.npz'))
        assert got['keys'].tolist() == [0] + labels[img_id]
        for name, ref in (('cam', cam4[present]), ('hr_cam', hr[present])):
            ref = ref / (ref.amax((1, 2), keepdim=True) + 1e-5)
            np.testing.assert_allclose(
                got[name], ref.numpy(), atol=2e-5, err_msg=img_id)


def test_two_processes_write_each_image_once(setup):
    out = str(setup['tmp'] / 'dist' / 'cams')
    log = _run([
        'env', 'PORT=29531', f'PYTHON={sys.executable}', 'bash',
        'tools/dist_test.sh', setup['cfg'], setup['ckpts'][0], '2',
        '--out-dir', out, '--work-dir',
        str(setup['tmp'] / 'dist' / 'wd')
    ])
    assert 'world size 2' in log
    # rank 0 ran half of the images; both ranks' files were collected
    assert f'Iter(test) [{N // 2}/{N // 2}]' in log, log[-3000:]
    assert f'export/written: {N}' in log, log[-3000:]
    _same_files(out, setup['ref'])


def test_kill9_then_rerun_gives_the_same_files(setup):
    out = str(setup['tmp'] / 'killed' / 'cams')
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.Popen([
        sys.executable, 'tools/test.py', setup['cfg'], setup['ckpts'][0],
        '--out-dir', out, '--work-dir',
        str(setup['tmp'] / 'killed' / 'wd')
    ],
                            cwd=ROOT,
                            env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            if osp.isdir(out) and len(_files(out)) >= 3:
                break
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = [f for f in _files(out) if '.tmp' not in f]
    assert 0 < len(done) < N, 'the export was not interrupted mid-way'
    _export(setup['cfg'], setup['ckpts'][0], out)
    assert not [f for f in os.listdir(out) if '.tmp' in f]
    _same_files(out, setup['ref'])


def test_manifest_refuses_another_checkpoint_or_option(setup):
    import shutil
    out = str(setup['tmp'] / 'manifest' / 'cams')
    shutil.copytree(setup['ref'], out)
    before = {f: os.stat(osp.join(out, f)).st_mtime_ns for f in _files(out)}
    # nothing left to do: exit 0, nothing touched
    _export(setup['cfg'], setup['ckpts'][0], out)
    after = {f: os.stat(osp.join(out, f)).st_mtime_ns for f in _files(out)}
    assert after == before
    os.remove(osp.join(out, _files(out)[0]))
    err = _export(setup['cfg'], setup['ckpts'][1], out, ok=False)
    line = [ln for ln in err.splitlines() if ln.startswith('error: ')]
    assert len(line) == 1 and 'Traceback' not in err, err[-3000:]
    assert setup['ckpts'][0] in line[0] and setup['ckpts'][1] in line[0]
    assert '--out-dir' in line[0] and '--overwrite' in line[0]
    err = _export(
        setup['cfg'],
        setup['ckpts'][0],
        out,
        '--cfg-options',
        'export.model.flip=False',
        ok=False)
    assert 'config hash' in err and 'error: ' in err
    assert len(_files(out)) == N - 1  # nothing was written
    # --overwrite recomputes every image with the new checkpoint
    _export(setup['cfg'], setup['ckpts'][1], out, '--overwrite')
    manifest = json.load(open(osp.join(out, 'manifest.json')))
    assert manifest['checkpoint'] == setup['ckpts'][1]
    assert len(_files(out)) == N
    changed = [
        f for f in _files(out) if not np.array_equal(
            np.load(osp.join(out, f))['hr_cam'],
            np.load(osp.join(setup['ref'], f))['hr_cam'])
    ]
    assert len(changed) == N
