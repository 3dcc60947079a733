"""Pseudo-label APIs: affinity-label rule, thresholding, PNG round trip,
idempotent / resumable export that survives kill -9 without partial files.
"""
import io
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import mmcv
import numpy as np
import pytest
from _pl_toys import make_pl_fixture

from mmwsss.apis import (export_pseudo_labels, make_affinity_label,
                         make_affinity_labels, make_pseudo_label,
                         maps_to_label, take_class_maps)
from mmwsss.utils.fileio import (DataFileError, atomic_save_png, load_cam,
                                 read_label_png)
from mmwsss.utils.fileio import tmp_path as atomic_tmp_path
from mmwsss.utils.fileio import voc_palette

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _IdentityCRF:
    """Stands in for the label-CRF so the affinity rule is checked alone."""
    params = dict(unary='label')

    def refine_compact(self, image, labels, n_labels):
        return np.asarray(labels)


def test_maps_to_label_ties_go_to_background():
    maps = np.array([[[0.2, 0.5, 0.9, 0.1]], [[0.1, 0.5, 0.95, 0.3]]],
                    np.float32)
    keys = [0, 4, 9]
    # bg 0.5: [bg (0.5 > .2), bg (tie at .5), 9 (.95), bg (.5 > .3)]
    np.testing.assert_array_equal(
        maps_to_label(maps, keys, 0.5), [[0, 0, 9, 0]])
    np.testing.assert_array_equal(
        maps_to_label(maps, keys, 0.25, compact=True), [[0, 1, 2, 2]])


def test_pseudo_label_ignore_margin_hand_worked():
    # scores [bg 0.3, A, B] per pixel and their top-1 - top-2 gaps:
    # .6 -> A; .05 (A .40 / B .35) -> 255; .02 (A .32 / bg .30) -> 255;
    # .15 (A .60 / B .45) -> A; .2 (bg .3 / A .1) -> bg; .5 -> B
    maps = np.array([[[0.9, 0.40, 0.32, 0.60, 0.1, 0.1]],
                     [[0.1, 0.35, 0.10, 0.45, 0.05, 0.8]]], np.float32)
    keys = [0, 3, 7]
    np.testing.assert_array_equal(
        make_pseudo_label(maps, keys, 0.3, ignore_margin=0.1),
        [[3, 255, 255, 3, 0, 7]])
    np.testing.assert_array_equal(
        make_pseudo_label(maps, keys, 0.3), [[3, 3, 3, 3, 0, 7]])
    # the mask is taken from the maps, after the CRF: an identity CRF
    # changes nothing; no present class -> nothing uncertain
    np.testing.assert_array_equal(
        make_pseudo_label(
            maps,
            keys,
            0.3,
            image=np.zeros((1, 6, 3), np.uint8),
            crf=_IdentityCRF(),
            ignore_margin=0.1), [[3, 255, 255, 3, 0, 7]])
    np.testing.assert_array_equal(
        make_pseudo_label(maps[:0], [0], 0.3, ignore_margin=0.5),
        [[0, 0, 0, 0, 0, 0]])


def test_take_class_maps_hand_worked():
    maps = np.array([[[0.1, 0.2]], [[0.3, 0.4]], [[0.5, 0.6]]], np.float32)
    src = np.array([[[0.9, 0.8]], [[0.7, 0.6]], [[0.0, 1.0]]], np.float32)
    keys = [0, 2, 5, 7]
    # class 5 (row 1) and 7 (row 2) from src; 9 is not in keys
    np.testing.assert_array_equal(
        take_class_maps(maps, keys, src, keys, [5, 7, 9]),
        np.array([[[0.1, 0.2]], [[0.7, 0.6]], [[0.0, 1.0]]], np.float32))
    # nothing taken: the maps unchanged (a copy)
    out = take_class_maps(maps, keys, src, keys, [])
    np.testing.assert_array_equal(out, maps)
    assert out is not maps
    with pytest.raises(ValueError, match='classes'):
        take_class_maps(maps, keys, src, [0, 2, 5, 8], [5])
    with pytest.raises(ValueError, match='shape'):
        take_class_maps(maps, keys, src[:, :, :1], keys, [5])


def test_affinity_label_rule_hand_worked():
    # one class (key 3), fg_th .4, bg_th .1 (IRN affinity-label rule):
    # cam   .05  .2   .5  .9   -> fg_map 0 0 1 1 ; bg_map 0 1 1 1
    # aff    0  255   3   3
    hr = np.array([[[0.05, 0.2, 0.5, 0.9]]], np.float32)
    img = np.zeros((1, 4, 3), np.uint8)
    aff = make_affinity_label(img, hr, [0, 3], 0.40, 0.10, _IdentityCRF())
    np.testing.assert_array_equal(aff, [[0, 255, 3, 3]])
    # two classes: the fg decision keeps its class even where bg disagrees
    hr = np.array([[[0.05, 0.3, 0.45, 0.2]], [[0.02, 0.1, 0.5, 0.6]]],
                  np.float32)
    aff = make_affinity_label(img, hr, [0, 2, 5], 0.40, 0.10, _IdentityCRF())
    np.testing.assert_array_equal(aff, [[0, 255, 5, 5]])
    assert aff.dtype == np.uint8


