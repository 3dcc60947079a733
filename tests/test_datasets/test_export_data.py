"""PendingOutputsDataset (what an export still has to write) and
LoadMapFile + PackWSSSInputs (saved maps into the data samples)."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmseg.registry import DATASETS

from mmwsss.datasets import LoadMapFile, PackWSSSInputs, PendingOutputsDataset
from mmwsss.datasets.testing import make_folder_fixture
from mmwsss.utils.fileio import (DataFileError, MissingFileError,
                                 atomic_save_npz, atomic_save_png)
from mmwsss.utils.fileio import tmp_path as atomic_tmp_path


@pytest.fixture
def folder(tmp_path):
    root = str(tmp_path / 'data')
    make_folder_fixture(root, {'train': 5}, num_classes=3, size=(9, 14))
    return root


def ds_cfg(root, split='train'):
    return dict(type='WSSSFolderDataset', data_root=root, split=split)


class Repeated:
    """A dataset listing an image twice (ids from the file names)."""
    metainfo = dict(classes=('background', 'a'))
    infos = [dict(img_path=p) for p in ('x/a.jpg', 'x/b.png', 'y/a.jpg')]

    def get_data_info(self, i):
        return dict(self.infos[i])

    def __len__(self):
        return len(self.infos)


def test_pending_skips_done_dedupes_and_cleans(folder, tmp_path):
    out = str(tmp_path / 'out')
    os.makedirs(out)
    for i in (1, 3):
        open(osp.join(out, f'train_000{i}.npz'), 'wb').close()
    stale = atomic_tmp_path(osp.join(out, 'train_0002.npz'))
    open(stale, 'wb').close()
    ds = PendingOutputsDataset(ds_cfg(folder), out, '.npz')
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))
            ] == ['train_0000', 'train_0002', 'train_0004']
    assert ds.stats == dict(total=5, pending=3, done=2, tmp_removed=1)
    assert not osp.exists(stale)
    assert ds[1]['img_id'] == 'train_0002'
    assert ds.metainfo['classes'][0] == 'background'
    assert len(
        PendingOutputsDataset(ds_cfg(folder), out, '.npz',
                              overwrite=True)) == 5
    dup = PendingOutputsDataset(Repeated(), str(tmp_path / 'o2'))
    assert [dup.get_data_info(i)['img_path'] for i in range(len(dup))] == [
        'x/a.jpg', 'x/b.png'
    ]
    assert dup.stats['total'] == 2
    # the built dataset of a config, through the registry
    built = DATASETS.build(
        dict(
            type='PendingOutputsDataset', dataset=ds_cfg(folder), out_dir=out))
    assert len(built) == 3


def test_pending_inputs_are_checked_before_the_run(folder, tmp_path):
    maps = tmp_path / 'cams'
    maps.mkdir()
    (maps / 'train_0000.npz').write_bytes(b'')
    with pytest.raises(DataFileError) as e:
        PendingOutputsDataset(
            ds_cfg(folder),
            str(tmp_path / 'rw'),
            inputs=dict(map_dir=str(maps), producer='the CAM export'))
    msg = str(e.value)
    assert msg.startswith(f'4 input files not found in {maps}')
    assert 'train_0001.npz' in msg and 'the CAM export' in msg
    # several input folders: each is checked; the error names the folder
    # that lacks files (here the second: 5 of 5 missing, the first complete)
    for i in range(5):
        (maps / f'train_{i:04d}.npz').write_bytes(b'')
    seeds = tmp_path / 'seeds'
    seeds.mkdir()
    both = [
        dict(map_dir=str(maps), producer='the CAM export'),
        dict(map_dir=str(seeds), suffix='.npy', producer='the seeds')
    ]
    with pytest.raises(DataFileError) as e:
        PendingOutputsDataset(
            ds_cfg(folder), str(tmp_path / 'rw'), inputs=both)
    msg = str(e.value)
    assert msg.startswith(f'5 input files not found in {seeds}')
    assert 'train_0000.npy' in msg and 'the seeds' in msg
    for i in range(5):
        (seeds / f'train_{i:04d}.npy').write_bytes(b'')
    assert len(
        PendingOutputsDataset(
            ds_cfg(folder), str(tmp_path / 'rw'), inputs=both)) == 5


def _results(folder, img_id, shape=(9, 14)):
    return dict(
        img_id=img_id,
        img_path=osp.join(folder, img_id + '.png'),
        ori_shape=shape)


def test_load_map_file_and_pack(folder, tmp_path):
    maps = str(tmp_path / 'maps')
    keys = np.array([0, 2, 3])
    hr = np.random.default_rng(0).random((2, 9, 14)).astype(np.float16)
    cam = np.ones((2, 3, 4), np.float32)
    atomic_save_npz(osp.join(maps, 'a.npz'), keys=keys, cam=cam, hr_cam=hr)
    res = LoadMapFile(maps)(_results(folder, 'a'))
    assert res['pred_cam'].dtype == np.float32
    np.testing.assert_array_equal(res['pred_cam'], hr.astype(np.float32))
    assert res['cam_keys'].tolist() == [0, 2, 3]
    both = LoadMapFile(
        maps, fields={
            'cam': 'pred_cam_s4',
            'keys': 'cam_keys'
        })(
            _results(folder, 'a'))
    packed = PackWSSSInputs()(dict(both, img=np.zeros((9, 14, 3), np.uint8)))
    ds = packed['data_samples']
    assert torch.equal(ds.pred_cam_s4.data, torch.from_numpy(cam))
    assert ds.cam_keys.tolist() == [0, 2, 3]
    # the file of another image (size) or a missing file: named errors
    with pytest.raises(DataFileError, match=r'a.npz.*hr_cam.*\(9, 15\)'):
        LoadMapFile(maps)(_results(folder, 'a', (9, 15)))
    with pytest.raises(DataFileError, match=r'"cam" has size'):
        LoadMapFile(maps, fields={'cam': 'x'})(_results(folder, 'a', (20, 14)))
    with pytest.raises(MissingFileError, match='b.npz'):
        LoadMapFile(maps)(_results(folder, 'b'))
    # label PNGs
    lab = np.array([[0, 1, 255], [3, 3, 0]], np.uint8)
    atomic_save_png(osp.join(maps, 'p.png'), lab)
    res = LoadMapFile(
        maps, suffix='.png', num_classes=4)(
            _results(folder, 'p', (2, 3)))
    packed = PackWSSSInputs()(dict(res, img=np.zeros((2, 3, 3), np.uint8)))
    assert packed['data_samples'].pred_sem_seg.data[0].tolist() == \
        lab.tolist()
    with pytest.raises(DataFileError, match='values'):
        LoadMapFile(
            maps, suffix='.png', num_classes=3)(
                _results(folder, 'p', (2, 3)))
    with pytest.raises(ValueError, match='suffix'):
        LoadMapFile(maps, suffix='.jpg')
