"""VOC XML labels, VOCAugWSSSDataset and the voc_aug.py converter."""
import importlib.util
import json
import os
import os.path as osp
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from mmwsss.datasets import (VOC_CLASSES, DataFileError, VOCAugWSSSDataset,
                             load_cls_label_file, parse_voc_xml)
from mmwsss.datasets.testing import make_voc_fixture

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

XML = """<annotation>
  <size><width>500</width><height>375</height><depth>3</depth></size>
  <object><name>person</name><difficult>1</difficult>
    <bndbox><xmin>10</xmin><ymin>20</ymin><xmax>100</xmax><ymax>200</ymax>
    </bndbox></object>
  <object><name>dog</name><difficult>0</difficult>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>50</xmax><ymax>60</ymax>
    </bndbox></object>
  <object><name>cat</name><difficult>0</difficult>
    <bndbox><xmin>30</xmin><ymin>40</ymin><xmax>30</xmax><ymax>90</ymax>
    </bndbox></object>
  <object><name>sheep</name>
    <bndbox><xmin>600</xmin><ymin>10</ymin><xmax>700</xmax><ymax>90</ymax>
    </bndbox></object>
  <object><name>bird</name>
    <bndbox><xmin>10.7</xmin><ymin>5.2</ymin><xmax>11.9</xmax><ymax>8</ymax>
    </bndbox></object>
  <object><name>cow</name>
    <bndbox><xmin>10.2</xmin><ymin>5</ymin><xmax>10.9</xmax><ymax>8</ymax>
    </bndbox></object>
</annotation>
"""


def _idx(name):
    return VOC_CLASSES.index(name)


def test_parse_voc_xml(tmp_path):
    path = tmp_path / 'a.xml'
    path.write_text(XML)
    # person (difficult) kept, dog kept, cat zero width skipped, sheep
    # clipped to x=499..499 skipped, bird 10..11 kept, cow 10..10 skipped
    expected = sorted([_idx('person'), _idx('dog'), _idx('bird')])
    assert expected == [3, 12, 15]
    assert parse_voc_xml(str(path)) == expected
    assert parse_voc_xml(str(path), keep_difficult=False) == [3, 12]


def test_parse_voc_xml_errors(tmp_path):
    path = tmp_path / 'bad.xml'
    path.write_text(XML.replace('<name>dog</name>', '<name>dragon</name>'))
    with pytest.raises(DataFileError) as e:
        parse_voc_xml(str(path))
    assert str(path) in str(e.value) and 'dragon' in str(e.value)
    broken = tmp_path / 'broken.xml'
    broken.write_text('<annotation><object>')
    with pytest.raises(DataFileError, match=str(broken)):
        parse_voc_xml(str(broken))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'no.xml')):
        parse_voc_xml(str(tmp_path / 'no.xml'))


@pytest.fixture
def voc(tmp_path):
    return make_voc_fixture(str(tmp_path / 'VOC2012'))


def _labels(ds):
    return {
        ds.get_data_info(i)['img_id']: ds.get_data_info(i)['img_labels']
        for i in range(len(ds))
    }


def test_fixture_layout(voc):
    seg = osp.join(voc, 'ImageSets', 'Segmentation')
    train_aug = open(osp.join(seg, 'train_aug.txt')).read().split()
    train = open(osp.join(seg, 'train.txt')).read().split()
    val = open(osp.join(seg, 'val.txt')).read().split()
    assert len(train_aug) == 6 and len(val) == 2 and set(train) <= set(
        train_aug)
    with Image.open(osp.join(voc, 'SegmentationClass',
                             train[0] + '.png')) as im:
        assert im.mode == 'P'
    xml = open(osp.join(voc, 'Annotations', train_aug[1] + '.xml')).read()
    assert '<difficult>1</difficult>' in xml


