"""End-to-end smoke runs of the real dataset configs on generated fixtures:

- configs/cam_r50_voc.py: tools/train.py (2 iterations, VOC train_aug
  fixture, XML labels) writes a checkpoint, then tools/test.py runs the
  CAM evaluation (IoUMetric + CAMSweepMetric) on the VOC `train` fixture
  split with it.
- the COCO-14 config: a COCO-2014-style fixture (80 real category ids) is
  converted with tools/dataset_converters/coco2014.py and trained for one
  iteration followed by the val loop (81 classes).

Everything else of the real configs (pipelines, metrics, optimiser preset)
is kept; only data roots, crop, batch and loop lengths are overridden."""
import json
import os.path as osp
import re
import sys

import pytest
from mmengine import Config
from repo_commands import ROOT, run_repo

from mmwsss.datasets.coco import COCO_CLASSES
from mmwsss.datasets.testing import make_coco_fixture, make_voc_fixture

VOC_CFG = osp.join(ROOT, 'configs', 'cam_r50_voc.py')
COCO_CFG = osp.join(ROOT, 'configs', 'cam',
                    'cam_r50_4xb8-12825it_coco14-512x512.py')
CROP = '(64,64)'
#: the 80 COCO category ids (ascending), i.e. COCO_CLASSES[1:]
COCO_IDS = (
    list(range(1, 12)) + list(range(13, 26)) + [27, 28] + list(range(31, 45)) +
    list(range(46, 66)) + [67, 70] + list(range(72, 83)) + list(range(84, 91)))


def _run(cmd, timeout=900):
    return run_repo(cmd, timeout=timeout, threads=2)


def _crop_index(cfg_path):
    pipeline = Config.fromfile(cfg_path).train_dataloader.dataset.pipeline
    return [t['type'] for t in pipeline].index('RandomContainerCrop')


def _tiny_options(cfg_path, data_root, max_iters, val_interval):
    """--cfg-options shrinking a real config to a CPU smoke run."""
    opts = [
        f'train_dataloader.dataset.pipeline.{_crop_index(cfg_path)}'
        f'.crop_size={CROP}',
        f'model.data_preprocessor.size={CROP}',
        'model.backbone.init_cfg=None',
        'train_dataloader.batch_size=2',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={val_interval}',
        f'param_scheduler.0.end={max_iters + 1}',
        f'default_hooks.checkpoint.interval={max_iters}',
        'default_hooks.logger.interval=1',
    ]
    for loader in ('train', 'val', 'test'):
        opts += [
            f'{loader}_dataloader.dataset.data_root={data_root}',
            f'{loader}_dataloader.num_workers=0',
            f'{loader}_dataloader.persistent_workers=False',
        ]
    return opts


def test_voc_r50_train_then_cam_eval(tmp_path):
    root = str(tmp_path / 'VOC2012')
    make_voc_fixture(root, n=8, size=(64, 80), seed=0)
    cfg = Config.fromfile(VOC_CFG)
    # the real recipe is what runs
    assert cfg.train_dataloader.dataset.split == 'train_aug'
    assert cfg.train_dataloader.dataset.label_source == 'xml'
    assert cfg.train_dataloader.dataset.with_masks is False
    assert cfg.val_dataloader.dataset.split == 'train'
    assert cfg.test_dataloader.dataset.split == 'val'
    wd = str(tmp_path / 'wd')
    opts = _tiny_options(VOC_CFG, root, max_iters=2, val_interval=1000)
    py = sys.executable
    out = _run([
        py, 'tools/train.py', VOC_CFG, '--work-dir', wd, '--cfg-options', *opts
    ])
    assert re.search(r'Iter\(train\) \[2/2\].*loss_cls: \d', out), \
        out[-3000:]
    ckpt = osp.join(wd, 'iter_2.pth')
    assert osp.isfile(ckpt)

    # CAM evaluation on the VOC `train` split (the val_dataloader of the
    # config) through tools/test.py
    val_ds = cfg.val_dataloader.dataset
    out = _run([
        py, 'tools/test.py', VOC_CFG, ckpt, '--work-dir',
        str(tmp_path / 'wd_test'), '--cfg-options', *opts,
        f'test_dataloader.dataset.split={val_ds.split}',
        f'test_dataloader.dataset.label_source={val_ds.label_source}'
    ])
    assert re.search(r'mIoU: \d', out), out[-3000:]
    assert re.search(r'cam/mIoU: \d', out), out[-3000:]


def _coco_fixture(coco_root):
    """COCO-2014 root (train2014 + val2014) with the 80 real category ids,
    so the converter writes the real 81-class classes.txt."""
    cats = [
        dict(id=i, name=n, supercategory='x')
        for i, n in zip(COCO_IDS, COCO_CLASSES[1:])
    ]
    for split in ('train2014', 'val2014'):
        make_coco_fixture(coco_root, split=split)
        path = osp.join(coco_root, 'annotations', f'instances_{split}.json')
        with open(path) as f:
            data = json.load(f)
        used = {a['category_id'] for a in data['annotations']}
        assert used <= set(COCO_IDS)
        data['categories'] = cats
        with open(path, 'w') as f:
            json.dump(data, f)


def test_coco_r50_convert_train_val(tmp_path):
    pytest.importorskip('pycocotools')
    assert len(COCO_IDS) == 80
    coco = str(tmp_path / 'coco2014')
    out_root = str(tmp_path / 'coco2014_wsss')
    _coco_fixture(coco)
    py = sys.executable
    _run([
        py, 'tools/dataset_converters/coco2014.py', coco, out_root, '--splits',
        'train', 'val'
    ])
    with open(osp.join(out_root, 'classes.txt')) as f:
        assert len([n for n in f.read().splitlines() if n.strip()]) == 81
    cfg = Config.fromfile(COCO_CFG)
    assert cfg.train_dataloader.dataset.split == 'train'
    assert cfg.val_dataloader.dataset.split == 'val'
    # one iteration, then the val loop (IoUMetric + CAMSweepMetric)
    wd = str(tmp_path / 'wd')
    out = _run([
        py, 'tools/train.py', COCO_CFG, '--work-dir', wd, '--cfg-options',
        *_tiny_options(COCO_CFG, out_root, max_iters=1, val_interval=1)
    ])
    assert osp.isfile(osp.join(wd, 'iter_1.pth'))
    assert re.search(r'cam/mIoU: \d', out), out[-3000:]
