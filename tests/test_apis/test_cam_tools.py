"""End-to-end tests of tools/cam/infer_cams.py and tools/cam/eval_cams.py
(an export config and a file-evaluation config run by the test loop)."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS
from PIL import Image
from repo_commands import tool_error
from torch import nn

from mmwsss.evaluation import (label_confusion, summarize_confusion,
                               sweep_confusion, thresholds_from)
from mmwsss.utils.fileio import atomic_save_png, load_cam

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLASSES = ['background', 'a', 'b', 'c']
IDS = ['im0', 'im1', 'im2', 'im3']


@MODELS.register_module(name='_TestToyCAMNet', force=True)
class _TestToyCAMNet(nn.Module):
    """avg-pool (stride 8) + a fixed 1x1 conv, ImageNet normalisation."""

    def __init__(self, num_classes=3, **kwargs):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, num_classes, 1, bias=True)
        with torch.no_grad():
            self.conv.weight.copy_(
                torch.randn(num_classes, 3, 1, 1, generator=g))
            self.conv.bias.copy_(torch.randn(num_classes, generator=g) * 0.1)
        self.data_preprocessor = SegDataPreProcessor(
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True)

    def extract_cam(self, x):
        return self.conv(F.avg_pool2d(x, 8, 8, ceil_mode=True))

    def test_step(self, data):
        return data


def load_tool(name):
    path = osp.join(ROOT, 'tools', 'cam', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('camtools')
    root = tmp / 'ds'
    for d in ('images', 'masks', 'splits'):
        (root / d).mkdir(parents=True)
    (root / 'classes.txt').write_text('\n'.join(CLASSES) + '\n')
    (root / 'splits' / 'train.txt').write_text('\n'.join(IDS) + '\n')
    rng = np.random.default_rng(0)
    labels = {}
    sizes = [(24, 32), (24, 32), (19, 27), (24, 32)]
    for i, (img_id, (h, w)) in enumerate(zip(IDS, sizes)):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            root / 'images' / f'{img_id}.png')
        mask = rng.integers(0, 4, (h, w)).astype(np.uint8)
        mask[:2] = 255
        Image.fromarray(mask).save(root / 'masks' / f'{img_id}.png')
        labels[img_id] = sorted({1 + i % 3, 1 + (i + 1) % 3})
    (root / 'labels.json').write_text(json.dumps(labels))
    ds = dict(
        type='WSSSFolderDataset',
        data_root=str(root),
        split='train',
        pipeline=[dict(type='NotARegisteredTransform')])
    cfg = tmp / 'cfg.py'
    cfg.write_text("default_scope = 'mmseg'\n"
                   "model = dict(type='_TestToyCAMNet', num_classes=3)\n"
                   f'train_dataloader = dict(batch_size=2, dataset={ds!r})\n'
                   f'val_dataloader = dict(batch_size=1, dataset={ds!r})\n')
    ckpt = tmp / 'toy.pth'
    torch.save(dict(state_dict=_TestToyCAMNet().state_dict(), meta={}), ckpt)
    return dict(tmp=tmp, root=root, cfg=str(cfg), ckpt=str(ckpt))


def expected_summary(root, cam_dir, thr):
    conf = 0
    for img_id in IDS:
        d = load_cam(osp.join(cam_dir, img_id + '.npz'))
        gt = np.array(Image.open(osp.join(root, 'masks', img_id + '.png')))
        conf = conf + sweep_confusion(d['hr_cam'], d['keys'], gt, thr, 4)
    return summarize_confusion(conf, thr, CLASSES)


def mtimes(folder):
    return {f: os.stat(osp.join(folder, f)).st_mtime_ns
            for f in os.listdir(folder)}


def test_infer_then_eval(setup):
    infer, ev = load_tool('infer_cams'), load_tool('eval_cams')
    out = str(setup['tmp'] / 'cams_cfg')
    argv = [
        setup['cfg'], setup['ckpt'], '--out-dir', out, '--workers', '0',
        '--batch-size', '2'
    ]
    assert infer.main(argv) == 0
    assert sorted(os.listdir(out)) == sorted([i + '.npz' for i in IDS] +
                                             ['manifest.json'])
    before = mtimes(out)
    assert infer.main(argv) == 0  # resumed: nothing left, nothing touched
    assert mtimes(out) == before
    d = load_cam(osp.join(out, 'im1.npz'))
    assert d['keys'].tolist() == [0, 2, 3]

    # folder-dataset source + options
    out2 = str(setup['tmp'] / 'cams_folder')
    assert infer.main([
        setup['cfg'], setup['ckpt'], '--out-dir', out2, '--data-root',
        str(setup['root']), '--split', 'train', '--workers', '1', '--scales',
        '1.0', '0.5', '--no-flip', '--hr-dtype', 'float16'
    ]) == 0
    assert load_cam(osp.join(out2, 'im0.npz'))['hr_cam'].dtype == np.float16
    manifest = json.load(open(osp.join(out2, 'manifest.json')))
    assert manifest['options']['model']['scales'] == [1.0, 0.5]
    assert manifest['options']['model']['flip'] is False

    thr = thresholds_from(0.05, 0.45, 0.1)
    js = str(setup['tmp'] / 'res.json')
    assert ev.main([
        '--cam-dir', out, '--data-root',
        str(setup['root']), '--split', 'train', '--thr-start', '0.05',
        '--thr-end', '0.45', '--thr-step', '0.1', '--workers', '2',
        '--over-under', '--out', js
    ]) == 0
    res = json.load(open(js))
    exp = expected_summary(setup['root'], out, thr)
    assert res['thresholds'] == thr
    assert res['best_thr'] == exp['best_thr']
    assert res['mIoU'] == pytest.approx(exp['mIoU'])
    assert res['FP'] == pytest.approx(exp['FP'])
    assert res['per_class']['class'] == CLASSES
    assert res['num_images'] == 4 and 'over' in res

    # config source (val_dataloader by default), workers = 0
    js2 = str(setup['tmp'] / 'res2.json')
    assert ev.main([
        setup['cfg'], '--cam-dir', out, '--thr-start', '0.05', '--thr-end',
        '0.45', '--thr-step', '0.1', '--workers', '0', '--out', js2
    ]) == 0
    assert json.load(open(js2))['mIoU'] == pytest.approx(exp['mIoU'])


def test_eval_png_mode(setup):
    ev = load_tool('eval_cams')
    pdir = setup['tmp'] / 'png'
    rng = np.random.default_rng(1)
    conf = 0
    for img_id in IDS:
        gt = np.array(Image.open(setup['root'] / 'masks' / f'{img_id}.png'))
        pred = gt.copy()
        flip = rng.random(gt.shape) < 0.3
        pred[flip] = rng.integers(0, 4, int(flip.sum()))
        pred[0, 0] = 255
        atomic_save_png(
            str(pdir / f'{img_id}.png'), pred, palette=[[0, 0, 0]] * 4)
        conf = conf + label_confusion(pred, gt, 4, pred_ignore='miss')
    js = str(setup['tmp'] / 'png.json')
    assert ev.main([
        '--png-dir',
        str(pdir), '--data-root',
        str(setup['root']), '--split', 'train', '--out', js
    ]) == 0
    res = json.load(open(js))
    exp = summarize_confusion(conf, None, CLASSES)
    assert res['mode'] == 'png' and 'best_thr' not in res
    assert res['mIoU'] == pytest.approx(exp['mIoU'])
    assert res['FN'] == pytest.approx(exp['FN'])


def test_eval_errors_name_the_file(setup):
    infer, ev = load_tool('infer_cams'), load_tool('eval_cams')
    out = setup['tmp'] / 'cams_err'
    assert infer.main([
        setup['cfg'], setup['ckpt'], '--out-dir',
        str(out), '--workers', '0'
    ]) == 0
    base = [
        '--cam-dir',
        str(out), '--data-root',
        str(setup['root']), '--split', 'train', '--workers', '0'
    ]
    os.remove(out / 'im2.npz')
    assert 'im2.npz' in tool_error(ev.main, base)
    (out / 'im2.npz').write_bytes(b'this is not an npz')
    assert 'im2.npz' in tool_error(ev.main, base)
    # error raised inside a worker
    assert 'im2.npz' in tool_error(ev.main, base[:-1] + ['2'])
    # resume: the corrupt file is not overwritten, a deleted one is redone
    os.remove(out / 'im2.npz')
    assert infer.main([
        setup['cfg'], setup['ckpt'], '--out-dir',
        str(out), '--workers', '0'
    ]) == 0
    assert ev.main(base) == 0
    # missing GT mask
    mask = setup['root'] / 'masks' / 'im3.png'
    os.rename(mask, str(mask) + '.bak')
    try:
        assert 'im3.png' in tool_error(ev.main, base)
    finally:
        os.rename(str(mask) + '.bak', mask)
    # GT with a different size
    ev_mask = np.zeros((5, 5), np.uint8)
    Image.fromarray(ev_mask).save(setup['tmp'] / 'small.png')
    with pytest.raises(SystemExit):
        ev.main(['--cam-dir', str(out)])  # no GT source
    assert 'config file not found' in tool_error(
        ev.main, ['nope.py', '--cam-dir', str(out)])
    assert 'checkpoint' in tool_error(
        infer.main, [setup['cfg'], 'nope.pth', '--out-dir',
                     str(out)])


def test_tools_run_as_scripts(setup):
    env = dict(os.environ, PYTHONPATH='')
    for name in ('infer_cams', 'eval_cams'):
        path = osp.join(ROOT, 'tools', 'cam', f'{name}.py')
        assert os.access(path, os.X_OK)
        r = subprocess.run([sys.executable, path, '--help'],
                           capture_output=True,
                           text=True,
                           env=env,
                           cwd=str(setup['tmp']))
        assert r.returncode == 0 and 'usage' in r.stdout
    r = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'cam', 'eval_cams.py'), '--cam-dir',
        str(setup['tmp'] / 'missing_dir'), '--data-root',
        str(setup['root']), '--split', 'train'
    ],
                       capture_output=True,
                       text=True,
                       env=env,
                       cwd=str(setup['tmp']))
    assert r.returncode != 0 and 'missing_dir' in r.stderr
