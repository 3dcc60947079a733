"""``tools/misc/verify_dataset.py`` run as a user runs it, on a generated
folder set with files broken here: every bad file (and no other) is named
once with its fix, the summary counts the split, the exit status is 0
(clean), 1 (bad files) or 2 (nothing could be checked)."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from repo_commands import ROOT, run_repo

from mmwsss.datasets.testing import make_folder_fixture

TOOL = osp.join(ROOT, 'tools', 'misc', 'verify_dataset.py')
# the camvid dataset config (pipelines with image and mask loaders, which
# the tool drops), pointed at the fixture; no model: the tool builds none
CFG = '''
_base_ = [{base!r}]
train_dataloader = dict(dataset=dict(data_root={root!r}))
val_dataloader = dict(dataset=dict(data_root={root!r}))
test_dataloader = dict(dataset=dict(data_root={root!r}, split='val'))
'''
SPLITS = {'train': 8, 'val': 3}  # ids train_0000..0007, val_0008..0010
K = 5


def _make(tmp, name='data'):
    root = str(tmp / name)
    make_folder_fixture(root, SPLITS, num_classes=K, size=(24, 32))
    cfg = str(tmp / f'{name}.py')
    with open(cfg, 'w') as f:
        base = osp.join(ROOT, 'configs/_base_/datasets/camvid_things.py')
        f.write(CFG.format(base=base, root=root))
    return root, cfg


def _tool(*args):
    """(exit status, stdout, stderr) of the tool."""
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    res = subprocess.run([sys.executable, TOOL, *args],
                         cwd=ROOT,
                         env=env,
                         capture_output=True,
                         text=True,
                         timeout=300)
    return res.returncode, res.stdout, res.stderr


@pytest.fixture(scope='module')
def clean(tmp_path_factory):
    return _make(tmp_path_factory.mktemp('verify'))


def test_clean_set_exit_0(clean):
    out = run_repo([sys.executable, TOOL, clean[1], '--workers', '0'])
    assert 'error:' not in out and 'Traceback' not in out, out
    for line in ('train: 8 images, 8 masks checked, 0 errors',
                 'val: 3 images, 3 masks checked, 0 errors',
                 'test: same dataset as val, not checked again'):
        assert line in out.splitlines(), out


def _mask(root, img_id):
    return osp.join(root, 'masks', img_id + '.png')


def _names(values):
    return '{' + ', '.join(f'class{v}' for v in values) + '}'


@pytest.fixture(scope='module')
def broken(tmp_path_factory):
    """A set with 7 bad train files, and grey / RGBA images (accepted)."""
    root, cfg = _make(tmp_path_factory.mktemp('verify_bad'))
    img = osp.join(root, 'images', '{}').format
    for name in ('train_0000.jpg', 'train_0001.png'):  # cut in half
        with open(img(name), 'rb') as f:
            data = f.read()
        with open(img(name), 'wb') as f:
            f.write(data[:len(data) // 2])
    with open(img('train_0002.jpg'), 'w') as f:
        f.write('not an image\n')
    open(img('train_0006.jpg'), 'wb').close()
    mask = np.array(Image.open(_mask(root, 'train_0003')))
    mask[3, 3] = 7
    Image.fromarray(mask).save(_mask(root, 'train_0003'))
    mask = np.array(Image.open(_mask(root, 'train_0004')))
    Image.fromarray(mask[:20]).save(_mask(root, 'train_0004'))
    present = sorted(
        set(np.unique(np.array(Image.open(_mask(root, 'train_0005'))))) -
        {0, 255})
    wrong = [c for c in range(1, K + 1) if c not in present][:1]
    with open(osp.join(root, 'labels.json')) as f:
        labels = json.load(f)
    labels['train_0005'] = wrong
    with open(osp.join(root, 'labels.json'), 'w') as f:
        json.dump(labels, f)
    Image.open(img('train_0007.png')).convert('L').save(img('train_0007.png'))
    Image.open(img('val_0009.png')).convert('RGBA').save(img('val_0009.png'))
    split = osp.join(root, 'splits', 'train.txt')
    drop = 'or remove "{}" from ' + split
    expect = {  # bad file -> (what, fix)
        img('train_0000.jpg'): ('image cannot be decoded', drop),
        img('train_0001.png'): ('image cannot be decoded', drop),
        img('train_0002.jpg'): ('not an image format', drop),
        img('train_0006.jpg'): ('image file is empty (0 bytes)', drop),
        _mask(root, 'train_0003'): ('values [7] outside {0..5, 255}',
                                    'remap the mask values'),
        _mask(root, 'train_0004'): ('mask is 20x32 (HxW) but image',
                                    'regenerate the mask'),
        _mask(root, 'train_0005'):
        (f'labels.json says {_names(wrong)} but the mask has '
         f'{_names(present)}', 'correct the entry "train_0005" in ' +
         osp.join(root, 'labels.json')),
    }
    return root, cfg, expect


def test_bad_files_listed_exit_1(broken):
    root, cfg, expect = broken
    code, out, err = _tool(cfg, '--workers', '2')
    assert code == 1, out + err
    lines = out.splitlines()
    errors = [ln for ln in lines if ln.startswith('error: ')]
    assert len(errors) == len(expect), out
    for path, (what, fix) in expect.items():
        hits = [ln for ln in errors if f', {path}: ' in ln]
        assert len(hits) == 1, (path, out)
        img_id = osp.splitext(osp.basename(path))[0]
        assert what in hits[0].split(f', {path}: ')[0], hits[0]
        assert fix.format(img_id) in hits[0].split(f', {path}: ')[1], hits
    assert lines[len(errors):] == [
        'train: 8 images, 8 masks checked, 7 errors',
        'val: 3 images, 3 masks checked, 0 errors',
        'test: same dataset as val, not checked again'
    ], out


def test_split_val_checks_only_val(broken):
    code, out, err = _tool(broken[1], '--split', 'val', '--workers', '0')
    assert code == 0, out + err
    assert out.splitlines() == ['val: 3 images, 3 masks checked, 0 errors']


def test_missing_image_exit_2(tmp_path, clean):
    root = str(tmp_path / 'data')
    shutil.copytree(clean[0], root)
    os.remove(osp.join(root, 'images', 'train_0003.png'))
    cfg = str(tmp_path / 'cfg.py')
    with open(clean[1]) as f, open(cfg, 'w') as g:
        g.write(f.read().replace(clean[0], root))
    code, out, err = _tool(cfg, '--workers', '0')
    assert code == 2 and out == '', out + err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith('error: the train dataset of ' + cfg), err
    for part in ('train_0003', osp.join(root, 'splits', 'train.txt'),
                 osp.join(root, 'images', 'train_0003'), 'remove'):
        assert part in err, err


def test_missing_split_file_exit_2(clean):
    code, out, err = _tool(clean[1], '--cfg-options',
                           'val_dataloader.dataset.split=nosuch')
    assert code == 2 and out == '', out + err
    assert len(err.strip().splitlines()) == 1, err
    assert osp.join(clean[0], 'splits', 'nosuch.txt') in err, err


def test_bad_config_path_exit_2(tmp_path):
    code, out, err = _tool(str(tmp_path / 'nope.py'))
    assert code == 2 and out == '', out + err
    assert err.splitlines() == [err.strip()] and err.startswith('error: ')
    assert str(tmp_path / 'nope.py') in err and 'Traceback' not in err