def test_png_round_trip_preserves_labels(tmp_path):
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 21, (37, 53)).astype(np.uint8)
    lab[:3] = 255
    for pal, mode in ((voc_palette(256), 'P'), (None, 'L')):
        path = str(tmp_path / f'{mode}.png')
        atomic_save_png(path, lab, pal)
        np.testing.assert_array_equal(read_label_png(path), lab)
        with open(path, 'rb') as f:
            data = f.read()
        # what mmseg's LoadAnnotations decodes
        dec = mmcv.imfrombytes(data, flag='unchanged', backend='pillow')
        np.testing.assert_array_equal(dec, lab)
        from PIL import Image
        assert Image.open(io.BytesIO(data)).mode == mode


def test_atomic_save_json_replaces_whole_or_nothing(tmp_path):
    import json

    from mmwsss.utils.fileio import atomic_save_json
    path = str(tmp_path / 'sub' / 'report.json')
    atomic_save_json(path, {'mIoU': 0.5, 'per_class': [1, 2]})
    with open(path) as f:
        assert json.load(f) == {'mIoU': 0.5, 'per_class': [1, 2]}
    # a failing dump (NaN with allow_nan=False) keeps the old file intact
    # and leaves no temp file behind
    with pytest.raises(ValueError):
        atomic_save_json(path, {'mIoU': float('nan')}, allow_nan=False)
    with open(path) as f:
        assert json.load(f)['mIoU'] == 0.5
    assert os.listdir(osp.dirname(path)) == ['report.json']


