"""RS+EPM seed export (mmwsss.apis.rsepm_seeds, tools/rsepm/infer_seeds.py):
CAM-format files, resume, test_cfg overrides, and tools/cam/eval_cams.py
reading them.

Expected values are computed independently: the toy model's seed is
recomputed with numpy from the image file, the stride-4 maps with an
explicit loop over the adaptive-average-pooling cells, the eval mIoU from a
hand-built confusion matrix."""
import importlib.util
import json
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from PIL import Image
from torch import nn

from mmwsss.apis import (bg_gamma_threshold, infer_dataset_seeds, load_cam,
                         read_folder_split, seed_to_cam_arrays)
from mmwsss.apis import tmp_path as atomic_tmp_path

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])
K = 3
#: (id, (H, W), GT image labels 1..K)
IMAGES = [('a0', (20, 28), [1, 3]), ('a1', (20, 28), [2]),
          ('a2', (19, 27), [1, 2, 3]), ('a3', (20, 28), [3])]
W_TOY = np.array([[1.0, -0.5, 0.2], [-0.3, 0.8, -0.6], [0.1, 0.4, 0.9]])


class ToySeedModel(nn.Module):
    """``predict_seed`` = per-pixel softmax of a fixed 1x1 map of the
    normalised RGB input, each class / (max + 1e-5), absent classes 0;
    present = the labels, else mean probability >= conf_th."""

    def __init__(self):
        super().__init__()
        self.data_preprocessor = SegDataPreProcessor(
            mean=MEAN.tolist(), std=STD.tolist(), bgr_to_rgb=True)
        self.register_buffer('w', torch.tensor(W_TOY, dtype=torch.float32))
        self.test_cfg = dict(
            scales=(1.0, 0.5, 1.5, 2.0), flip=True, conf_th=0.34, bg_gamma=2.0)
        self.calls = []

    def predict_seed(self, inputs, img_labels=None):
        self.calls.append(
            dict(
                batch=inputs.shape[0],
                scales=self.test_cfg['scales'],
                flip=self.test_cfg['flip'],
                conf_th=self.test_cfg['conf_th'],
                labels=img_labels is not None))
        prob = torch.einsum('kc,bchw->bkhw', self.w, inputs).softmax(1)
        if img_labels is None:
            present = prob.mean((2, 3)) >= self.test_cfg['conf_th']
        else:
            present = img_labels > 0.5
        seed = prob / (prob.amax((2, 3), keepdim=True) + 1e-5)
        return seed * present[:, :, None, None], present


def _expected_seed(img_path, labels=None, conf_th=0.34):
    rgb = np.asarray(Image.open(img_path).convert('RGB'), np.float64)
    x = (rgb - MEAN) / STD  # (H, W, 3), RGB order
    logits = x @ W_TOY.T  # (H, W, K)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    prob = (e / e.sum(-1, keepdims=True)).transpose(2, 0, 1)
    if labels is None:
        present = prob.mean((1, 2)) >= conf_th
    else:
        present = np.zeros(K, bool)
        present[np.asarray(labels) - 1] = True
    seed = prob / (prob.max((1, 2), keepdims=True) + 1e-5)
    return seed[present], np.flatnonzero(present)


def _area_loop(maps, out_h, out_w):
    """Adaptive average pooling, one cell at a time."""
    n, H, W = maps.shape
    out = np.zeros((n, out_h, out_w))
    for i in range(out_h):
        y0, y1 = (i * H) // out_h, math.ceil((i + 1) * H / out_h)
        for j in range(out_w):
            x0, x1 = (j * W) // out_w, math.ceil((j + 1) * W / out_w)
            out[:, i, j] = maps[:, y0:y1, x0:x1].mean((1, 2))
    return out


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('seeds') / 'ds'
    for d in ('images', 'masks', 'splits'):
        (root / d).mkdir(parents=True)
    (root / 'classes.txt').write_text('background\na\nb\nc\n')
    (root / 'splits' /
     'train.txt').write_text('\n'.join(i for i, _, _ in IMAGES) + '\n')
    rng = np.random.default_rng(0)
    labels = {}
    for img_id, (h, w), lab in IMAGES:
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            root / 'images' / f'{img_id}.png')
        mask = rng.choice([0] + lab, size=(h, w)).astype(np.uint8)
        mask[0, :3] = 255
        Image.fromarray(mask).save(root / 'masks' / f'{img_id}.png')
        labels[img_id] = lab
    (root / 'labels.json').write_text(json.dumps(labels))
    return str(root)


