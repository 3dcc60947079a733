"""RS+EPM seed export (tools/rsepm/infer_seeds.py: the seeds export config,
MultiScaleCAM source='seed', run by the test loop): CAM-format files,
resume, option overrides, and tools/cam/eval_cams.py reading them.

Expected values are computed independently: the toy model's seed is
recomputed with numpy from the image file, the stride-4 maps with an
explicit loop over the adaptive-average-pooling cells, the eval mIoU from a
hand-built confusion matrix."""
import importlib.util
import json
import math
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS
from PIL import Image
from repo_commands import tool_error
from torch import nn

from mmwsss.utils.cam_ops import bg_gamma_threshold
from mmwsss.utils.fileio import load_cam
from mmwsss.utils.fileio import tmp_path as atomic_tmp_path

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])
K = 3
#: (id, (H, W), GT image labels 1..K)
IMAGES = [('a0', (20, 28), [1, 3]), ('a1', (20, 28), [2]),
          ('a2', (19, 27), [1, 2, 3]), ('a3', (20, 28), [3])]
W_TOY = np.array([[1.0, -0.5, 0.2], [-0.3, 0.8, -0.6], [0.1, 0.4, 0.9]])

#: every predict_seed call of the toy model (batch size and options)
CALLS = []


@MODELS.register_module(name='_ToySeedModel', force=True)
class ToySeedModel(nn.Module):
    """``predict_seed`` = per-pixel softmax of a fixed 1x1 map of the
    normalised RGB input, each class / (max + 1e-5), absent classes 0;
    present = the labels, else mean probability >= conf_th."""

    def __init__(self, **kwargs):
        super().__init__()
        self.data_preprocessor = SegDataPreProcessor(
            mean=MEAN.tolist(), std=STD.tolist(), bgr_to_rgb=True)
        self.register_buffer('w', torch.tensor(W_TOY, dtype=torch.float32))
        self.test_cfg = dict(
            scales=(1.0, 0.5, 1.5, 2.0), flip=True, conf_th=0.34, bg_gamma=2.0)

    def predict_seed(self,
                     inputs,
                     img_labels=None,
                     scales=None,
                     flip=None,
                     conf_th=None,
                     return_probs=False):
        CALLS.append(
            dict(
                batch=inputs.shape[0],
                scales=tuple(scales),
                flip=flip,
                conf_th=conf_th,
                labels=img_labels is not None))
        prob = torch.einsum('kc,bchw->bkhw', self.w, inputs).softmax(1)
        probs = prob.mean((2, 3))
        if img_labels is None:
            present = probs >= conf_th
        else:
            present = img_labels > 0.5
        seed = prob / (prob.amax((2, 3), keepdim=True) + 1e-5)
        return seed * present[:, :, None, None], present, probs

    def test_step(self, data):
        return data


def _expected_seed(img_path, labels=None, conf_th=None):
    conf_th = 0.34 if conf_th is None else conf_th
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
    ckpt = str(root / 'toy.pth')
    torch.save(dict(state_dict=ToySeedModel().state_dict()), ckpt)
    cfg = root / 'toy_cfg.py'
    ds = dict(type='WSSSFolderDataset', data_root=str(root), split='train')
    cfg.write_text("default_scope = 'mmseg'\n"
                   "model = dict(type='_ToySeedModel')\n"
                   f'train_dataloader = dict(dataset={ds!r})\n'
                   f"nolabels = dict(dataset=dict({ds!r}, "
                   "label_source='none'))\n")
    return dict(root=str(root), cfg=str(cfg), ckpt=ckpt)


def _seeds_tool():
    CALLS.clear()
    return _load_tool(
        osp.join(ROOT, 'tools', 'rsepm', 'infer_seeds.py'), '_infer_seeds')


def infer_seeds(dataset, *argv):
    return _seeds_tool().main(
        [dataset['cfg'], dataset['ckpt'], '--workers', '0', *argv])


def infer_seeds_error(dataset, *argv):
    """The one ``error:`` line of a failing run (exit status 2)."""
    return tool_error(_seeds_tool().main,
                      [dataset['cfg'], dataset['ckpt'], '--workers', '0',
                       *argv])


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


