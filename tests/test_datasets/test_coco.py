"""tools/dataset_converters/coco2014.py and COCOWSSSDataset."""
import importlib.util
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from mmwsss.datasets import (COCO_CLASSES, COCOWSSSDataset, DataFileError,
                             WSSSFolderDataset)
from mmwsss.datasets.testing import make_coco_fixture, make_folder_fixture

pytest.importorskip('pycocotools')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
H, W = 20, 30


def _load_tool():
    path = osp.join(REPO, 'tools', 'dataset_converters', 'coco2014.py')
    spec = importlib.util.spec_from_file_location('_tool_coco2014', path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # workers pickle functions by module name
    spec.loader.exec_module(mod)
    return mod


def _expected(overlap='later', crowd='ignore'):
    """Hand-computed masks of make_coco_fixture (see its docstring)."""
    m1 = np.zeros((H, W), np.uint8)
    if crowd == 'ignore':
        m1[15:20, 0:30] = 255
    if overlap == 'later':  # car (id 11, value 2), then person (id 12)
        m1[2:10, 3:13] = 2
        m1[6:14, 8:20] = 1
    else:  # smaller on top: person (area 96) first, then car (area 80)
        m1[6:14, 8:20] = 1
        m1[2:10, 3:13] = 2
    m2 = np.zeros((H, W), np.uint8)
    m2[0:5, 0:4] = 3  # toothbrush (category 90 -> 3), uncompressed RLE
    m2[10:20, 20:30] = 1  # person, compressed RLE
    m3 = np.zeros((H, W), np.uint8)
    return {
        'COCO_val2014_000000000001': m1,
        'COCO_val2014_000000000002': m2,
        'COCO_val2014_000000000003': m3,
    }


def _run(tool, monkeypatch, *args):
    monkeypatch.setattr(sys, 'argv', ['coco2014.py', *args])
    tool.main()


@pytest.mark.parametrize('overlap,workers', [('later', 1), ('smaller', 2)])
def test_converter_masks(tmp_path, monkeypatch, overlap, workers):
    coco = str(tmp_path / 'coco')
    out = str(tmp_path / 'out')
    make_coco_fixture(coco)
    tool = _load_tool()
    _run(tool, monkeypatch, coco, out, '--splits', 'val', '--overlap', overlap,
         '--workers', str(workers))
    expected = _expected(overlap)
    for stem, exp in expected.items():
        got = cv2.imread(
            osp.join(out, 'masks', stem + '.png'), cv2.IMREAD_UNCHANGED)
        assert got.dtype == np.uint8
        assert np.array_equal(got, exp), stem
        img = osp.join(out, 'images', stem + '.jpg')
        assert osp.islink(img) and cv2.imread(img).shape == (H, W, 3)
    classes = open(osp.join(out, 'classes.txt')).read().splitlines()
    assert classes == ['background', 'person', 'car', 'toothbrush']
    labels = json.load(open(osp.join(out, 'labels.json')))
    assert labels == {
        'COCO_val2014_000000000001': [1, 2],
        'COCO_val2014_000000000002': [1, 3],
        'COCO_val2014_000000000003': [],
    }
    assert open(osp.join(out, 'splits',
                         'val.txt')).read().split() == list(expected)
    assert not [
        n for n in os.listdir(osp.join(out, 'masks')) if n.startswith('.')
    ]
    # readable by the generic folder dataset, masks agree with labels
    ds = WSSSFolderDataset(out, split='val', label_source='mask')
    by_json = WSSSFolderDataset(out, split='val')
    for i in range(len(ds)):
        assert np.array_equal(
            ds.get_data_info(i)['img_labels'],
            by_json.get_data_info(i)['img_labels'])


def test_converter_options_and_resume(tmp_path, monkeypatch):
    coco = str(tmp_path / 'coco')
    out = str(tmp_path / 'out')
    make_coco_fixture(coco)
    tool = _load_tool()
    _run(tool, monkeypatch, coco, out, '--splits', 'val', '--crowd',
         'background', '--image-mode', 'copy', '--label-source', 'annotations')
    stem = 'COCO_val2014_000000000001'
    got = cv2.imread(osp.join(out, 'masks', stem + '.png'), 0)
    assert np.array_equal(got, _expected(crowd='background')[stem])
    assert not osp.islink(osp.join(out, 'images', stem + '.jpg'))
    # resume: an existing mask is kept (not re-rasterised)
    path = osp.join(out, 'masks', stem + '.png')
    edited = got.copy()
    edited[0, 0] = 3
    cv2.imwrite(path, edited)
    _run(tool, monkeypatch, coco, out, '--splits', 'val')
    assert np.array_equal(cv2.imread(path, 0), edited)
    labels = json.load(open(osp.join(out, 'labels.json')))
    assert labels[stem] == [1, 2, 3]  # from the (edited) mask
    _run(tool, monkeypatch, coco, out, '--splits', 'val', '--overwrite',
         '--crowd', 'class')
    m = cv2.imread(path, 0)
    assert (m[15:20] == 3).all()  # crowd painted as its class


def test_rasterise_max_policy():
    tool = _load_tool()
    anns = [
        dict(
            id=2,
            category_id=5,
            iscrowd=0,
            area=4,
            segmentation=[[0, 0, 4, 0, 4, 4, 0, 4]]),
        dict(
            id=1,
            category_id=9,
            iscrowd=0,
            area=4,
            segmentation=[[2, 2, 6, 2, 6, 6, 2, 6]]),
    ]
    m = tool.rasterise(anns, 8, 8, {5: 1, 9: 2}, overlap='max')
    assert (m[2:4, 2:4] == 2).all() and (m[0:2, 0:2] == 1).all()
    m = tool.rasterise(anns, 8, 8, {5: 1, 9: 2}, overlap='later')
    assert (m[2:4, 2:4] == 1).all()  # annotation id 2 is painted last


def test_coco_dataset_metainfo(tmp_path):
    root = make_folder_fixture(
        str(tmp_path / 'c'), splits={'train': 2}, num_classes=80)
    open(osp.join(root, 'classes.txt'), 'w').write('\n'.join(COCO_CLASSES))
    ds = COCOWSSSDataset(root, split='train')
    assert len(COCO_CLASSES) == 81
    assert ds.metainfo['classes'] == COCO_CLASSES
    assert len(ds.metainfo['palette']) == 81
    assert ds.get_data_info(0)['img_labels'].shape == (80, )
    small = make_folder_fixture(str(tmp_path / 's'), splits={'train': 2})
    with pytest.raises(
            DataFileError, match=osp.join(small, 'classes.txt')):
        COCOWSSSDataset(small, split='train')
