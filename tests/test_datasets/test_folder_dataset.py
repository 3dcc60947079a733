"""WSSSFolderDataset on generated fixtures, and its error messages."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from mmwsss.datasets import DataFileError, WSSSFolderDataset
from mmwsss.datasets.testing import make_folder_fixture
from mmwsss.datasets.utils import voc_palette

CAMVID = '/work/shared/data/camvid_things'


@pytest.fixture
def root(tmp_path):
    return make_folder_fixture(str(tmp_path / 'data'))


def _multihot(indices, k):
    v = np.zeros(k, np.float32)
    for c in indices:
        v[c - 1] = 1
    return v


def test_labels_match_json(root):
    ds = WSSSFolderDataset(root, split='train')
    labels = json.load(open(osp.join(root, 'labels.json')))
    ids = open(osp.join(root, 'splits', 'train.txt')).read().split()
    assert len(ds) == len(ids) == 6
    for i, img_id in enumerate(ids):
        info = ds.get_data_info(i)
        assert info['img_id'] == img_id
        assert info['img_labels'].dtype == np.float32
        assert np.array_equal(info['img_labels'], _multihot(labels[img_id], 3))
        assert osp.isfile(info['img_path'])
        assert info['seg_map_path'] == osp.join(root, 'masks', img_id + '.png')
        assert info['label_map'] is None
        assert info['reduce_zero_label'] is False
        assert info['seg_fields'] == []
    # images of both extensions are found
    exts = {
        osp.splitext(ds.get_data_info(i)['img_path'])[1]
        for i in range(len(ds))
    }
    assert exts == {'.jpg', '.png'}
    assert ds.get_img_labels().shape == (6, 3)


def test_metainfo_from_classes_txt(root):
    ds = WSSSFolderDataset(root, split='val', lazy_init=True)
    assert ds.metainfo['classes'] == ('background', 'class1', 'class2',
                                      'class3')
    assert ds.metainfo['palette'] == voc_palette(4)
    assert ds.metainfo['palette'][1] == [128, 0, 0]
    ds2 = WSSSFolderDataset(
        root, split='val', metainfo=dict(classes=('bg', 'a', 'b', 'c')))
    assert ds2.metainfo['classes'] == ('bg', 'a', 'b', 'c')
    with pytest.raises(DataFileError, match='classes.txt'):
        WSSSFolderDataset(root, split='val', metainfo=dict(classes=('a', )))


def test_mask_labels_equal_json(root):
    ds_json = WSSSFolderDataset(root, split='train')
    ds_mask = WSSSFolderDataset(root, split='train', label_source='mask')
    for i in range(len(ds_json)):
        assert np.array_equal(
            ds_json.get_data_info(i)['img_labels'],
            ds_mask.get_data_info(i)['img_labels'])


def test_without_masks(root):
    for name in os.listdir(osp.join(root, 'masks')):
        os.remove(osp.join(root, 'masks', name))
    ds = WSSSFolderDataset(root, split='train', with_masks=False)
    assert all(
        ds.get_data_info(i)['seg_map_path'] is None for i in range(len(ds)))
    ds = WSSSFolderDataset(
        root,
        split='train',
        with_masks=False,
        label_source='none',
        test_mode=True)
    assert 'img_labels' not in ds.get_data_info(0)


def test_registry_build(root):
    ds = DATASETS.build(
        dict(type='WSSSFolderDataset', data_root=root, split='val'))
    assert len(ds) == 3


def test_split_path(root, tmp_path):
    split = tmp_path / 'my.txt'
    split.write_text('train_0001\n\nval_0006\n')
    ds = WSSSFolderDataset(root, split=str(split))
    assert [ds.get_data_info(i)['img_id']
            for i in range(2)] == ['train_0001', 'val_0006']


# ----------------------------------------------------------- bad inputs
def test_missing_split_file(root):
    path = osp.join(root, 'splits', 'nosuch.txt')
    with pytest.raises(FileNotFoundError, match=path):
        WSSSFolderDataset(root, split='nosuch')


def test_empty_split(root):
    path = osp.join(root, 'splits', 'empty.txt')
    open(path, 'w').write('\n\n')
    with pytest.raises(DataFileError, match=path):
        WSSSFolderDataset(root, split='empty')


def test_duplicate_id_in_split(root):
    path = osp.join(root, 'splits', 'dup.txt')
    open(path, 'w').write('train_0000\ntrain_0000\n')
    with pytest.raises(DataFileError, match=path):
        WSSSFolderDataset(root, split='dup')


def test_id_without_image(root):
    path = osp.join(root, 'splits', 'train.txt')
    with open(path, 'a') as f:
        f.write('ghost\n')
    with pytest.raises(FileNotFoundError) as e:
        WSSSFolderDataset(root, split='train')
    assert path in str(e.value)
    assert osp.join(root, 'images', 'ghost') in str(e.value)


def test_missing_mask(root):
    path = osp.join(root, 'masks', 'train_0002.png')
    os.remove(path)
    with pytest.raises(FileNotFoundError, match=path):
        WSSSFolderDataset(root, split='train')
    # fine without masks
    WSSSFolderDataset(root, split='train', with_masks=False)
    # but mask-derived labels need the mask
    with pytest.raises(FileNotFoundError, match=path):
        WSSSFolderDataset(
            root, split='train', with_masks=False, label_source='mask')


def _edit_labels(root, fn):
    path = osp.join(root, 'labels.json')
    labels = json.load(open(path))
    fn(labels)
    json.dump(labels, open(path, 'w'))
    return path


def test_id_missing_from_labels(root):
    path = _edit_labels(root, lambda lab: lab.pop('train_0003'))
    with pytest.raises(DataFileError) as e:
        WSSSFolderDataset(root, split='train')
    assert path in str(e.value) and 'train_0003' in str(e.value)


@pytest.mark.parametrize('bad', [0, 4, -1, 1.5, 'car'])
def test_label_out_of_range(root, bad):
    path = _edit_labels(root, lambda lab: lab['train_0001'].append(bad))
    with pytest.raises(DataFileError) as e:
        WSSSFolderDataset(root, split='train')
    assert path in str(e.value) and 'train_0001' in str(e.value)
    assert '1..3' in str(e.value)


def test_labels_not_list(root):
    path = _edit_labels(root, lambda lab: lab.update(train_0001=2))
    with pytest.raises(DataFileError, match=path):
        WSSSFolderDataset(root, split='train')


def test_missing_labels_json(root):
    path = osp.join(root, 'labels.json')
    os.remove(path)
    with pytest.raises(FileNotFoundError, match=path):
        WSSSFolderDataset(root, split='train')
    WSSSFolderDataset(root, split='train', label_source='mask')


def test_invalid_labels_json(root):
    path = osp.join(root, 'labels.json')
    open(path, 'w').write('{"a": [1,')
    with pytest.raises(DataFileError, match=path):
        WSSSFolderDataset(root, split='train')


def test_missing_classes_txt(root):
    path = osp.join(root, 'classes.txt')
    os.remove(path)
    with pytest.raises(FileNotFoundError, match=path):
        WSSSFolderDataset(root, split='train')


def test_missing_root(tmp_path):
    path = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match=path):
        WSSSFolderDataset(path)


def test_bad_mask_values_when_deriving_labels(root):
    path = osp.join(root, 'masks', 'train_0000.png')
    m = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    m[5, 5] = 9
    cv2.imwrite(path, m)
    with pytest.raises(DataFileError) as e:
        WSSSFolderDataset(root, split='train', label_source='mask')
    assert path in str(e.value) and '[9]' in str(e.value)


def test_bad_label_source(root):
    with pytest.raises(ValueError, match='label_source'):
        WSSSFolderDataset(root, label_source='xml')


@pytest.mark.skipif(not osp.isdir(CAMVID), reason='shared data absent')
def test_camvid_things_optional():
    ds = WSSSFolderDataset(CAMVID, split='val', lazy_init=False)
    assert len(ds) == 404
    assert len(ds.metainfo['classes']) == 6
    assert ds.get_data_info(0)['img_labels'].shape == (5, )