def test_bg_gamma_threshold():
    assert bg_gamma_threshold(2.0) == pytest.approx(
        (3 - math.sqrt(5)) / 2, abs=1e-9)
    assert bg_gamma_threshold(1.0) == pytest.approx(0.5, abs=1e-9)
    t = bg_gamma_threshold(3.0)
    assert t == pytest.approx((1 - t)**3, abs=1e-9)
    # argmax([(1 - m)^2, m]) switches to foreground exactly at t*
    t2 = bg_gamma_threshold(2.0)
    for m in (t2 - 1e-4, t2 + 1e-4):
        assert (m > (1 - m)**2) == (m > t2)
    with pytest.raises(ValueError):
        bg_gamma_threshold(0)


@pytest.mark.parametrize('size', [(8, 12), (10, 9), (3, 5)])
def test_seed_to_cam_arrays(size):
    g = torch.Generator().manual_seed(0)
    seed = torch.rand(4, *size, generator=g)
    present = torch.tensor([True, False, False, True])
    out = seed_to_cam_arrays(seed, present)
    assert out['keys'].tolist() == [0, 1, 4]
    assert out['keys'].dtype == torch.int64
    assert torch.equal(out['hr_cam'], seed[[0, 3]])
    h4, w4 = -(-size[0] // 4), -(-size[1] // 4)
    area = _area_loop(seed[[0, 3]].double().numpy(), h4, w4)
    area = area / (area.max((1, 2), keepdims=True) + 1e-5)
    assert out['cam'].shape == (2, h4, w4)
    np.testing.assert_allclose(out['cam'].numpy(), area, atol=1e-6)
    # a constant map stays constant in every resize mode
    const = torch.full((2, ) + size, 0.25)
    for mode in ('area', 'bilinear', 'nearest'):
        c = seed_to_cam_arrays(const, torch.tensor([True, True]), mode)
        np.testing.assert_allclose(c['cam'].numpy(), 0.25 / (0.25 + 1e-5))
    # no present class: empty maps, keys [0]
    none = seed_to_cam_arrays(seed, torch.zeros(4, dtype=torch.bool))
    assert none['keys'].tolist() == [0]
    assert none['cam'].shape == (0, h4, w4)
    assert none['hr_cam'].shape == (0, ) + size
    with pytest.raises(ValueError):
        seed_to_cam_arrays(seed, present, 'bicubic')


def test_export_files_resume_and_overrides(dataset, tmp_path):
    infos, _ = read_folder_split(dataset, 'train')
    model = ToySeedModel()
    out = str(tmp_path / 'seeds')
    stats = infer_dataset_seeds(
        model,
        infos,
        out,
        scales=(1.0, 0.5),
        flip=False,
        batch_size=2,
        workers=0,
        progress=False)
    assert stats == dict(
        total=4, written=4, skipped=0, tmp_removed=0, no_class=0)
    # same-size images batched: a0 + a1 + a3 (20x28) -> 2 + 1, a2 alone
    assert sorted(c['batch'] for c in model.calls) == [1, 1, 2]
    assert all(c['scales'] == (1.0, 0.5) and c['flip'] is False and c['labels']
               for c in model.calls)
    # the overrides are undone afterwards
    assert model.test_cfg['scales'] == (1.0, 0.5, 1.5, 2.0)
    assert model.test_cfg['flip'] is True
    for img_id, (h, w), lab in IMAGES:
        path = osp.join(out, img_id + '.npz')
        arrs = load_cam(path)  # validates the CAM-file contract
        seed, idx = _expected_seed(
            osp.join(dataset, 'images', img_id + '.png'), lab)
        assert arrs['keys'].dtype == np.int64
        assert arrs['keys'].tolist() == [0] + [int(i) + 1 for i in idx]
        assert arrs['hr_cam'].shape == (len(lab), h, w)
        assert arrs['hr_cam'].dtype == np.float32
        np.testing.assert_allclose(arrs['hr_cam'], seed, atol=2e-5)
        h4, w4 = (h - 1) // 4 + 1, (w - 1) // 4 + 1
        cam = _area_loop(arrs['hr_cam'].astype(np.float64), h4, w4)
        cam = cam / (cam.max((1, 2), keepdims=True) + 1e-5)
        assert arrs['cam'].shape == (len(lab), h4, w4)
        np.testing.assert_allclose(arrs['cam'], cam, atol=1e-5)

    # resume: nothing to do
    model.calls.clear()
    stats = infer_dataset_seeds(model, infos, out, progress=False)
    assert stats['written'] == 0 and stats['skipped'] == 4
    assert model.calls == []
    # an interrupted run: one file missing, a stale temp file left behind
    os.remove(osp.join(out, 'a2.npz'))
    stale = atomic_tmp_path(osp.join(out, 'a1.npz'))
    with open(stale, 'wb') as f:
        f.write(b'partial')
    stats = infer_dataset_seeds(model, infos, out, progress=False)
    assert stats['written'] == 1 and stats['skipped'] == 3
    assert stats['tmp_removed'] == 1 and not osp.exists(stale)
    assert [c['batch'] for c in model.calls] == [1]
    load_cam(osp.join(out, 'a2.npz'))


def test_export_predicted_labels_and_float16(dataset, tmp_path):
    infos, _ = read_folder_split(dataset, 'train', need_labels=False)
    model = ToySeedModel()
    out = str(tmp_path / 'seeds_pred')
    stats = infer_dataset_seeds(
        model,
        infos,
        out,
        use_gt_labels=False,
        conf_th=0.3,
        hr_dtype='float16',
        progress=False)
    assert stats['written'] == 4
    assert all(not c['labels'] and c['conf_th'] == 0.3 for c in model.calls)
    assert model.test_cfg['conf_th'] == 0.34
    n_empty = 0
    for img_id, _, _ in IMAGES:
        arrs = load_cam(osp.join(out, img_id + '.npz'))
        seed, idx = _expected_seed(
            osp.join(dataset, 'images', img_id + '.png'), None, 0.3)
        assert arrs['keys'].tolist() == [0] + [int(i) + 1 for i in idx]
        assert arrs['hr_cam'].dtype == np.float16
        np.testing.assert_allclose(
            arrs['hr_cam'].astype(np.float32), seed, atol=1e-3)
        n_empty += len(idx) == 0
    assert stats['no_class'] == n_empty
    # GT labels are required unless predicted labels are asked for
    with pytest.raises(ValueError, match='img_labels'):
        infer_dataset_seeds(model, infos, str(tmp_path / 'x'), progress=False)
    with pytest.raises(TypeError, match='predict_seed'):
        infer_dataset_seeds(nn.Identity(), infos, str(tmp_path / 'y'))


def _load_tool(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _expected_miou(dataset, seed_dir, thr):
    conf = np.zeros((K + 1, K + 1), np.int64)
    for img_id, _, _ in IMAGES:
        arrs = load_cam(osp.join(seed_dir, img_id + '.npz'))
        hr = arrs['hr_cam'].astype(np.float32)
        scores = np.concatenate([np.full((1, ) + hr.shape[1:], thr), hr])
        pred = arrs['keys'][scores.argmax(0)]
        gt = np.asarray(
            Image.open(osp.join(dataset, 'masks', img_id + '.png')))
        for g, p in zip(gt.ravel(), pred.ravel()):
            if g != 255:
                conf[g, p] += 1
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    return float(np.mean(tp / union))


def test_eval_cams_reads_seed_files(dataset, tmp_path):
    infos, _ = read_folder_split(dataset, 'train')
    out = str(tmp_path / 'seeds')
    infer_dataset_seeds(ToySeedModel(), infos, out, progress=False)
    eval_cams = _load_tool(
        osp.join(ROOT, 'tools', 'cam', 'eval_cams.py'), '_eval_cams_seeds')
    thr = round(bg_gamma_threshold(2.0), 6)
    report = str(tmp_path / 'eval.json')
    assert eval_cams.main([
        '--data-root', dataset, '--split', 'train', '--cam-dir', out,
        '--thr-start',
        str(thr), '--thr-end',
        str(thr), '--out', report, '--workers', '0'
    ]) == 0
    with open(report) as f:
        summary = json.load(f)
    assert summary['mIoU'] == pytest.approx(
        _expected_miou(dataset, out, thr), abs=1e-9)

    # the multi-stage tools read them as CAMs: affinity labels
    from mmwsss.apis import make_affinity_labels
    aff = str(tmp_path / 'aff')
    stats = make_affinity_labels(
        infos, out, aff, crf_iters=1, workers=0, progress=False)
    assert stats['written'] == 4
    for img_id, (h, w), lab in IMAGES:
        png = np.asarray(Image.open(osp.join(aff, img_id + '.png')))
        assert png.shape == (h, w)
        assert set(np.unique(png).tolist()) <= {0, 255, *lab}


def test_infer_seeds_tool_with_rsepm_checkpoint(tmp_path):
    """tools/rsepm/infer_seeds.py on a (random-weight) RSEPM checkpoint of
    the synthetic config writes exactly ``predict_seed`` of every image."""
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmwsss.datasets.testing import make_folder_fixture
    root = str(tmp_path / 'ds')
    make_folder_fixture(root, {'train': 3}, num_classes=4, size=(40, 56))
    cfg_path = osp.join(ROOT, 'configs', 'rsepm',
                        'rsepm_effnet-lite0_1xb16-600it_synthetic-112x112.py')
    cfg = Config.fromfile(cfg_path)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    ckpt = str(tmp_path / 'rsepm.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    out = str(tmp_path / 'seeds')
    tool = _load_tool(
        osp.join(ROOT, 'tools', 'rsepm', 'infer_seeds.py'), '_infer_seeds')
    assert tool.main([
        cfg_path, ckpt, '--data-root', root, '--split', 'train', '--out-dir',
        out, '--scales', '1.0', '0.5', '--workers', '0', '--device', 'cpu',
        '--cfg-options', 'model.backbone.init_cfg=None'
    ]) == 0
    infos, _ = read_folder_split(root, 'train')
    model.test_cfg['scales'] = (1.0, 0.5)
    for info in infos:
        arrs = load_cam(osp.join(out, info['img_id'] + '.npz'))
        rgb = np.asarray(Image.open(info['img_path']).convert('RGB'))
        x = (torch.from_numpy(rgb).permute(2, 0, 1).float() -
             torch.tensor(MEAN).view(
                 3, 1, 1).float()) / torch.tensor(STD).view(3, 1, 1).float()
        labels = torch.from_numpy(np.asarray(info['img_labels']))[None]
        seed, present = model.predict_seed(x[None], labels)
        idx = present[0].nonzero()[:, 0]
        assert arrs['keys'].tolist() == [0] + (idx + 1).tolist()
        assert idx.tolist() == np.flatnonzero(info['img_labels']).tolist()
        np.testing.assert_allclose(
            arrs['hr_cam'], seed[0, idx].numpy(), atol=1e-5)
    # rerun: resumable (all files skipped)
    assert tool.main([
        cfg_path, ckpt, '--data-root', root, '--split', 'train', '--out-dir',
        out, '--workers', '0', '--device', 'cpu', '--cfg-options',
        'model.backbone.init_cfg=None'
    ]) == 0
