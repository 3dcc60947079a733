"""Tests of the shared tool helpers (tools/cli_helpers.py)."""
import argparse
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from tools.cli_helpers import (ROOT, add_dataset_args, cfg_options,
                               check_dataset_args, check_files, error_message,
                               export_config, export_parser, images_dataset)


def _parser(with_config=True):
    p = argparse.ArgumentParser()
    if with_config:
        p.add_argument('config', nargs='?', default=None)
    add_dataset_args(p)
    p.add_argument('--workers', type=int, default=2)
    return p


def _parse(argv):
    p = _parser()
    args = p.parse_args(argv)
    check_dataset_args(p, args)
    return args


def test_dataset_args_checks():
    args = _parse(['cfg.py', '--dataset', 'val', '--workers', '3'])
    assert (args.dataset, args.workers) == ('val', 3)
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
            SystemExit,
            match=r'checkpoint file not found, .*b\.pth: check the path'):
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


def test_images_dataset_folder_and_config(tmp_path):
    from mmseg.registry import DATASETS
    names = _folder_dataset(tmp_path)
    args = _parse(['--data-root', str(tmp_path), '--split', 'train'])
    ds = DATASETS.build(images_dataset(args, label_source='json'))
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == names
    assert ds.get_data_info(1)['img_labels'].tolist() == [0.0, 1.0]
    # a config key that does not exist: one-line error naming the key
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text('train_dataloader = dict(dataset=dict(type="X", '
                        'pipeline=[1]))\n')
    args = _parse([str(cfg_file), '--split-cfg', 'cam_dataset'])
    with pytest.raises(KeyError, match='cam_dataset') as e:
        images_dataset(args)
    assert '\n' not in error_message(e.value) and 'cam_dataset' in \
        error_message(e.value)
    args = _parse([
        str(cfg_file), '--cfg-options', 'train_dataloader.dataset.type=Y'
    ])
    assert images_dataset(args) == dict(type='Y', pipeline=[])


def test_export_config_merges_snippet_arguments_and_options(tmp_path):
    cam_cfg = osp.join(ROOT, 'configs', 'cam',
                       'cam_effnet-lite0_1xb16-600it_synthetic-112x112.py')
    p = export_parser('doc')
    args = p.parse_args([
        cam_cfg, 'ck.pth', '--out-dir', 'o', '--dataset', 'val',
        '--cfg-options', 'export.model.flip=False'
    ])
    cfg = export_config(args, 'cams', out_dir='o', batch_size=4)
    assert cfg.export.kind == 'cam' and cfg.export.split == 'val'
    assert (cfg.export.out_dir, cfg.export.batch_size) == ('o', 4)
    assert cfg.export.model.flip is False  # --cfg-options win
    assert cfg.export.model.scales == [0.5, 1.0, 1.5, 2.0]  # snippet
    assert cfg.model.type == 'CAMClassifier'  # wrapped only at run time


def test_run_test_loads_the_checkpoint_of_a_plain_config(monkeypatch,
                                                         tmp_path):
    """A non-export config gets the checkpoint as ``load_from`` (a caller
    that passes only ``checkpoint`` must not test untrained weights); an
    explicit ``load_from`` is kept."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from tools.cli_helpers import run_test
    seen = []

    class _Fake:

        def test(self):
            return {}

    def fake_from_cfg(cfg):
        seen.append(cfg.load_from)
        return _Fake()

    monkeypatch.setattr(Runner, 'from_cfg', staticmethod(fake_from_cfg))
    cfg = Config(dict(load_from=None, model=dict(type='X')))
    run_test(cfg, 'a.pth', work_dir=str(tmp_path))
    cfg = Config(dict(load_from='b.pth', model=dict(type='X')))
    run_test(cfg, 'a.pth', work_dir=str(tmp_path))
    assert seen == ['a.pth', 'b.pth']
