"""RRM parts: L_ce, reliable-region mining (hand-worked cases), the
training-time multi-scale CAM, the segmentation head and the segmentor's
training step and inference."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import nn

from mmwsss.models.losses import bg_fg_cross_entropy
from mmwsss.models.refiners import ReliableRegionMining, top_ratio_region

IGN = 255


# ---------------------------------------------------------------- L_ce
def _ce_reference(logits, label, keep):
    """Mean of -log softmax over the pixels where ``keep`` (float64
    loops)."""
    lg = logits.double().numpy()
    lab = label.numpy()
    total, n = 0.0, 0
    B, C, H, W = lg.shape
    for b in range(B):
        for y in range(H):
            for x in range(W):
                if keep(lab[b, y, x]):
                    z = lg[b, :, y, x]
                    lse = math.log(np.exp(z - z.max()).sum()) + z.max()
                    total += lse - z[lab[b, y, x]]
                    n += 1
    return total / n if n else 0.0


def test_bg_fg_cross_entropy_two_means():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 3, 5)
    label = torch.tensor([[[0, 0, 1, 2, IGN], [0, 3, 3, IGN, IGN],
                           [0, 0, 0, 0, 0]],
                          [[IGN] * 5, [2, 2, 2, 2, 2], [0, 1, IGN, 0, 3]]])
    want = _ce_reference(logits, label, lambda v: v == 0) + \
        _ce_reference(logits, label, lambda v: v not in (0, IGN))
    got = bg_fg_cross_entropy(logits, label)
    assert got.item() == pytest.approx(want, rel=1e-5)
    # not the plain CE over all labelled pixels (the bg pixels dominate)
    plain = F.cross_entropy(logits, label, ignore_index=IGN).item()
    assert abs(got.item() - plain) > 0.1


def test_bg_fg_cross_entropy_empty_sets_are_zero_not_nan():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    all_ignored = torch.full((2, 4, 4), IGN)
    loss = bg_fg_cross_entropy(logits, all_ignored)
    assert loss.item() == 0.0 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() == 0
    # only foreground: the background term is 0, the other one the CE
    fg_only = torch.ones(2, 4, 4, dtype=torch.long)
    want = F.cross_entropy(logits.detach(), fg_only).item()
    assert bg_fg_cross_entropy(logits.detach(),
                               fg_only).item() == pytest.approx(want, 1e-6)


def test_bg_fg_loss_module_in_decode_head_and_weight_error():
    loss = MODELS.build(dict(type='BgFgCrossEntropyLoss', loss_weight=0.5))
    logits = torch.randn(1, 3, 2, 2)
    label = torch.tensor([[[0, 1], [2, IGN]]])
    assert loss(logits, label).item() == pytest.approx(
        0.5 * bg_fg_cross_entropy(logits, label).item())
    assert loss.loss_name == 'loss_ce'
    with pytest.raises(ValueError, match='per-pixel'):
        loss(logits, label, weight=torch.ones(1, 2, 2))


# ---------------------------------------------------------------- mining
def test_top_ratio_region_hand_worked():
    v = torch.tensor([[0.05, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.0]])
    mask = torch.ones_like(v, dtype=torch.bool)
    # values > 0.1: [0.3 .. 0.9], n = 6, k = floor(0.6 * 6) = 3 -> t = 0.7
    got = top_ratio_region(v, mask, 0.4, min_value=0.1)
    assert got.tolist() == [[False] * 5 + [True, True, False]]
    # inclusive, no minimum: n = 8 sorted [0, .05, .3, .5, .6, .7, .8, .9],
    # k = floor(4.8) = 4 -> t = 0.6, >= keeps 0.6 .. 0.9
    got = top_ratio_region(v, mask, 0.4, inclusive=True)
    assert got.tolist() == [[False, False, False, True, True, True, True,
                             False]]
    # nothing above the minimum: empty, no error
    assert not top_ratio_region(v, mask, 0.4, min_value=0.95).any()


class _NormaliseCRF:
    """A stand-in CRF: the marginals are the input scores normalised per
    pixel (so each label is the argmax of the scores), optionally forcing
    the last pixel to background."""

    params = dict(unary='softmax')

    def __init__(self, last_to_bg=False):
        self.last_to_bg = last_to_bg
        self.calls = []

    def refine_probs(self, image, probs):
        self.calls.append(probs.copy())
        q = probs / probs.sum(0, keepdims=True)
        if self.last_to_bg:
            q[:, :, -1] = 0
            q[0, :, -1] = 1
        return q.astype(np.float32)


def _row(values_c1, values_c2):
    """(1, 2, 1, N) CAMs from two lists of per-pixel values."""
    return torch.tensor([[values_c1], [values_c2]],
                        dtype=torch.float32)[None]


def test_mining_code_mode_hand_worked():
    # pixel: P_fg (class 1, class 2) and why it ends as it does
    px = [
        ((0.0, 0.0), 0),  # m = 0: both CRFs bg, bg32 = 1 > .8, Q = 1
        ((0.9, 0.0), 1),  # class-1 top 40 %: V = [.3 .5 .6 .7 .8 .9]
        # (values > .1), k = floor(.6 * 6) = 3, t = .7; Q_lo[1] ~ 1
        ((0.8, 0.0), 1),  # idem
        ((0.7, 0.0), IGN),  # = t: not above it
        ((0.6, 0.0), IGN),  # below the class-1 top 40 %
        ((0.5, 0.0), IGN),  # idem
        ((0.3, 0.0), IGN),  # idem (and Q_lo[1] = .3 / .54 < .8)
        ((0.1, 0.0), IGN),  # alpha 4 says bg (.9^4 = .66), alpha 32 fg:
        # L_lo bg -> ignored, L_hi fg -> not reset to 0
        ((0.02, 0.0), IGN),  # both bg, but bg32 = .98^32 = .52 < .8
        ((0.005, 0.0), 0),  # bg32 = .995^32 = .852 > .8, Q_hi[0] = .99
        ((0.0, 0.95), 2),  # the only class-2 pixel above 0.1: |V| = 1,
        # k = 0, t = .95, nothing above -> ... see below
    ]
    cams = _row([p[0][0] for p in px], [p[0][1] for p in px])
    crf = _NormaliseCRF()
    mining = ReliableRegionMining(crf=crf, crf_workers=0)
    image = np.zeros((1, len(px), 3), np.uint8)
    got = mining([image], cams, torch.tensor([[1.0, 1.0]]))[0, 0].tolist()
    want = [p[1] for p in px]
    # class 2 has one pixel: the top-40 % threshold is its own value and
    # the region (> t) is empty: no sure class-2 pixel (and no crash)
    want[-1] = IGN
    assert got == want
    # two CRFs per image, on [(1 - m)^4, P_fg] and [(1 - m)^32, P_fg]
    assert len(crf.calls) == 2
    m = cams[0].max(0).values.numpy()
    np.testing.assert_allclose(crf.calls[0][0], (1 - m)**4, rtol=1e-6)
    np.testing.assert_allclose(crf.calls[1][0], (1 - m)**32, rtol=1e-5)
    np.testing.assert_array_equal(crf.calls[0][1:], cams[0].numpy())


def test_mining_code_mode_absent_classes_and_no_cam_above_min():
    cams = _row([0.9, 0.8, 0.0, 0.0], [0.05, 0.06, 0.0, 0.0])
    crf = _NormaliseCRF()
    mining = ReliableRegionMining(crf=crf, crf_workers=0)
    image = np.zeros((1, 4, 3), np.uint8)
    # class 2 absent: its CAM is dropped before the CRF (compact set)
    got = mining([image], cams, torch.tensor([[1.0, 0.0]]))
    assert crf.calls[0].shape[0] == 2
    assert (got[0, 0, :2] != 2).all()
    # class 2 present but no value above min_cam: no sure region
    crf2 = _NormaliseCRF()
    cams2 = _row([0.0, 0.0, 0.0, 0.0], [0.05, 0.06, 0.0, 0.0])
    got2 = ReliableRegionMining(crf=crf2, crf_workers=0)(
        [image], cams2, torch.tensor([[0.0, 1.0]]))
    assert not (got2 == 2).any()


def test_mining_paper_mode_hand_worked():
    # P_bg = (1 - m)^4; argmax classes and per-class top 40 % (>=)
    c1 = [0.9, 0.8, 0.7, 0.6, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]
    c2 = [0.0] * 5 + [0.0, 0.0, 0.0, 0.0, 0.99]
    cams = _row(c1, c2)
    crf = _NormaliseCRF(last_to_bg=True)
    mining = ReliableRegionMining(mining='paper', crf=crf, crf_workers=0)
    image = np.zeros((1, 10, 3), np.uint8)
    got = mining([image], cams, torch.tensor([[1.0, 1.0]]))[0, 0].tolist()
    # class 1: 5 argmax pixels, scores .9 .8 .7 .6 .5 sorted [.5 .. .9],
    # k = floor(.6 * 5) = 3 -> t = .8: keeps .9, .8
    # background: 4 pixels with score 1 (m = 0): k = 2, t = 1, keeps all 4
    # class 2: 1 pixel, k = 0, t = .99, kept by I_cam, but the CRF says
    # background there: I_cam != I_crf -> ignored
    assert got == [1, 1, IGN, IGN, IGN, 0, 0, 0, 0, IGN]
    assert len(crf.calls) == 1
    m = cams[0].max(0).values.numpy()
    np.testing.assert_allclose(crf.calls[0][0], (1 - m)**4, rtol=1e-6)


def test_mining_real_crf_in_a_pool_matches_in_process():
    pytest.importorskip('pydensecrf')
    rng = np.random.RandomState(0)
    image = rng.randint(0, 255, (2, 24, 32, 3)).astype(np.uint8)
    cams = torch.rand(2, 3, 24, 32)**3
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    a = ReliableRegionMining(crf_workers=0)(list(image), cams, labels)
    pooled = ReliableRegionMining(crf_workers=2)
    try:
        b = pooled(list(image), cams, labels)
        # the pool survives calls and is not copied with the owner
        c = pooled(list(image), cams, labels)
        clone = copy.deepcopy(pooled)
        assert clone._pool is None
    finally:
        pooled.close()
    assert torch.equal(a, b) and torch.equal(b, c)
    assert set(torch.unique(a).tolist()) <= {0, 1, 2, 3, IGN}
    assert not (a[0] == 2).any() and not (a[1] == 1).any()


@pytest.mark.parametrize('kwargs,match', [
    (dict(mining='x'), 'mining'),
    (dict(top_ratio=0), 'top_ratio'),
    (dict(crf_sure=2), 'crf_sure'),
    (dict(alpha_lo=0), 'alpha_lo'),
    (dict(crf=dict(type='DenseCRF', preset='label')), 'softmax'),
])
def test_mining_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReliableRegionMining(**kwargs)


# ---------------------------------------------------------------- model
@MODELS.register_module(name='_RRMTestNet', force=True)
class _RRMTestNet(nn.Module):
    """Stride-8 toy backbone with dropout (so train-mode passes differ)."""

    def __init__(self, channels=8, drop=0.0):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, stride=8, padding=1)
        self.drop = nn.Dropout2d(drop)

    def forward(self, x):
        return (self.drop(F.relu(self.conv(x))), )


def _model_cfg(**over):
    cfg = dict(
        type='RRM',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True),
        backbone=dict(type='_RRMTestNet'),
        cam_head=dict(
            type='CAMHead',
            in_channels=8,
            num_classes=3,
            dropout_ratio=0.5,
            init_std_mode='xavier'),
        decode_head=dict(
            type='RRMSegHead',
            in_channels=8,
            channels=6,
            num_classes=4,
            dilation=2,
            loss_decode=[dict(type='BgFgCrossEntropyLoss')]),
        mining=dict(type='ReliableRegionMining', crf_workers=0))
    cfg.update(over)
    return cfg


def _batch(B=2, H=40, W=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, 3, H, W, generator=g)
    samples = []
    for i in range(B):
        ds = SegDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(H, W)))
        ds.gt_img_labels = torch.tensor([1.0, 0.0, 1.0]) if i == 0 else \
            torch.tensor([0.0, 1.0, 0.0])
        valid = torch.ones(1, H, W, dtype=torch.bool)
        valid[:, :, W - 8:] = False
        ds.gt_valid = PixelData(data=valid)
        samples.append(ds)
    return x, samples


def test_training_cams_equal_a_per_scale_loop():
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg()).eval()
    x, samples = _batch()
    labels = torch.stack([ds.gt_img_labels for ds in samples])
    feats = model.extract_feat(x)
    cam1 = model.cam_head(feats[0])
    got = model.training_cams(x, cam1, labels)
    # reference: one loop over the four scales, per image
    H, W = x.shape[-2:]
    h, w = cam1.shape[-2:]
    for b in range(x.shape[0]):
        maps = []
        for s in (1.0, 0.5, 1.5, 2.0):
            xs = F.interpolate(
                x[b:b + 1], (int(H * s), int(W * s)),
                mode='bilinear',
                align_corners=False)
            cam = F.relu(model.cam_head(model.backbone(xs)[0]))
            maps.append(
                F.interpolate(
                    cam, (h, w), mode='bilinear', align_corners=False))
        cam = sum(maps) / 4
        up = F.interpolate(cam, (H, W), mode='bilinear',
                           align_corners=False)[0]
        for k in range(3):
            if labels[b, k] > 0:
                want = up[k] / (up[k].max() + 1e-5)
            else:
                want = torch.zeros_like(up[k])
            torch.testing.assert_close(got[b, k], want, rtol=1e-5,
                                       atol=1e-6)


def test_train_step_losses_and_gradients():
    pytest.importorskip('pydensecrf')
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg())
    model.init_weights()
    model.train()
    x, samples = _batch()
    losses = model.loss(x, samples)
    for key in ('loss_cls', 'decode.loss_ce', 'time_mining',
                'seed_fg_ratio', 'seed_ignore_ratio', 'acc_cls'):
        assert key in losses, sorted(losses)
    assert torch.isfinite(losses['decode.loss_ce'])
    ratios = sum(losses[f'seed_{k}_ratio'].item()
                 for k in ('fg', 'bg', 'ignore'))
    assert ratios == pytest.approx(1.0)
    total = losses['loss_cls'] + losses['decode.loss_ce']
    total.backward()
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0
    assert model.cam_head.classifier.weight.grad.abs().sum() > 0
    # phase 'cls': L_cls only, the decode head still in the graph (DDP)
    model.zero_grad()
    model.set_phase('cls')
    losses = model.loss(x, samples)
    assert 'decode.loss_ce' not in losses and 'time_mining' not in losses
    (losses['loss_cls'] + losses['decode.loss_zero']).backward()
    assert model.decode_head.conv_seg.weight.grad is not None
    assert model.decode_head.conv_seg.weight.grad.abs().sum() == 0


def test_mined_labels_reach_the_head_and_ignore_outside_roi(monkeypatch):
    model = MODELS.build(
        _model_cfg(train_cfg=dict(ignore_outside_roi=True)))
    x, samples = _batch()
    seen = {}

    def fake_mining(images, cams, labels):
        seen['images'] = images
        return torch.zeros(cams.shape[0], *cams.shape[-2:],
                           dtype=torch.long)

    fake_mining.ignore_index = IGN
    model.mining = fake_mining

    def spy(seg, batch):
        seen['labels'] = torch.stack([d.gt_sem_seg.data[0] for d in batch])
        seen['rgb'] = torch.stack([d.gt_rgb.data for d in batch])
        return {'loss_ce': seg.sum() * 0}

    monkeypatch.setattr(model.decode_head, 'loss_by_feat', spy)
    model.loss(x, samples)
    W = x.shape[-1]
    assert (seen['labels'][:, :, W - 8:] == IGN).all()
    assert (seen['labels'][:, :, :W - 8] == 0).all()
    # the CRF images are the round-denormalised inputs
    dp = model.data_preprocessor
    want = (x * dp.std.view(1, -1, 1, 1) + dp.mean.view(1, -1, 1, 1)
            ).clamp(0, 255).round()
    torch.testing.assert_close(seen['rgb'], want)
    np.testing.assert_array_equal(
        np.stack(seen['images']),
        want.permute(0, 2, 3, 1).numpy().astype(np.uint8))


def test_any_mmseg_decode_head_drops_in():
    pytest.importorskip('pydensecrf')
    cfg = _model_cfg(decode_head=dict(
        type='ASPPHead',
        in_channels=8,
        channels=4,
        dilations=(1, 2),
        num_classes=4,
        dropout_ratio=0.0,
        norm_cfg=None,
        loss_decode=[dict(type='BgFgCrossEntropyLoss')]))
    model = MODELS.build(cfg).train()
    x, samples = _batch()
    losses = model.loss(x, samples)
    assert torch.isfinite(losses['decode.loss_ce'])
    out = model.eval().predict(x, samples)
    assert out[0].pred_sem_seg.data.shape == (1, 40, 48)


def test_rrm_seg_head_shape_and_xavier_init():
    head = MODELS.build(
        dict(type='RRMSegHead', in_channels=16, channels=8, num_classes=5))
    assert head.conv.dilation == (12, 12) and head.conv.padding == (12, 12)
    assert head.conv_seg.kernel_size == (3, 3)
    out = head([torch.randn(2, 16, 9, 11)])
    assert out.shape == (2, 5, 9, 11)
    # Xavier-uniform bound sqrt(6 / (fan_in + fan_out))
    bound = math.sqrt(6 / (16 * 9 + 8 * 9))
    w = head.conv.weight
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound


def test_predict_with_and_without_crf():
    pytest.importorskip('pydensecrf')
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg()).eval()
    x, samples = _batch(B=1)
    plain = model.predict(x, copy.deepcopy(samples))[0]
    logits = model.encode_decode(x, [samples[0].metainfo])
    assert torch.equal(plain.pred_sem_seg.data[0], logits[0].argmax(0))
    model.test_cfg['crf'] = 'rrm_test'  # a preset name, as on the CLI
    crf = model.predict(x, copy.deepcopy(samples))[0]
    assert model._test_crf.params['bilateral_sxy'] == 83
    q = crf.seg_logits.data
    torch.testing.assert_close(q.sum(0), torch.ones(40, 48), rtol=1e-4,
                               atol=1e-4)
    assert torch.equal(crf.pred_sem_seg.data[0], q.argmax(0))


def test_rrm_checks_class_counts():
    with pytest.raises(ValueError, match='num_classes'):
        MODELS.build(_model_cfg(decode_head=dict(
            type='RRMSegHead', in_channels=8, channels=6, num_classes=3)))


def test_official_optimiser_groups_of_the_voc_config():
    """configs/rrm_wr38_voc.py: four groups from the Conv2d layers only
    (frozen BN and conv1a are not optimised), fc8 and the segmentation
    convolutions at 10x (weights) / 20x (biases, no decay)."""
    import os.path as osp

    from mmengine import Config
    from mmengine.optim import build_optim_wrapper
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(osp.join(root, 'configs', 'rrm_wr38_voc.py'))
    cfg.model.mining.crf_workers = 0
    model = MODELS.build(cfg.model)
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.\
        param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    by = {
        g['name']: (g['lr'], g['weight_decay'], [names[id(p)]
                                                 for p in g['params']])
        for g in groups
    }
    lr, wd = 7e-4, 1e-5
    # WR38 convolutions have no bias: three non-empty groups
    assert set(by) == {'backbone_weight', 'new_weight', 'new_bias'}
    assert by['backbone_weight'][:2] == (pytest.approx(lr), wd)
    assert by['new_weight'][:2] == (pytest.approx(10 * lr), wd)
    assert by['new_bias'][:2] == (pytest.approx(20 * lr), 0)
    convs = {
        f'{n}.weight'
        for n, m in model.backbone.named_modules(prefix='backbone')
        if isinstance(m, nn.Conv2d)
    }
    assert set(by['backbone_weight'][2]) == convs - {'backbone.conv1a.weight'}
    assert sorted(by['new_weight'][2]) == [
        'cam_head.classifier.weight', 'decode_head.conv.weight',
        'decode_head.conv_seg.weight'
    ]
    assert sorted(by['new_bias'][2]) == [
        'decode_head.conv.bias', 'decode_head.conv_seg.bias'
    ]
    opt = cfg.optim_wrapper.optimizer
    assert opt.momentum == wd and opt.nesterov is False