@pytest.mark.parametrize('split', ['train_aug', 'train', 'val'])
def test_label_sources_agree(voc, split):
    cls = json.load(open(osp.join(voc, 'cls_labels.json')))
    by_xml = _labels(VOCAugWSSSDataset(voc, split=split))
    by_file = _labels(
        VOCAugWSSSDataset(voc, split=split, label_source='cls_file'))
    by_mask = _labels(VOCAugWSSSDataset(voc, split=split, label_source='mask'))
    assert by_xml.keys() == by_file.keys() == by_mask.keys()
    for img_id, vec in by_xml.items():
        expected = np.zeros(20, np.float32)
        expected[np.asarray(cls[img_id]) - 1] = 1
        assert vec.dtype == np.float32 and vec.shape == (20, )
        assert np.array_equal(vec, expected)
        assert np.array_equal(by_file[img_id], expected)
        assert np.array_equal(by_mask[img_id], expected)


def test_mask_dir_and_metainfo(voc):
    ds = VOCAugWSSSDataset(voc, split='train_aug')
    assert '/SegmentationClassAug/' in ds.get_data_info(0)['seg_map_path']
    ds = VOCAugWSSSDataset(voc, split='val')
    assert '/SegmentationClass/' in ds.get_data_info(0)['seg_map_path']
    assert ds.metainfo['classes'] == VOC_CLASSES
    assert ds.metainfo['palette'][15] == [192, 128, 128]  # person
    ds = VOCAugWSSSDataset(voc, split='train_aug', with_masks=False)
    assert ds.get_data_info(0)['seg_map_path'] is None
    ds = VOCAugWSSSDataset(
        voc, split='val', with_masks=False, label_source='none')
    assert 'img_labels' not in ds.get_data_info(0)


def test_cls_labels_npy(voc, tmp_path):
    cls = json.load(open(osp.join(voc, 'cls_labels.json')))
    npy = {}
    for k, v in cls.items():
        vec = np.zeros(20, np.float32)
        vec[np.asarray(v) - 1] = 1
        npy[k] = vec
    path = str(tmp_path / 'cls_labels.npy')
    np.save(path, npy)
    loaded = load_cls_label_file(path)
    assert all(np.array_equal(loaded[k], npy[k]) for k in npy)
    ds = VOCAugWSSSDataset(
        voc, split='train', label_source='cls_file', cls_label_file=path)
    for img_id, vec in _labels(ds).items():
        assert np.array_equal(vec, npy[img_id])
    # .npy found automatically when no json exists
    os.remove(osp.join(voc, 'cls_labels.json'))
    np.save(osp.join(voc, 'cls_labels.npy'), npy)
    VOCAugWSSSDataset(voc, split='train', label_source='cls_file')
    bad = dict(npy)
    bad[next(iter(bad))] = np.zeros(19)
    np.save(path, bad)
    with pytest.raises(DataFileError, match=path):
        load_cls_label_file(path)


def test_voc_errors(voc):
    cls_file = osp.join(voc, 'cls_labels.json')
    cls = json.load(open(cls_file))
    train = open(osp.join(voc, 'ImageSets/Segmentation/train.txt')).read()
    first = train.split()[0]
    cls.pop(first)
    json.dump(cls, open(cls_file, 'w'))
    with pytest.raises(DataFileError) as e:
        VOCAugWSSSDataset(voc, split='train', label_source='cls_file')
    assert cls_file in str(e.value) and first in str(e.value)
    mask = osp.join(voc, 'SegmentationClass', first + '.png')
    os.remove(mask)
    with pytest.raises(FileNotFoundError, match=mask):
        VOCAugWSSSDataset(voc, split='train')
    xml = osp.join(voc, 'Annotations', first + '.xml')
    os.remove(xml)
    with pytest.raises(FileNotFoundError, match=xml):
        VOCAugWSSSDataset(voc, split='train', with_masks=False)
    img = osp.join(voc, 'JPEGImages', first + '.jpg')
    os.remove(img)
    with pytest.raises(FileNotFoundError, match=img):
        VOCAugWSSSDataset(voc, split='train', with_masks=False)
    split = osp.join(voc, 'ImageSets/Segmentation/test.txt')
    with pytest.raises(FileNotFoundError, match=split):
        VOCAugWSSSDataset(voc, split='test')


