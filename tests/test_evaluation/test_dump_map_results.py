"""DumpMapResults: the files of every kind, the manifest check and the
guard against writing an image twice."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image

from mmwsss.evaluation import DumpMapResults
from mmwsss.utils.fileio import DataFileError, load_cam, read_label_png

MANIFEST = dict(
    kind='cam',
    checkpoint='/c/a.pth',
    checkpoint_sha256='aa',
    config_sha256='11',
    options=dict(flip=True))


def sample(img_id, k=2, h=5, w=6):
    ds = SegDataSample(metainfo=dict(img_id=img_id, img_path=f'{img_id}.jpg'))
    g = torch.Generator().manual_seed(len(img_id) + k)
    ds.pred_cam = PixelData(data=torch.rand(k, h, w, generator=g))
    ds.pred_cam_s4 = PixelData(data=torch.rand(k, 2, 2, generator=g))
    ds.pred_rw = PixelData(data=torch.rand(k, h, w, generator=g))
    ds.cam_keys = torch.arange(k + 1) * 2
    ds.pred_sem_seg = PixelData(data=torch.tensor([[[0, 2, 255]]]))
    return ds


def test_cam_files_manifest_and_counts(tmp_path):
    out = str(tmp_path / 'cams')
    w = DumpMapResults(out, manifest=MANIFEST, map_dtype='float16')
    assert not osp.exists(out)  # nothing before the first file
    samples = [sample('a'), sample('b', k=0)]
    w.process({}, [s.to_dict() for s in samples])
    assert json.load(open(osp.join(out, 'manifest.json'))) == MANIFEST
    a = load_cam(osp.join(out, 'a.npz'))
    assert a['keys'].tolist() == [0, 2, 4] and a['keys'].dtype == np.int64
    assert a['hr_cam'].dtype == np.float16 and a['cam'].dtype == np.float32
    np.testing.assert_array_equal(
        a['hr_cam'], samples[0].pred_cam.data.numpy().astype(np.float16))
    np.testing.assert_array_equal(a['cam'], samples[0].pred_cam_s4.data)
    assert load_cam(osp.join(out, 'b.npz'))['hr_cam'].shape == (0, 5, 6)
    assert w.compute_metrics(w.results) == dict(written=2, no_class=1)
    # a second write of an image is an error, not a silent replace
    with pytest.raises(DataFileError, match='a.npz exists already'):
        w.process({}, [sample('a').to_dict()])
    assert sorted(os.listdir(out)) == ['a.npz', 'b.npz', 'manifest.json']


def test_manifest_mismatch_refused_at_construction(tmp_path):
    out = str(tmp_path / 'cams')
    DumpMapResults(out, manifest=MANIFEST).process({}, [sample('a').to_dict()])
    DumpMapResults(out, manifest=dict(MANIFEST, checkpoint='/c/b.pth'))
    for key, value in (('checkpoint_sha256', 'bb'), ('config_sha256', '22'),
                       ('kind', 'seed')):
        other = dict(MANIFEST, **{key: value})
        with pytest.raises(DataFileError) as e:
            DumpMapResults(out, manifest=other)
        assert f'{out} holds the cam export' in str(e.value)
        assert '--overwrite' in str(e.value) and '--out-dir' in str(e.value)
    other = dict(MANIFEST, checkpoint_sha256='bb')
    w = DumpMapResults(out, manifest=other, overwrite=True)
    w.process({}, [sample('a').to_dict()])
    assert json.load(open(osp.join(out, 'manifest.json'))) == other


def test_rw_and_png_kinds(tmp_path):
    s = sample('c')
    DumpMapResults(str(tmp_path), kind='rw').process({}, [s.to_dict()])
    rw = load_cam(osp.join(tmp_path, 'c.npz'), fields=('keys', 'rw'))
    np.testing.assert_array_equal(rw['rw'], s.pred_rw.data)
    DumpMapResults(str(tmp_path / 'p'), kind='png').process({}, [s.to_dict()])
    png = osp.join(tmp_path, 'p', 'c.png')
    assert Image.open(png).mode == 'P'
    assert read_label_png(png).tolist() == [[0, 2, 255]]
    DumpMapResults(
        str(tmp_path / 'l'), kind='png', palette=None).process({},
                                                               [s.to_dict()])
    assert Image.open(osp.join(tmp_path, 'l', 'c.png')).mode == 'L'
    for kwargs in (dict(kind='x'), dict(map_dtype='int8'),
                   dict(palette='cityscapes')):
        with pytest.raises(ValueError):
            DumpMapResults(str(tmp_path), **kwargs)