@pytest.fixture(scope='module')
def fixture(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('pl')
    root, cams = str(tmp / 'data'), str(tmp / 'cams')
    ids = make_pl_fixture(root, cams)
    return (tmp, root, cams, ids, *folder(root))


def folder(root, split='train'):
    """The dataset config of a folder split and its data infos."""
    from mmseg.registry import DATASETS
    cfg = dict(type='WSSSFolderDataset', data_root=root, split=split)
    ds = DATASETS.build(cfg)
    return cfg, [ds.get_data_info(i) for i in range(len(ds))]


def test_affinity_labels_dataset(fixture):
    tmp, root, cams, ids, ds, infos = fixture
    out = str(tmp / 'aff')
    stats = make_affinity_labels(ds, cams, out, workers=2, progress=False)
    assert stats == dict(total=6, written=6, skipped=0, tmp_removed=0)
    for info in infos:
        aff = read_label_png(osp.join(out, info['img_id'] + '.png'))
        keys = load_cam(osp.join(cams, info['img_id'] + '.npz'))['keys']
        assert set(np.unique(aff).tolist()) <= set(keys.tolist()) | {255}
        gt = read_label_png(info['seg_map_path'])
        known = (aff != 255) & (gt != 255)
        # the blurred fake CAMs are well aligned: confident pixels agree
        assert (aff[known] == gt[known]).mean() > 0.9


def test_export_idempotent_and_stale_tmp(fixture):
    tmp, root, cams, ids, ds, infos = fixture
    out = str(tmp / 'pl')
    kw = dict(
        bg_th=0.3, field='hr_cam', crf='label', crf_iters=1, progress=False)
    s1 = export_pseudo_labels(ds, cams, out, workers=2, **kw)
    assert s1['written'] == 6 and s1['skipped'] == 0
    snap = {}
    for f in sorted(os.listdir(out)):
        with open(osp.join(out, f), 'rb') as fh:
            snap[f] = (fh.read(), os.stat(osp.join(out, f)).st_mtime_ns)
    # a stale temp file of a killed run (half-written PNG)
    stale = atomic_tmp_path(osp.join(out, ids['train'][0] + '.png'))
    with open(stale, 'wb') as f:
        f.write(b'\x89PNG\r\n')
    s2 = export_pseudo_labels(ds, cams, out, workers=2, **kw)
    assert s2 == dict(total=6, written=0, skipped=6, tmp_removed=1)
    assert sorted(os.listdir(out)) == sorted(snap)
    for f, (data, mtime) in snap.items():
        with open(osp.join(out, f), 'rb') as fh:
            assert fh.read() == data
        assert os.stat(osp.join(out, f)).st_mtime_ns == mtime  # untouched
    # recomputing gives the same bytes (deterministic)
    s3 = export_pseudo_labels(ds, cams, out, overwrite=True, **kw)
    assert s3['written'] == 6
    for f, (data, _) in snap.items():
        with open(osp.join(out, f), 'rb') as fh:
            assert fh.read() == data
    lab = read_label_png(osp.join(out, ids['train'][0] + '.png'))
    assert lab.shape == (48, 64) and 255 not in lab


def test_export_errors_name_the_file(fixture, tmp_path):
    _, root, cams, ids, ds, infos = fixture
    bad_dir = str(tmp_path / 'maps')
    os.makedirs(bad_dir)
    with pytest.raises(DataFileError, match=ids['train'][0]):
        export_pseudo_labels(
            ds, bad_dir, str(tmp_path / 'o'), 0.3, progress=False)
    # a map file of the wrong size
    for info in infos:
        arr = load_cam(osp.join(cams, info['img_id'] + '.npz'))
        np.savez(
            osp.join(bad_dir, info['img_id'] + '.npz'),
            keys=arr['keys'],
            hr_cam=arr['hr_cam'][:, :20])
    with pytest.raises(DataFileError, match='size'):
        export_pseudo_labels(
            ds, bad_dir, str(tmp_path / 'o'), 0.3, crf='label', progress=False)
    # the size is checked before a PNG is written
    out = str(tmp_path / 'o')
    assert not osp.isdir(out) or not [
        f for f in os.listdir(out) if f.endswith('.png')
    ]


def test_export_cam_classes(fixture, tmp_path):
    """Random-walk files whose maps are all 0: without ``cam_classes`` every
    pixel is background; with class c taken from the CAM files a pixel is c
    exactly where its CAM beats the background threshold (no CRF)."""
    _, root, cams, ids, ds, infos = fixture
    rw_dir = str(tmp_path / 'rw')
    os.makedirs(rw_dir)
    for info in infos:
        arr = load_cam(osp.join(cams, info['img_id'] + '.npz'))
        np.savez(
            osp.join(rw_dir, info['img_id'] + '.npz'),
            keys=arr['keys'],
            rw=np.zeros_like(arr['hr_cam']))
    kw = dict(bg_th=0.3, field='rw', progress=False)
    export_pseudo_labels(ds, rw_dir, str(tmp_path / 'plain'), **kw)
    c = int(load_cam(osp.join(cams, ids['train'][0] + '.npz'))['keys'][1])
    export_pseudo_labels(
        ds,
        rw_dir,
        str(tmp_path / 'mixed'),
        cam_dir=cams,
        cam_classes=[c],
        workers=2,
        **kw)
    hits = 0
    for info in infos:
        i = info['img_id']
        plain = read_label_png(str(tmp_path / 'plain' / (i + '.png')))
        assert not plain.any()
        arr = load_cam(osp.join(cams, i + '.npz'))
        keys = arr['keys'].tolist()
        want = np.zeros(plain.shape, np.uint8)
        if c in keys:
            want[arr['hr_cam'][keys.index(c) - 1] > 0.3] = c
        got = read_label_png(str(tmp_path / 'mixed' / (i + '.png')))
        np.testing.assert_array_equal(got, want)
        hits += int((got == c).sum())
    assert hits > 0
    # errors: classes without a folder; a missing CAM file named
    with pytest.raises(ValueError, match='cam_dir'):
        export_pseudo_labels(
            ds, rw_dir, str(tmp_path / 'o'), cam_classes=[c], **kw)
    with pytest.raises(DataFileError, match=ids['train'][0]):
        export_pseudo_labels(
            ds,
            rw_dir,
            str(tmp_path / 'o'),
            cam_dir=str(tmp_path / 'plain'),
            cam_classes=[c],
            **kw)


def test_export_survives_kill9_and_resumes(tmp_path):
    """Kill the export tool (and its worker pool) with SIGKILL mid-run:
    every PNG on disk is complete, the rerun finishes the rest, the result
    equals an uninterrupted run."""
    root, cams = str(tmp_path / 'data'), str(tmp_path / 'cams')
    n = 40
    make_pl_fixture(root, cams, splits={'train': n}, size=(180, 240))
    ds, _ = folder(root)
    ref = str(tmp_path / 'ref')
    kw = dict(bg_th=0.3, field='hr_cam', crf='label', crf_iters=10)
    export_pseudo_labels(ds, cams, ref, progress=False, **kw)

    out = str(tmp_path / 'out')
    cmd = [
        sys.executable, 'tools/pseudo_labels/export_pseudo_labels.py',
        '--data-root', root, '--split', 'train', '--map-dir', cams,
        '--out-dir', out, '--field', 'hr_cam', '--bg-th', '0.3', '--crf',
        'label', '--crf-iters', '10', '--workers', '2'
    ]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            done = [f for f in os.listdir(out)
                    if f.endswith('.png') and '.tmp' not in f] \
                if osp.isdir(out) else []
            if len(done) >= 3 or proc.poll() is not None:
                break
            time.sleep(0.02)
    finally:
        # kill -9 the tool and its pool workers (its own process group)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    pngs = sorted(
        f for f in os.listdir(out) if f.endswith('.png') and '.tmp' not in f)
    assert 0 < len(pngs) < n, 'the run was not interrupted mid-way'
    for f in pngs:  # no partial final file
        np.testing.assert_array_equal(
            read_label_png(osp.join(out, f)), read_label_png(osp.join(ref, f)))
    res = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f'{n - len(pngs)} written, {len(pngs)} already done' in res.stdout
    files = sorted(os.listdir(out))
    assert files == sorted(os.listdir(ref))  # no temp file left
    for f in files:
        np.testing.assert_array_equal(
            read_label_png(osp.join(out, f)), read_label_png(osp.join(ref, f)))