class FixedSeed(ToySeedModel):
    """predict_seed returns a given seed and presence."""

    def __init__(self, seed, present):
        super().__init__()
        self.seed, self.present = seed, present

    def predict_seed(self, inputs, img_labels=None, **kwargs):
        return self.seed[None], self.present[None], self.present[None].float()


def _wrapped(seed, present, cam_resize='area'):
    from mmseg.structures import SegDataSample

    from mmwsss.models.segmentors import MultiScaleCAM
    H, W = seed.shape[-2:]
    ds = SegDataSample(metainfo=dict(ori_shape=(H, W), img_path='x.png'))
    data = dict(
        inputs=[torch.zeros(3, H, W, dtype=torch.uint8)], data_samples=[ds])
    wrapper = MultiScaleCAM(
        FixedSeed(seed, present),
        source='seed',
        use_gt_labels=False,
        cam_resize=cam_resize)
    return wrapper.test_step(data)[0]


@pytest.mark.parametrize('size', [(8, 12), (10, 9), (3, 5)])
def test_seed_to_cam_arrays(size):
    g = torch.Generator().manual_seed(0)
    seed = torch.rand(4, *size, generator=g)
    present = torch.tensor([True, False, False, True])
    out = _wrapped(seed, present)
    assert out.cam_keys.tolist() == [0, 1, 4]
    assert out.cam_keys.dtype == torch.int64
    assert torch.equal(out.pred_cam.data, seed[[0, 3]])
    h4, w4 = -(-size[0] // 4), -(-size[1] // 4)
    area = _area_loop(seed[[0, 3]].double().numpy(), h4, w4)
    area = area / (area.max((1, 2), keepdims=True) + 1e-5)
    assert out.pred_cam_s4.data.shape == (2, h4, w4)
    np.testing.assert_allclose(out.pred_cam_s4.data.numpy(), area, atol=1e-6)
    # a constant map stays constant in every resize mode
    const = torch.full((2, ) + size, 0.25)
    for mode in ('area', 'bilinear', 'nearest'):
        c = _wrapped(const, torch.tensor([True, True]), mode)
        np.testing.assert_allclose(c.pred_cam_s4.data.numpy(),
                                   0.25 / (0.25 + 1e-5))
    # no present class: empty maps, keys [0]
    none = _wrapped(seed, torch.zeros(4, dtype=torch.bool))
    assert none.cam_keys.tolist() == [0]
    assert none.pred_cam_s4.data.shape == (0, h4, w4)
    assert none.pred_cam.data.shape == (0, ) + size
    with pytest.raises(ValueError, match='cam_resize'):
        _wrapped(seed, present, 'bicubic')


def _check_files(root,
                 out,
                 labels_of,
                 conf_th=None,
                 dtype=np.float32,
                 atol=2e-5):
    for img_id, (h, w), lab in IMAGES:
        arrs = load_cam(osp.join(out, img_id + '.npz'))  # the contract
        seed, idx = _expected_seed(
            osp.join(root, 'images', img_id + '.png'), labels_of(lab), conf_th)
        assert arrs['keys'].dtype == np.int64
        assert arrs['keys'].tolist() == [0] + [int(i) + 1 for i in idx]
        assert arrs['hr_cam'].shape == (len(idx), h, w)
        assert arrs['hr_cam'].dtype == dtype
        np.testing.assert_allclose(
            arrs['hr_cam'].astype(np.float32), seed, atol=atol)
        h4, w4 = (h - 1) // 4 + 1, (w - 1) // 4 + 1
        if len(idx):
            cam = _area_loop(arrs['hr_cam'].astype(np.float64), h4, w4)
            cam = cam / (cam.max((1, 2), keepdims=True) + 1e-5)
            np.testing.assert_allclose(arrs['cam'], cam, atol=1e-3)
        assert arrs['cam'].shape == (len(idx), h4, w4)


def test_export_files_resume_and_overrides(dataset, tmp_path):
    out = str(tmp_path / 'seeds')
    argv = [
        '--data-root', dataset['root'], '--split', 'train', '--out-dir', out,
        '--scales', '1.0', '0.5', '--no-flip', '--batch-size', '2'
    ]
    assert infer_seeds(dataset, *argv) == 0
    # batches of 2 in dataset order, same-size images together:
    # [a0 a1] -> 2, [a2 (19x27), a3 (20x28)] -> 1 + 1
    assert sorted(c['batch'] for c in CALLS) == [1, 1, 2]
    assert all(c['scales'] == (1.0, 0.5) and c['flip'] is False
               and c['conf_th'] == 0.34 and c['labels'] for c in CALLS)
    _check_files(dataset['root'], out, lambda lab: lab)
    # resume: nothing to do, no model call
    assert infer_seeds(dataset, *argv) == 0
    assert CALLS == []
    # an interrupted run: one file missing, a stale temp file left behind
    os.remove(osp.join(out, 'a2.npz'))
    stale = atomic_tmp_path(osp.join(out, 'a1.npz'))
    with open(stale, 'wb') as f:
        f.write(b'partial')
    assert infer_seeds(dataset, *argv) == 0
    assert not osp.exists(stale)
    assert [c['batch'] for c in CALLS] == [1]
    load_cam(osp.join(out, 'a2.npz'))
    # other options into the same folder: refused (manifest)
    assert '--overwrite' in infer_seeds_error(
        dataset, *[a for a in argv if a != '--no-flip'])


def test_export_predicted_labels_and_float16(dataset, tmp_path):
    out = str(tmp_path / 'seeds_pred')
    assert infer_seeds(dataset, '--data-root', dataset['root'], '--split',
                       'train', '--out-dir', out, '--use-pred-labels',
                       '--conf-th', '0.3', '--hr-dtype', 'float16') == 0
    assert all(not c['labels'] and c['conf_th'] == 0.3 for c in CALLS)
    _check_files(dataset['root'], out, lambda lab: None, 0.3, np.float16, 1e-3)
    # GT labels are required unless predicted labels are asked for
    assert re.search(
        'no image labels.*use_gt_labels',
        infer_seeds_error(dataset, '--split-cfg', 'nolabels', '--out-dir',
                          str(tmp_path / 'x')))


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
    out = str(tmp_path / 'seeds')
    assert infer_seeds(dataset, '--data-root', dataset['root'], '--split',
                       'train', '--out-dir', out) == 0
    root = dataset['root']
    eval_cams = _load_tool(
        osp.join(ROOT, 'tools', 'cam', 'eval_cams.py'), '_eval_cams_seeds')
    thr = round(bg_gamma_threshold(2.0), 6)
    report = str(tmp_path / 'eval.json')
    assert eval_cams.main([
        '--data-root', root, '--split', 'train', '--cam-dir', out,
        '--thr-start',
        str(thr), '--thr-end',
        str(thr), '--out', report, '--workers', '0'
    ]) == 0
    with open(report) as f:
        summary = json.load(f)
    assert summary['mIoU'] == pytest.approx(
        _expected_miou(root, out, thr), abs=1e-9)

    # the multi-stage tools read them as CAMs: affinity labels
    from mmwsss.apis import make_affinity_labels
    aff = str(tmp_path / 'aff')
    ds = dict(type='WSSSFolderDataset', data_root=root, split='train')
    stats = make_affinity_labels(
        ds, out, aff, crf_iters=1, workers=0, progress=False)
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
        out, '--scales', '1.0', '0.5', '--workers', '0', '--cfg-options',
        'model.backbone.init_cfg=None'
    ]) == 0
    from mmseg.registry import DATASETS
    ds = DATASETS.build(
        dict(type='WSSSFolderDataset', data_root=root, split='train'))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
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
    # rerun with the same options: resumable (all files kept)
    before = {
        f: os.stat(osp.join(out, f)).st_mtime_ns
        for f in os.listdir(out)
    }
    assert tool.main([
        cfg_path, ckpt, '--data-root', root, '--split', 'train', '--out-dir',
        out, '--scales', '1.0', '0.5', '--workers', '0', '--cfg-options',
        'model.backbone.init_cfg=None'
    ]) == 0
    assert before == {
        f: os.stat(osp.join(out, f)).st_mtime_ns
        for f in os.listdir(out)
    }
