"""Tests of the shared tool argument helpers (mmwsss.utils.cli)."""
import argparse
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.utils.cli import (add_dataset_args, add_map_output_args,
                              cfg_options, check_dataset_args, check_files,
                              load_dataset)


def _parser(with_config=True):
    p = argparse.ArgumentParser()
    if with_config:
        p.add_argument('config', nargs='?', default=None)
    add_dataset_args(p)
    add_map_output_args(p)
    return p


def _parse(argv):
    p = _parser()
    args = p.parse_args(argv)
    check_dataset_args(p, args)
    return args


def test_dataset_args_checks():
    args = _parse(['cfg.py', '--dataset', 'val', '--workers', '3'])
    assert (args.dataset, args.workers, args.batch_size) == ('val', 3, 1)
    with pytest.raises(SystemExit):  # neither CONFIG nor --data-root
        _parse([])
    with pytest.raises(SystemExit):  # --data-root without --split
        _parse(['--data-root', 'x'])
    with pytest.raises(SystemExit):  # --split without --data-root
        _parse(['cfg.py', '--split', 'train'])
    with pytest.raises(SystemExit):  # mutually exclusive sources
        _parse(['cfg.py', '--dataset', 'val', '--split-cfg', 'val_dataloader'])


def test_cfg_options_parsed_like_mmengine():
    assert cfg_options(None) is None
    opts = cfg_options(['a.b=3', 'c=[1,2]', 'd=x'])
    assert opts == {'a.b': 3, 'c': [1, 2], 'd': 'x'}


def test_check_files(tmp_path):
    f = tmp_path / 'a.py'
    f.write_text('x = 1\n')
    check_files(config=str(f), checkpoint=None)
    with pytest.raises(
            SystemExit, match=r'checkpoint file not found: .*b\.pth'):
        check_files(config=str(f), checkpoint=str(tmp_path / 'b.pth'))


def _folder_dataset(root):
    for d in ('images', 'splits'):
        (root / d).mkdir()
    names = ['im0', 'im1']
    for n in names:
        Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(
            root / 'images' / f'{n}.jpg')
    (root / 'splits' / 'train.txt').write_text('\n'.join(names) + '\n')
    (root / 'classes.txt').write_text('background\ncat\ndog\n')
    (root / 'labels.json').write_text(json.dumps({'im0': [1], 'im1': [2]}))
    return names


def test_load_dataset_folder_and_errors(tmp_path):
    names = _folder_dataset(tmp_path)
    args = _parse(['--data-root', str(tmp_path), '--split', 'train'])
    infos, cfg = load_dataset(args, need_labels=True)
    assert cfg is None
    assert [osp.splitext(osp.basename(i['img_path']))[0]
            for i in infos] == names
    # a split file that does not exist: one-line error naming it
    args = _parse(['--data-root', str(tmp_path), '--split', 'val'])
    with pytest.raises(SystemExit, match='val'):
        load_dataset(args)
    # a config key that does not exist: one-line error naming the key
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text('train_dataloader = dict(dataset=dict(type="X"))\n')
    args = _parse([str(cfg_file), '--split-cfg', 'cam_dataset'])
    with pytest.raises(SystemExit, match='cam_dataset'):
        load_dataset(args)
    args = _parse([str(cfg_file), '--cfg-options',
                   'train_dataloader.dataset.type=Y'])
    node, cfg = load_dataset(args)
    assert node['type'] == 'Y' and cfg.train_dataloader.dataset.type == 'Y'