def test_palette_mask_pipeline(voc):
    pipeline = [
        dict(type='LoadWSSSImageFromFile'),
        dict(type='LoadWSSSAnnotations'),
        dict(type='PackWSSSInputs')
    ]
    ds = VOCAugWSSSDataset(voc, split='train', pipeline=pipeline)
    cls = json.load(open(osp.join(voc, 'cls_labels.json')))
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        values = set(sample.gt_sem_seg.data.unique().tolist())
        assert values - {0, 255} == set(cls[sample.metainfo['img_id']])
        assert 255 in values  # VOC-style boundary band
        assert sample.gt_img_labels.sum() == len(
            cls[sample.metainfo['img_id']])


def _load_tool(name):
    path = osp.join(REPO, 'tools', 'dataset_converters', name + '.py')
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # workers pickle functions by module name
    spec.loader.exec_module(mod)
    return mod


def test_voc_aug_converter(voc, tmp_path, monkeypatch):
    scipy_io = pytest.importorskip('scipy.io')
    tool = _load_tool('voc_aug')
    seg = osp.join(voc, 'ImageSets', 'Segmentation')
    voc_train = open(osp.join(seg, 'train.txt')).read().split()
    voc_val = open(osp.join(seg, 'val.txt')).read().split()
    expected_cls = json.load(open(osp.join(voc, 'cls_labels.json')))
    os.remove(osp.join(voc, 'cls_labels.json'))
    os.remove(osp.join(seg, 'train_aug.txt'))
    shutil.rmtree(osp.join(voc, 'SegmentationClassAug'))
    # fake SBD: two new ids, one VOC train id (VOC GT must win) and one
    # VOC val id (must not enter train_aug)
    sbd = tmp_path / 'sbd'
    (sbd / 'cls').mkdir(parents=True)
    new_ids = ['2008_900001', '2008_900002']
    sbd_masks = {}
    for k, i in enumerate(new_ids + [voc_train[0]]):
        m = np.zeros((64, 80), np.uint8)
        m[10:20, 5:15 + k] = 7 + k
        sbd_masks[i] = m
        scipy_io.savemat(
            str(sbd / 'cls' / f'{i}.mat'), {'GTcls': {
                'Segmentation': m
            }})
    (sbd / 'train.txt').write_text('\n'.join(new_ids[:1] + voc_val) + '\n')
    (sbd / 'val.txt').write_text('\n'.join(new_ids[1:] + voc_train[:1]) + '\n')
    monkeypatch.setattr(sys, 'argv',
                        ['voc_aug.py', voc, '--sbd-root',
                         str(sbd)])
    tool.main()
    assert json.load(open(osp.join(voc, 'cls_labels.json'))) == expected_cls
    train_aug = open(osp.join(seg, 'train_aug.txt')).read().split()
    assert train_aug == sorted(set(voc_train) | set(new_ids))
    assert not set(train_aug) & set(voc_val)
    aug = osp.join(voc, 'SegmentationClassAug')
    for i in new_ids:
        got = np.asarray(Image.open(osp.join(aug, i + '.png')))
        assert np.array_equal(got, sbd_masks[i])
    voc_gt = np.asarray(
        Image.open(osp.join(voc, 'SegmentationClass', voc_train[0] + '.png')))
    got = np.asarray(Image.open(osp.join(aug, voc_train[0] + '.png')))
    assert np.array_equal(got, voc_gt)
    n_voc = len(os.listdir(osp.join(voc, 'SegmentationClass')))
    assert len(os.listdir(aug)) == n_voc + len(new_ids)
    # resumable: a second run skips existing masks
    assert tool.convert_masks(voc, str(sbd)) == 0
    assert tool.convert_masks(voc, str(sbd), overwrite=True) > 0
