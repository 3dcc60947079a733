"""The pseudo-label stage end to end with the real tools and configs on a
tiny generated set (pretrained weights off): affinity labels ->
boundary network (tools/train.py, 1 iteration) -> random walk ->
RW sweep evaluation -> pseudo-label PNGs -> PNG evaluation ->
segmentation stage (tools/train.py, 1 iteration + val) -> the --tta test
(multi-scale x flip, logit sum, softmax-CRF). The pseudo-label tools run
in-process through their main(argv) (start-up time)."""
import argparse
import importlib.util
import json
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
from _pl_toys import make_pl_fixture
from repo_commands import ROOT, run_repo

from mmwsss.utils.fileio import load_cam, read_label_png

BOUNDARY_CFG = osp.join(
    ROOT, 'configs', 'boundary',
    'boundary_effnet-lite0_1xb16-600it_camvid-things-176x176.py')
SEG_CFG = osp.join(
    ROOT, 'configs', 'seg',
    'deeplabv3plus_effnet-lite0_1xb16-800it_camvid-things-pseudo-'
    '176x176.py')


def _run(args, timeout=300):
    return run_repo([sys.executable] + args, timeout=timeout, threads=2)


def _tool(path, argv, capsys):
    """Run a tool's main(argv) in this process; returns its stdout."""
    name = '_tool_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    capsys.readouterr()
    assert mod.main(argv) == 0
    return capsys.readouterr().out


def _loader_opts(root, loaders=('train', 'val', 'test')):
    opts = ['model.backbone.init_cfg=None']
    for name in loaders:
        opts += [
            f'{name}_dataloader.dataset.data_root={root}',
            f'{name}_dataloader.num_workers=0',
            f'{name}_dataloader.persistent_workers=False',
        ]
    return opts


def test_pipeline_tools(tmp_path, capsys):
    root, cams = str(tmp_path / 'data'), str(tmp_path / 'cams')
    ids = make_pl_fixture(root, cams)['train']
    aff, rw, pl = (str(tmp_path / d) for d in ('aff', 'rw', 'pl'))
    data = ['--data-root', root, '--split', 'train']

    out = _tool('tools/pseudo_labels/make_affinity_labels.py',
                [*data, '--cam-dir', cams, '--out-dir', aff, '--workers', '2'],
                capsys)
    assert '6 written' in out
    assert set(np.unique(read_label_png(osp.join(aff, ids[0] + '.png')))) \
        <= set(range(6)) | {255}

    # boundary network: 1 iteration on the affinity labels (crop 96: the
    # stride-4 map 24x24 holds the radius-10 window)
    wd_b = str(tmp_path / 'wd_boundary')
    out = _run([
        'tools/train.py', BOUNDARY_CFG, '--work-dir', wd_b, '--cfg-options',
        *_loader_opts(root,
                      ('train', )), f'train_dataloader.dataset.mask_dir={aff}',
        'train_dataloader.batch_size=2', 'train_cfg.max_iters=1',
        'param_scheduler.0.end=2', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1',
        'train_dataloader.dataset.pipeline.4.crop_size=(96,96)',
        'model.data_preprocessor.size=(96,96)'
    ])
    assert re.search(r'Iter\(train\) \[1/1\].*loss_aff: \d', out), \
        out[-3000:]
    ckpt = osp.join(wd_b, 'iter_1.pth')
    assert osp.isfile(ckpt)

    _tool('tools/pseudo_labels/random_walk.py', [
        BOUNDARY_CFG, ckpt, *data, '--cam-dir', cams, '--out-dir', rw,
        '--batch-size', '4', '--workers', '0', '--cfg-options',
        'model.backbone.init_cfg=None'
    ], capsys)
    assert sorted(os.listdir(rw)) == sorted([i + '.npz' for i in ids] +
                                            ['manifest.json'])
    m = load_cam(osp.join(rw, ids[0] + '.npz'), fields=('keys', 'rw'))
    assert m['rw'].shape[1:] == (48, 64)
    assert float(m['rw'].max()) == pytest.approx(1.0)

    report = str(tmp_path / 'rw_eval.json')
    _tool('tools/cam/eval_cams.py', [
        *data, '--cam-dir', rw, '--field', 'rw', '--thr-start', '0.05',
        '--thr-end', '0.45', '--workers', '0', '--out', report
    ], capsys)
    with open(report) as f:
        assert len(json.load(f)['thresholds']) == 9

    out = _tool('tools/pseudo_labels/export_pseudo_labels.py',
                [*data, '--map-dir', rw, '--out-dir', pl, '--workers', '2'],
                capsys)
    assert '6 written' in out
    report = str(tmp_path / 'pl_eval.json')
    _tool('tools/cam/eval_cams.py',
          [*data, '--png-dir', pl, '--workers', '0', '--out', report], capsys)
    with open(report) as f:
        summary = json.load(f)
    assert summary['mode'] == 'png' and 0 < summary['mIoU'] <= 1

    # segmentation stage: one iteration on the exported PNGs + val loop
    wd_s = str(tmp_path / 'wd_seg')
    seg_opts = _loader_opts(root) + [
        f'train_dataloader.dataset.mask_dir={pl}',
        'train_dataloader.batch_size=2',
        'train_dataloader.dataset.pipeline.3.crop_size=(48,48)',
        'model.data_preprocessor.size=(48,48)', 'train_cfg.max_iters=1',
        'train_cfg.val_interval=1', 'param_scheduler.0.end=2',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1'
    ]
    out = _run([
        'tools/train.py', SEG_CFG, '--work-dir', wd_s, '--cfg-options',
        *seg_opts
    ])
    assert re.search(r'Iter\(train\) \[1/1\].*loss_ce: \d', out), \
        out[-3000:]
    assert re.search(r'Iter\(val\).*mIoU: \d', out), out[-3000:]

    # multi-scale x flip test + softmax-CRF: what tools/test.py --tta runs
    from mmengine.config import Config, DictAction
    from mmengine.runner import Runner
    cfg = Config.fromfile(SEG_CFG)
    ns = argparse.Namespace()
    DictAction(option_strings=[], dest='o')(None, ns, seg_opts)
    cfg.merge_from_dict(ns.o)
    cfg.work_dir = str(tmp_path / 'wd_test')
    cfg.load_from = osp.join(wd_s, 'iter_1.pth')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
    metrics = Runner.from_cfg(cfg).test()
    assert 0 <= metrics['mIoU'] <= 100
