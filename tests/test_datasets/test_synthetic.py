"""Synthetic dataset: determinism, mask/label agreement, atomic caching."""
import json
import multiprocessing as mp
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmwsss.datasets import (DataFileError, SyntheticWSSSDataset,
                             generate_synthetic)
from mmwsss.datasets.synthetic_gen import (COMPLETE_MARKER, SYNTHETIC_CLASSES,
                                           default_synthetic_root)

SMALL = dict(num_train=24, num_val=6, num_test=6, size=(64, 80), seed=3)


def _read_masks(root):
    out = {}
    for name in sorted(os.listdir(osp.join(root, 'masks'))):
        with open(osp.join(root, 'masks', name), 'rb') as f:
            out[name] = f.read()
    return out


@pytest.fixture(scope='module')
def default_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('syn') / 'synthetic_v1')
    generate_synthetic(root)
    return root


def test_defaults_layout(default_root):
    for split, n in (('train', 600), ('val', 100), ('test', 200)):
        ids = open(osp.join(default_root, 'splits',
                            f'{split}.txt')).read().split()
        assert len(ids) == n
    classes = open(osp.join(default_root, 'classes.txt')).read().split()
    assert tuple(classes) == SYNTHETIC_CLASSES
    img = cv2.imread(osp.join(default_root, 'images', 'train_00000.jpg'))
    assert img.shape == (128, 128, 3)
    assert osp.isfile(osp.join(default_root, COMPLETE_MARKER))


def test_labels_consistent_with_masks(default_root):
    labels = json.load(open(osp.join(default_root, 'labels.json')))
    meta = json.load(open(osp.join(default_root, 'meta.json')))
    per_split = {s: np.zeros(4, int) for s in ('train', 'val', 'test')}
    n_objects = []
    for img_id, present in labels.items():
        m = cv2.imread(
            osp.join(default_root, 'masks', img_id + '.png'),
            cv2.IMREAD_UNCHANGED)
        assert m.dtype == np.uint8 and m.shape == (128, 128)
        values = set(np.unique(m).tolist())
        assert values <= {0, 1, 2, 3, 4, 255}
        assert sorted(values - {0, 255}) == present
        for c in present:
            assert (m == c).sum() >= meta['min_pixels']
            per_split[img_id.split('_')[0]][c - 1] += 1
        n_objects.append(len(present))
    # every class appears in every split
    for split, counts in per_split.items():
        assert (counts > 0).all(), (split, counts)
    # 1-3 objects, all classes reasonably balanced in train
    assert max(n_objects) == 3 and min(n_objects) >= 1
    train = per_split['train']
    assert train.min() > 0.5 * train.max()


def test_deterministic(tmp_path):
    a = generate_synthetic(str(tmp_path / 'a'), **SMALL)
    b = generate_synthetic(str(tmp_path / 'b'), **SMALL)
    ma, mb = _read_masks(a), _read_masks(b)
    assert len(ma) == 36 and ma == mb
    assert open(osp.join(a, 'labels.json')).read() == open(
        osp.join(b, 'labels.json')).read()
    img = 'images/train_00005.jpg'
    assert open(osp.join(a, img), 'rb').read() == open(osp.join(b, img),
                                                       'rb').read()
    c = generate_synthetic(str(tmp_path / 'c'), **dict(SMALL, seed=4))
    assert _read_masks(c) != ma


def test_boundary_band(tmp_path):
    root = generate_synthetic(
        str(tmp_path / 'band'), **dict(SMALL, boundary_width=1))
    labels = json.load(open(osp.join(root, 'labels.json')))
    n_ignore = 0
    for img_id, present in labels.items():
        m = cv2.imread(osp.join(root, 'masks', img_id + '.png'), 0)
        assert sorted(set(np.unique(m).tolist()) - {0, 255}) == present
        n_ignore += (m == 255).sum()
    assert n_ignore > 0


