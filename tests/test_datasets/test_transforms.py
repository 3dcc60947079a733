"""PackWSSSInputs and the checking loaders."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.models.data_preprocessor import SegDataPreProcessor

from mmwsss.datasets import (DataFileError, LoadWSSSAnnotations,
                             LoadWSSSImageFromFile, PackWSSSInputs,
                             WSSSFolderDataset)
from mmwsss.datasets.testing import make_folder_fixture


def _results(h=6, w=8, labels=(1, 3), k=4, valid=True):
    rng = np.random.default_rng(0)
    vec = np.zeros(k, np.float32)
    for c in labels:
        vec[c - 1] = 1
    res = dict(
        img=rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
        gt_seg_map=rng.integers(0, k + 1, (h, w)).astype(np.uint8),
        img_labels=vec,
        img_id='abc',
        img_path='/x/abc.jpg',
        ori_shape=(h, w),
        img_shape=(h, w))
    if valid:
        v = np.ones((h, w), np.uint8)
        v[:, -2:] = 0
        res['valid'] = v
    return res


def test_pack_labels_and_valid():
    packed = PackWSSSInputs()(_results())
    ds = packed['data_samples']
    assert packed['inputs'].shape == (3, 6, 8)
    # multi-hot over foreground classes: channel c = mask class c + 1
    expected = torch.tensor([1.0, 0.0, 1.0, 0.0])
    assert isinstance(ds.gt_img_labels, torch.Tensor)
    assert ds.gt_img_labels.dtype == torch.float32
    assert torch.equal(ds.gt_img_labels, expected)
    assert 'gt_img_labels' in ds.keys()  # a data field, not metainfo
    assert ds.metainfo['img_id'] == 'abc'
    assert isinstance(ds.gt_valid, PixelData)
    assert ds.gt_valid.data.shape == (1, 6, 8)
    assert ds.gt_valid.data.dtype == torch.uint8
    assert ds.gt_valid.data[0, :, -2:].sum() == 0
    assert ds.gt_sem_seg.data.shape == (1, 6, 8)
    # .to() moves data fields (this is what the preprocessor does)
    assert ds.to(torch.float64).gt_img_labels.dtype == torch.float64


def test_pack_without_labels():
    res = _results(valid=False)
    del res['img_labels']
    ds = PackWSSSInputs()(res)['data_samples']
    assert 'gt_img_labels' not in ds
    assert 'gt_valid' not in ds


def test_labels_survive_preprocessor():
    pre = SegDataPreProcessor(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=(6, 8),
        pad_val=0,
        seg_pad_val=255)
    packs = [
        PackWSSSInputs()(_results(labels=(1, 3))),
        PackWSSSInputs()(_results(labels=(2, ))),
    ]
    batch = dict(
        inputs=[p['inputs'] for p in packs],
        data_samples=[p['data_samples'] for p in packs])
    out = pre(batch, training=True)
    assert out['inputs'].shape == (2, 3, 6, 8)
    samples = out['data_samples']
    assert isinstance(samples[0].gt_img_labels, torch.Tensor)
    assert samples[0].gt_img_labels.device == out['inputs'].device
    assert torch.equal(samples[0].gt_img_labels, torch.tensor([1., 0, 1, 0]))
    assert torch.equal(samples[1].gt_img_labels, torch.tensor([0., 1, 0, 0]))
    labels = torch.stack([s.gt_img_labels for s in samples])
    assert labels.shape == (2, 4)


@pytest.fixture
def folder(tmp_path):
    return make_folder_fixture(str(tmp_path / 'data'))


def test_full_pipeline(folder):
    pipeline = [
        dict(type='LoadWSSSImageFromFile'),
        dict(type='LoadWSSSAnnotations'),
        dict(type='PackWSSSInputs')
    ]
    ds = WSSSFolderDataset(folder, split='train', pipeline=pipeline)
    import json
    labels = json.load(open(osp.join(folder, 'labels.json')))
    for i in range(len(ds)):
        out = ds[i]
        sample = out['data_samples']
        vec = torch.zeros(3)
        for c in labels[sample.metainfo['img_id']]:
            vec[c - 1] = 1
        assert torch.equal(sample.gt_img_labels, vec)
        seg = sample.gt_sem_seg.data
        present = set(seg.unique().tolist()) - {0, 255}
        assert present == set(labels[sample.metainfo['img_id']])
        assert out['inputs'].shape[1:] == seg.shape[1:]


def test_corrupt_image_named(tmp_path):
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'this is not a jpeg')
    with pytest.raises(DataFileError, match=str(bad)):
        LoadWSSSImageFromFile()(dict(img_path=str(bad)))
    for backend in ('pillow', 'cv2'):
        with pytest.raises(DataFileError, match=str(bad)):
            LoadWSSSImageFromFile(imdecode_backend=backend)(
                dict(img_path=str(bad)))
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(DataFileError, match=str(empty)):
        LoadWSSSImageFromFile()(dict(img_path=str(empty)))
    missing = tmp_path / 'missing.jpg'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        LoadWSSSImageFromFile()(dict(img_path=str(missing)))
    assert LoadWSSSImageFromFile(ignore_empty=True)(
        dict(img_path=str(bad))) is None


def _ann_results(path, k=3, shape=None):
    res = dict(
        seg_map_path=str(path),
        reduce_zero_label=False,
        seg_fields=[],
        img_labels=np.zeros(k, np.float32),
        img_path='img.jpg')
    if shape is not None:
        res['ori_shape'] = shape
    return res


def test_mask_loader_checks(tmp_path):
    good = tmp_path / 'good.png'
    m = np.zeros((5, 7), np.uint8)
    m[1, 1], m[2, 2] = 3, 255
    cv2.imwrite(str(good), m)
    out = LoadWSSSAnnotations()(_ann_results(good, shape=(5, 7)))
    assert np.array_equal(out['gt_seg_map'], m)
    assert out['seg_fields'] == ['gt_seg_map']

    badval = tmp_path / 'badval.png'
    m2 = m.copy()
    m2[0, 0], m2[0, 1] = 4, 17
    cv2.imwrite(str(badval), m2)
    with pytest.raises(DataFileError) as e:
        LoadWSSSAnnotations()(_ann_results(badval))
    assert str(badval) in str(e.value) and '[4, 17]' in str(e.value)
    # explicit K overrides img_labels; check can be switched off
    LoadWSSSAnnotations(num_classes=20)(_ann_results(badval))
    LoadWSSSAnnotations(check_values=False)(_ann_results(badval))

    with pytest.raises(DataFileError, match=str(good)):
        LoadWSSSAnnotations()(_ann_results(good, shape=(6, 7)))

    corrupt = tmp_path / 'corrupt.png'
    corrupt.write_bytes(b'\x89PNG garbage')
    with pytest.raises(DataFileError, match=str(corrupt)):
        LoadWSSSAnnotations()(_ann_results(corrupt))
    colour = tmp_path / 'colour.png'
    cv2.imwrite(str(colour), np.zeros((4, 4, 3), np.uint8) + 7)
    with pytest.raises(DataFileError, match=str(colour)):
        LoadWSSSAnnotations()(_ann_results(colour))
    missing = tmp_path / 'nope.png'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        LoadWSSSAnnotations()(_ann_results(missing))
    res = _ann_results(good)
    res['seg_map_path'] = None
    with pytest.raises(DataFileError, match='with_masks=False'):
        LoadWSSSAnnotations()(res)


def test_random_rescale_own_size_and_nearest_masks():
    from mmwsss.datasets.transforms import RandomRescale
    rng = np.random.RandomState(0)
    img = rng.randint(0, 255, (30, 50, 3)).astype(np.uint8)
    mask = np.tile(np.arange(50, dtype=np.uint8), (30, 1))
    t = RandomRescale(ratio_range=(0.7, 1.3))
    np.random.seed(3)
    s = np.random.uniform(0.7, 1.3)
    np.random.seed(3)
    out = t(dict(img=img.copy(), gt_seg_map=mask.copy(),
                 seg_fields=['gt_seg_map']))
    h, w = int(30 * s), int(50 * s)
    assert out['img'].shape == (h, w, 3) and out['img_shape'] == (h, w)
    np.testing.assert_array_equal(
        out['img'], cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR))
    # nearest: only values of the original mask
    assert set(np.unique(out['gt_seg_map'])) <= set(range(50))
    np.testing.assert_array_equal(
        out['gt_seg_map'],
        cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST))
    with pytest.raises(ValueError, match='ratio_range'):
        RandomRescale(ratio_range=(1.3, 0.7))
