"""Tests of infer_dataset_cams (batching, resume, atomic writes) and io."""
import os
import os.path as osp

import numpy as np
import pytest
from _cam_toys import PoolConvCAM
from PIL import Image

from mmwsss.apis import (DataFileError, atomic_save_npz, atomic_save_png,
                         clean_tmp_files, infer_dataset_cams, load_cam,
                         read_label_png, multiscale_cam, pending_ids,
                         read_folder_split, select_and_normalise)
from mmwsss.apis import tmp_path as atomic_tmp_path

K = 3


def make_images(folder, sizes, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    infos = []
    for i, (h, w) in enumerate(sizes):
        img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        ext = '.png' if i % 2 else '.jpg'
        path = osp.join(folder, f'img_{i:03d}{ext}')
        Image.fromarray(img).save(path, quality=95)
        y = np.zeros(K, np.float32)
        y[rng.choice(K, size=1 + i % K, replace=False)] = 1
        infos.append(dict(img_path=path, img_labels=y))
    return infos


SIZES = [(24, 32), (20, 28), (24, 32), (24, 32), (17, 23)]


def test_infer_writes_contract_files_batched(tmp_path):
    infos = make_images(str(tmp_path / 'img'), SIZES)
    model = PoolConvCAM(num_classes=K, stride=8).eval()
    out = str(tmp_path / 'cams')
    stats = infer_dataset_cams(
        model, infos, out, batch_size=2, workers=0, progress=False)
    assert stats == dict(total=5, written=5, skipped=0, tmp_removed=0)
    for info in infos:
        img_id = osp.splitext(osp.basename(info['img_path']))[0]
        d = load_cam(osp.join(out, img_id + '.npz'))
        assert d['keys'].dtype == np.int64
        assert d['keys'].tolist(
        ) == [0] + [k + 1 for k in np.flatnonzero(info['img_labels'])]
        h, w = Image.open(info['img_path']).size[::-1]
        assert d['hr_cam'].shape == (len(d['keys']) - 1, h, w)
        assert d['cam'].shape == (len(d['keys']) - 1, -(-h // 4), -(-w // 4))
        assert d['hr_cam'].dtype == d['cam'].dtype == np.float32
        # single-image multiscale_cam gives the same maps
        img = np.asarray(Image.open(info['img_path']).convert('RGB'))
        c4, hr, _ = multiscale_cam(model, img)
        ref = select_and_normalise(c4[0], hr[0], info['img_labels'])
        np.testing.assert_allclose(
            d['hr_cam'], ref['hr_cam'].numpy(), rtol=1e-5, atol=1e-6)


def test_resume_and_tmp_cleanup(tmp_path):
    infos = make_images(str(tmp_path / 'img'), SIZES)
    model = PoolConvCAM(num_classes=K).eval()
    out = tmp_path / 'cams'
    out.mkdir()
    stale = out / 'img_000.4242.tmp.npz'
    stale.write_bytes(b'partial garbage')
    stats = infer_dataset_cams(model, infos, str(out), progress=False)
    assert stats['written'] == 5 and stats['tmp_removed'] == 1
    assert not stale.exists()
    mtimes = {p: os.stat(out / p).st_mtime_ns for p in os.listdir(out)}
    assert len(mtimes) == 5
    stats = infer_dataset_cams(model, infos, str(out), progress=False)
    assert stats['written'] == 0 and stats['skipped'] == 5
    assert {p: os.stat(out / p).st_mtime_ns for p in os.listdir(out)} == mtimes
    # a removed file is redone, the others are not touched
    os.remove(out / 'img_002.npz')
    stats = infer_dataset_cams(
        model, infos, str(out), workers=1, batch_size=3, progress=False)
    assert stats['written'] == 1 and stats['skipped'] == 4
    assert pending_ids(['img_000', 'img_002', 'img_009', 'img_009'],
                       str(out)) == ['img_009']


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    infos = make_images(str(tmp_path / 'img'), SIZES[:2])
    model = PoolConvCAM(num_classes=K).eval()
    out = tmp_path / 'cams'
    real = np.savez

    def broken(f, **arrays):
        f.write(b'PK\x03\x04 half a zip')
        raise OSError('disk full (simulated)')

    monkeypatch.setattr(np, 'savez', broken)
    with pytest.raises(OSError, match='disk full'):
        infer_dataset_cams(model, infos, str(out), progress=False)
    assert os.listdir(out) == []
    monkeypatch.setattr(np, 'savez', real)
    assert infer_dataset_cams(
        model, infos, str(out), progress=False)['written'] == 2


def test_pred_labels_and_fp16(tmp_path):
    infos = make_images(str(tmp_path / 'img'), SIZES[:2])
    for info in infos:
        del info['img_labels']
    model = PoolConvCAM(num_classes=K).eval()
    with pytest.raises(ValueError, match='img_000'):
        infer_dataset_cams(model, infos, str(tmp_path / 'a'), progress=False)
    out = str(tmp_path / 'b')
    infer_dataset_cams(
        model,
        infos,
        out,
        use_gt_labels=False,
        conf_th=0.0,
        hr_dtype='float16',
        progress=False)
    d = load_cam(osp.join(out, 'img_000.npz'))
    assert d['hr_cam'].dtype == np.float16
    assert d['keys'].tolist() == [0, 1, 2, 3]  # conf_th 0: all present
    out = str(tmp_path / 'c')
    infer_dataset_cams(
        model, infos, out, use_gt_labels=False, conf_th=1.0, progress=False)
    assert load_cam(osp.join(out, 'img_001.npz'))['keys'].tolist() == [0]


def test_bad_images_name_the_file(tmp_path):
    infos = make_images(str(tmp_path / 'img'), SIZES[:2])
    model = PoolConvCAM(num_classes=K).eval()
    missing = [
        dict(infos[0]),
        dict(
            img_path=str(tmp_path / 'nope.jpg'),
            img_labels=infos[1]['img_labels'])
    ]
    with pytest.raises(DataFileError, match='nope.jpg'):
        infer_dataset_cams(model, missing, str(tmp_path / 'a'), progress=False)
    corrupt = tmp_path / 'img' / 'broken.jpg'
    corrupt.write_bytes(b'not a jpeg at all')
    bad = [dict(img_path=str(corrupt), img_labels=infos[0]['img_labels'])]
    for bs, workers in ((1, 0), (2, 0), (1, 1)):
        with pytest.raises(DataFileError, match='broken.jpg'):
            infer_dataset_cams(
                model,
                bad,
                str(tmp_path / 'b'),
                batch_size=bs,
                workers=workers,
                progress=False)
    wrong_k = [dict(infos[0], img_labels=np.ones(K + 2, np.float32))]
    with pytest.raises(ValueError, match='img_000'):
        infer_dataset_cams(model, wrong_k, str(tmp_path / 'c'), progress=False)


# ---------------------------------------------------------------- io
def test_atomic_png_and_label_roundtrip(tmp_path):
    lab = np.array([[0, 1, 2], [255, 3, 0]], dtype=np.uint8)
    p = str(tmp_path / 'sub' / 'x.png')
    atomic_save_png(
        p, lab, palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]])
    assert Image.open(p).mode == 'P'
    np.testing.assert_array_equal(read_label_png(p), lab)
    atomic_save_png(p, lab)
    assert Image.open(p).mode == 'L'
    np.testing.assert_array_equal(read_label_png(p), lab)
    assert os.listdir(tmp_path / 'sub') == ['x.png']
    Image.new('RGB', (3, 2)).save(tmp_path / 'rgb.png')
    with pytest.raises(DataFileError, match='rgb.png'):
        read_label_png(str(tmp_path / 'rgb.png'))
    with pytest.raises(DataFileError, match='missing.png'):
        read_label_png(str(tmp_path / 'missing.png'), 'GT mask')


def test_load_cam_errors_name_the_file(tmp_path):
    good = dict(
        keys=np.array([0, 2]),
        cam=np.ones((1, 2, 2), np.float32),
        hr_cam=np.ones((1, 5, 6), np.float32))
    p = str(tmp_path / 'a.npz')
    atomic_save_npz(p, **good)
    assert load_cam(p)['hr_cam'].shape == (1, 5, 6)
    assert set(load_cam(p, fields=('keys', ))) == {'keys'}
    with pytest.raises(DataFileError, match='b.npz'):
        load_cam(str(tmp_path / 'b.npz'))
    (tmp_path / 'c.npz').write_bytes(b'garbage')
    with pytest.raises(DataFileError, match='c.npz'):
        load_cam(str(tmp_path / 'c.npz'))
    atomic_save_npz(str(tmp_path / 'd.npz'), keys=good['keys'])
    with pytest.raises(DataFileError, match='d.npz.*hr_cam'):
        load_cam(str(tmp_path / 'd.npz'))
    atomic_save_npz(
        str(tmp_path / 'e.npz'),
        keys=np.array([0, 1, 2]),
        cam=good['cam'],
        hr_cam=good['hr_cam'])
    with pytest.raises(DataFileError, match='e.npz'):
        load_cam(str(tmp_path / 'e.npz'))
    nan = dict(good, hr_cam=np.full((1, 5, 6), np.nan, np.float32))
    atomic_save_npz(str(tmp_path / 'f.npz'), **nan)
    with pytest.raises(DataFileError, match='f.npz.*NaN'):
        load_cam(str(tmp_path / 'f.npz'))
    # truncated file (as a crash during a non-atomic write would leave)
    data = open(p, 'rb').read()
    (tmp_path / 'g.npz').write_bytes(data[:len(data) // 2])
    with pytest.raises(DataFileError, match='g.npz'):
        load_cam(str(tmp_path / 'g.npz'))


def test_tmp_naming_and_cleanup(tmp_path):
    p = str(tmp_path / 'x.npz')
    tp = atomic_tmp_path(p)
    assert tp.endswith('.tmp.npz') and osp.dirname(tp) == str(tmp_path)
    open(tp, 'wb').close()
    open(str(tmp_path / 'keep.npz'), 'wb').close()
    assert clean_tmp_files(str(tmp_path)) == 1
    assert os.listdir(tmp_path) == ['keep.npz']


def test_read_folder_split(tmp_path):
    root = tmp_path / 'ds'
    (root / 'images').mkdir(parents=True)
    (root / 'splits').mkdir()
    (root / 'classes.txt').write_text('background\na\nb\n')
    (root / 'splits' / 'train.txt').write_text('x1\nx2\n')
    (root / 'labels.json').write_text('{"x1": [2], "x2": [1, 2]}')
    for i in ('x1', 'x2'):
        Image.new('RGB', (4, 3)).save(root / 'images' / f'{i}.jpg')
    infos, classes = read_folder_split(str(root), 'train')
    assert classes == ['background', 'a', 'b']
    assert infos[1]['img_labels'].tolist() == [1.0, 1.0]
    assert infos[0]['img_labels'].tolist() == [0.0, 1.0]
    assert infos[0]['seg_map_path'].endswith(osp.join('masks', 'x1.png'))
    with pytest.raises(DataFileError, match='val.txt'):
        read_folder_split(str(root), 'val')
    (root / 'splits' / 'bad.txt').write_text('x3\n')
    with pytest.raises(DataFileError, match='x3'):
        read_folder_split(str(root), 'bad')