def test_reuse_and_param_mismatch(tmp_path):
    root = generate_synthetic(str(tmp_path / 's'), **SMALL)
    stamp = os.stat(osp.join(root, 'labels.json')).st_mtime_ns
    assert generate_synthetic(root, **SMALL) == root
    assert os.stat(osp.join(root, 'labels.json')).st_mtime_ns == stamp
    with pytest.raises(DataFileError, match=osp.join(root, 'meta.json')):
        generate_synthetic(root, **dict(SMALL, seed=99))


def test_incomplete_folder_refused(tmp_path):
    root = tmp_path / 'partial'
    (root / 'images').mkdir(parents=True)
    with pytest.raises(DataFileError, match=str(root)):
        generate_synthetic(str(root), **SMALL)
    empty = tmp_path / 'empty'
    empty.mkdir()
    generate_synthetic(str(empty), **SMALL)
    assert osp.isfile(empty / COMPLETE_MARKER)


def _worker(root):
    generate_synthetic(root, **SMALL)


def test_concurrent_generation(tmp_path):
    root = str(tmp_path / 'conc')
    ctx = mp.get_context('fork')
    procs = [ctx.Process(target=_worker, args=(root, )) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ref = generate_synthetic(str(tmp_path / 'ref'), **SMALL)
    assert _read_masks(root) == _read_masks(ref)
    # no temporary folders left behind
    leftovers = [n for n in os.listdir(tmp_path) if '.tmp-' in n]
    assert leftovers == []


def test_dataset_class(tmp_path):
    root = str(tmp_path / 'ds')
    ds = SyntheticWSSSDataset(data_root=root, split='val', **SMALL)
    assert len(ds) == 6
    assert ds.metainfo['classes'] == SYNTHETIC_CLASSES
    assert len(ds.metainfo['palette']) == 5
    info = ds.get_data_info(0)
    assert info['img_labels'].shape == (4, )
    assert info['seg_map_path'].endswith('val_00000.png')
    pipeline = [
        dict(type='LoadWSSSImageFromFile'),
        dict(type='LoadWSSSAnnotations'),
        dict(type='PackWSSSInputs')
    ]
    ds = SyntheticWSSSDataset(
        data_root=root, split='train', pipeline=pipeline, **SMALL)
    out = ds[3]
    assert out['inputs'].shape == (3, 64, 80)
    assert out['data_samples'].gt_img_labels.shape == (4, )


def test_default_root_env(tmp_path, monkeypatch):
    monkeypatch.setenv('MMWSSS_CACHE', str(tmp_path / 'cache'))
    assert default_synthetic_root() == str(tmp_path / 'cache' / 'synthetic_v1')
    other = default_synthetic_root(dict(seed=1))
    assert osp.dirname(other) == str(tmp_path / 'cache')
    assert osp.basename(other).startswith('synthetic_v1_')
    ds = SyntheticWSSSDataset(split='test', **SMALL)
    assert ds.data_root == default_synthetic_root(SMALL)
    assert ds.data_root.startswith(str(tmp_path / 'cache'))
    monkeypatch.delenv('MMWSSS_CACHE')
    assert default_synthetic_root() == osp.expanduser(
        '~/.cache/mmwsss/synthetic_v1')


def test_make_synthetic_cli(tmp_path, monkeypatch):
    import importlib.util
    import sys
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    path = osp.join(repo, 'tools', 'dataset_converters', 'make_synthetic.py')
    spec = importlib.util.spec_from_file_location('_tool_make_syn', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'cli')
    monkeypatch.setattr(sys, 'argv', [
        'make_synthetic.py', out, '--num-train', '4', '--num-val', '2',
        '--num-test', '2', '--size', '48', '40'
    ])
    tool.main()
    assert osp.isfile(osp.join(out, COMPLETE_MARKER))
    img = cv2.imread(osp.join(out, 'images', 'test_00001.jpg'))
    assert img.shape == (48, 40, 3)
    assert json.load(open(osp.join(out, 'meta.json')))['size'] == [48, 40]
