"""The file-I/O module (mmwsss.utils.fileio): atomic writers, readers that
name the file, temp-file cleanup."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.utils.fileio import (DataFileError, MissingFileError,
                                 atomic_save_npz, atomic_save_png,
                                 clean_tmp_files, load_cam, read_label_png)
from mmwsss.utils.fileio import tmp_path as atomic_tmp_path


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


def test_missing_file_error_is_both_kinds(tmp_path):
    with pytest.raises(MissingFileError) as e:
        read_label_png(str(tmp_path / 'gone.png'), 'GT mask')
    assert isinstance(e.value, FileNotFoundError)
    assert isinstance(e.value, DataFileError) and isinstance(
        e.value, ValueError)
    assert e.value.path == str(tmp_path / 'gone.png')
    assert str(e.value) == f'GT mask not found: {tmp_path / "gone.png"}'


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    p = str(tmp_path / 'a.npz')
    atomic_save_npz(p, keys=np.array([0, 1]))

    class Boom(Exception):
        pass

    def broken(f, **arrays):
        f.write(b'PK\x03\x04 half a zip')
        raise Boom()

    real = np.savez
    np.savez = broken
    try:
        with pytest.raises(Boom):
            atomic_save_npz(p, keys=np.array([0, 2]))
    finally:
        np.savez = real
    assert load_cam(p, fields=('keys', ))['keys'].tolist() == [0, 1]
    assert os.listdir(tmp_path) == ['a.npz']
