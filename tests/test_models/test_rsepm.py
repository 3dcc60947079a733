"""RSEPM segmentor: phases and losses, stop-gradients, drop-in decode heads,
single-stage inference of RS+EPM (decoder, L_rec / EPM data flow, phase
schedule, multi-scale flip inference)."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.structures import PixelData
from mmseg.registry import HOOKS, MODELS
from mmseg.structures import SegDataSample
from torch.utils.data import Dataset

from mmwsss.models.losses import multilabel_soft_margin_loss, recurseed_loss
from mmwsss.models.refiners import DenseCRF

K = 3
S = 64  # crop
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]

HEADS = dict(
    dsaspp=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=64,
        in_index=3,
        channels=16,
        dilations=(1, 6, 12, 18),
        c1_in_channels=8,
        c1_channels=4,
        dropout_ratio=0.1,
        num_classes=K + 1,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)),
    official=dict(
        type='RSEPMDecoderHead',
        in_channels=64,
        channels=16,
        c1_in_channels=8,
        c1_channels=4,
        num_classes=K + 1,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)),
    aspp=dict(
        type='ASPPHead',
        in_channels=64,
        in_index=3,
        channels=16,
        dilations=(1, 6, 12, 18),
        num_classes=K + 1,
        norm_cfg=dict(type='BN', requires_grad=True),
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)),
    uper=dict(
        type='UPerHead',
        in_channels=[8, 16, 32, 64],
        in_index=[0, 1, 2, 3],
        channels=16,
        pool_scales=(1, 2, 3, 6),
        num_classes=K + 1,
        norm_cfg=dict(type='BN', requires_grad=True),
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)),
)


def _cfg(head='dsaspp', **kwargs):
    """Tiny ResNet-18-like (C2..C5 = 8, 16, 32, 64 ch, OS16)."""
    cfg = dict(
        type='RSEPM',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=MEAN,
            std=STD,
            size=(S, S),
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255),
        backbone=dict(
            type='ResNet',
            depth=18,
            stem_channels=8,
            base_channels=8,
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 1),
            out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='BN', requires_grad=True),
            init_cfg=None),
        cam_head=dict(type='CAMHead', in_channels=64, num_classes=K),
        decode_head=copy.deepcopy(HEADS[head]),
        pamr=dict(type='PAMR', dilations=(1, 2), num_iter=3))
    cfg.update(kwargs)
    return cfg


def _build(head='dsaspp', seed=0, **kwargs):
    torch.manual_seed(seed)
    return MODELS.build(_cfg(head, **kwargs))


LABELS = [[1., 0., 0.], [0., 1., 1.]]


def _samples(labels=LABELS, size=S, valid_rows=None, img_shape=None):
    out = []
    for i, lab in enumerate(labels):
        ds = SegDataSample()
        shape = img_shape or (size, size)
        ds.set_metainfo(dict(img_shape=shape, ori_shape=shape))
        ds.gt_img_labels = torch.tensor(lab, dtype=torch.float32)
        if valid_rows is not None:
            v = torch.zeros(1, *shape, dtype=torch.uint8)
            v[:, :valid_rows[i]] = 1
            ds.gt_valid = PixelData(data=v)
        out.append(ds)
    return out


def _inputs(b=2, size=S, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, size, size, generator=g)


# ---------------------------------------------------------------- phases
BASE_KEYS = {'loss_cls', 'acc_cls'}
RS_KEYS = BASE_KEYS | {
    'decode.loss_ce', 'decode.acc_seg', 'loss_rec', 'seed_fg_ratio',
    'seed_ignore_ratio'
}
EPM_KEYS = RS_KEYS | {
    'mix.decode.loss_ce', 'mix.decode.acc_seg', 'mix.loss_rec', 'ep_fg_ratio',
    'ep_ignore_ratio'
}


@pytest.mark.parametrize('mixed_forward', ['concat', 'separate'])
def test_phases_change_the_set_of_losses(mixed_forward):
    model = _build(mixed_forward=mixed_forward).train()
    x, samples = _inputs(), _samples(valid_rows=[S, 40])
    expected = dict(cls=BASE_KEYS, rs=RS_KEYS, rs_epm=EPM_KEYS)
    for phase in ('cls', 'rs', 'rs_epm'):
        model.set_phase(phase)
        losses = model.loss(x, samples)
        assert set(losses) == expected[phase], phase
        for k, v in losses.items():
            assert torch.isfinite(v).all(), k
            if 'loss' not in k:
                assert not v.requires_grad, k
    # the cls loss is the MLSM of the image logits of the forward of I
    model.set_phase('cls')
    with torch.no_grad():
        losses = model.loss(x, samples)
        logits = model.extract_cam(x).mean(dim=(2, 3))
    ref = multilabel_soft_margin_loss(logits, torch.tensor(LABELS))
    assert losses['loss_cls'].item() == pytest.approx(ref.item(), rel=1e-5)
    with pytest.raises(ValueError):
        model.set_phase('seg')


def test_use_cls_mix_adds_the_mixed_classification_loss():
    model = _build(use_cls_mix=True).train()
    losses = model.loss(_inputs(), _samples())
    assert set(losses) == EPM_KEYS | {'mix.loss_cls'}
    assert torch.isfinite(losses['mix.loss_cls'])


@pytest.mark.parametrize('mixed_forward', ['concat', 'separate'])
def test_mixed_losses_match_a_step_by_step_reference(mixed_forward):
    """With BN in eval mode and no dropout every sample is independent, so
    both forward modes must give the losses of the RS+EPM data flow
    recomputed here step by step (seeds -> EPM -> mixed forward)."""
    cfg = _cfg(mixed_forward=mixed_forward)
    cfg['decode_head']['dropout_ratio'] = 0.0
    torch.manual_seed(0)
    model = MODELS.build(cfg).train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    ref = copy.deepcopy(model)
    x, samples = _inputs(), _samples(valid_rows=[S, 40])
    labels = torch.tensor(LABELS)
    with torch.no_grad():
        losses = model.loss(x, samples)
        valid = ref.valid_mask(x, samples)
        feats, cam, logits, seg = ref._network(x)
        seeds = ref.compute_seeds(x, feats, cam, labels, valid)
        v4 = seeds['valid4']
        ep = ref.edge_predict(
            x, seg, labels, valid4=v4, seg_labels=seeds['seg_labels'])
        mixed = ref.mix(x, valid, ep, seeds['rs_maps'], labels)
        _, cam_m, _, seg_m = ref._network(mixed['inputs'])
        v4 = seeds['valid4']
        vm4 = ref.downsample_valid(mixed['valid'], (16, 16))
        expected = {
            'loss_cls':
            multilabel_soft_margin_loss(logits, labels),
            'loss_rec':
            recurseed_loss(cam, seeds['rs_maps'], labels, v4),
            'decode.loss_ce':
            F.cross_entropy(seg, seeds['seg_labels'], ignore_index=255),
            'mix.loss_rec':
            recurseed_loss(cam_m, mixed['rs_maps'], mixed['img_labels'], vm4),
            'mix.decode.loss_ce':
            F.cross_entropy(seg_m, mixed['seg_labels'], ignore_index=255),
        }
    assert (mixed['seg_labels'] != seeds['seg_labels']).any()
    for k, v in expected.items():
        assert losses[k].item() == pytest.approx(v.item(), rel=1e-4), k


# ---------------------------------------------------------------- seeds
def test_seeds_and_mixing_carry_no_gradient():
    model = _build().train()
    x = _inputs().requires_grad_(True)
    samples = _samples(valid_rows=[S, 40])
    feats, cam, _, seg = model._network(x)
    assert cam.requires_grad and seg.requires_grad
    labels = torch.tensor(LABELS)
    valid = model.valid_mask(x, samples)
    seeds = model.compute_seeds(x, feats, cam, labels, valid)
    for k, v in seeds.items():
        assert not v.requires_grad, k
    assert seeds['rs_maps'].shape == (2, K, 16, 16)
    assert seeds['seg_labels'].dtype == torch.long
    mixed = model._edge_predict_mix(x, valid, seg, seeds, labels)
    for k, v in mixed.items():
        if isinstance(v, torch.Tensor):
            assert not v.requires_grad, k


def test_rec_gradient_equals_reference_with_detached_seed_copy():
    """The gradient of L_rec in loss() is that of L1(norm(A), M_rs) with M_rs
    computed by an independent, fully detached copy of the model."""
    model = _build().train()
    model.set_phase('rs')
    x, samples = _inputs(), _samples(valid_rows=[S, 40])
    labels = torch.tensor(LABELS)
    ref_model = copy.deepcopy(model)
    losses = model.loss(x, samples)
    losses['loss_rec'].backward()
    got = {
        n: p.grad.clone()
        for n, p in model.named_parameters() if p.grad is not None
    }
    assert any(n.startswith('backbone.') for n in got)
    assert not any(n.startswith('decode_head.') for n in got)

    # reference: seeds from a detached copy, L_rec written from its formula
    with torch.no_grad():
        feats_d = ref_model.extract_feat(x)
        cam_d = ref_model.extract_cam(x)
        seeds = ref_model.compute_seeds(x, feats_d, cam_d, labels,
                                        ref_model.valid_mask(x, samples))
    ref_model.zero_grad()
    cam = ref_model.extract_cam(x)
    r = F.relu(cam)
    norm = r / (r.amax(dim=(2, 3), keepdim=True) + 1e-5)
    up = F.interpolate(norm, (16, 16), mode='bilinear', align_corners=False)
    v4 = seeds['valid4'][:, None].float() * labels[:, :, None, None]
    ref = ((up - seeds['rs_maps']).abs() * v4).sum() / v4.sum()
    assert losses['loss_rec'].item() == pytest.approx(ref.item(), rel=1e-5)
    ref.backward()
    for n, p in ref_model.named_parameters():
        if n in got:
            torch.testing.assert_close(got[n], p.grad, rtol=1e-4, atol=1e-7)
        else:
            assert p.grad is None or p.grad.abs().max() == 0, n


def test_valid_mask_and_seed_labels_outside_valid_are_ignored():
    model = _build().train()
    x = _inputs(b=3)
    samples = _samples(labels=LABELS + [[1., 1., 0.]], valid_rows=[S, 40, 0])
    # third sample: no gt_valid, unpadded region 48 x 56 of the batch
    del samples[2].gt_valid
    samples[2].set_metainfo(dict(img_shape=(48, 56)))
    valid = model.valid_mask(x, samples)
    ref = torch.zeros(3, S, S, dtype=torch.bool)
    ref[0] = True
    ref[1, :40] = True
    ref[2, :48, :56] = True
    assert torch.equal(valid, ref)
    v4 = model.downsample_valid(valid, (16, 16))
    assert torch.equal(v4, ref[:, ::4, ::4])
    feats, cam, _, _ = model._network(x)
    seeds = model.compute_seeds(x, feats, cam,
                                torch.tensor(LABELS + [[1., 1., 0.]]), valid)
    lab = seeds['seg_labels']
    assert torch.all(lab[~v4] == 255)
    ok = lab[v4]
    assert torch.all((ok == 255) | ((ok >= 0) & (ok <= K)))
    # absent classes never appear
    assert not torch.any(lab[0] == 2) and not torch.any(lab[0] == 3)
    assert not torch.any(lab[1] == 1)


def test_scg_stride8_grid_matches_the_loop_reference():
    """``scg_grid='stride8'`` with every level (C2..C5): SCG of the
    normalised CAM and the levels bilinearly resized to the ceil(H/8) grid,
    against the per-image / per-class loop of test_scg.py; M_rs is PAMR of
    that map at stride 4."""
    from test_scg import ref_scg
    size = 48  # stride-8 grid 6 x 6 (N = 36), CAM grid 3 x 3
    model = _build(scg_grid='stride8', scg_in_index=(0, 1, 2, 3)).train()
    x = _inputs(size=size)
    labels = torch.tensor(LABELS)
    valid = torch.ones(2, size, size, dtype=torch.bool)
    with torch.no_grad():
        feats, cam, _, _ = model._network(x)
        seeds = model.compute_seeds(x, feats, cam, labels, valid)
    assert cam.shape[-2:] == (3, 3)
    assert seeds['scg_maps'].shape == (2, K, 6, 6)
    # the reference, from the formulas: relu(A) / (max + 1e-5) * Y, resized
    a = cam.double().clamp_min(0)
    cam_n = a / (a.amax(dim=(2, 3), keepdim=True) + 1e-5)
    cam_n = cam_n * labels.double()[:, :, None, None]
    cam8 = F.interpolate(cam_n, (6, 6), mode='bilinear', align_corners=False)
    levels = [
        F.interpolate(f.double(), (6, 6), mode='bilinear',
                      align_corners=False) for f in feats
    ]
    ref = ref_scg(cam8.numpy(), [f.numpy() for f in levels], labels.numpy())
    np.testing.assert_allclose(
        seeds['scg_maps'].numpy(), ref, atol=1e-4)
    rs = model.pamr(x, F.interpolate(
        seeds['scg_maps'], (12, 12), mode='bilinear', align_corners=False))
    torch.testing.assert_close(seeds['rs_maps'], rs)
    with pytest.raises(ValueError, match='scg_grid'):
        _build(scg_grid='stride4')


def test_rec_resolution_cam_grid():
    model = _build(train_cfg=dict(rec_resolution='cam')).train()
    model.set_phase('rs')
    x, samples = _inputs(), _samples()
    ref_model = copy.deepcopy(model)
    losses = model.loss(x, samples)
    labels = torch.tensor(LABELS)
    with torch.no_grad():
        feats, cam, _, _ = ref_model._network(x)
        seeds = ref_model.compute_seeds(x, feats, cam, labels,
                                        ref_model.valid_mask(x, samples))
        target = F.interpolate(
            seeds['rs_maps'], (4, 4), mode='bilinear', align_corners=False)
        ref = recurseed_loss(cam, target, labels)
    assert losses['loss_rec'].item() == pytest.approx(ref.item(), rel=1e-5)


# ---------------------------------------------------------------- heads
@pytest.mark.parametrize('head', ['dsaspp', 'official', 'aspp', 'uper'])
def test_decode_heads_drop_in_and_train_one_step(head):
    from mmengine.optim import OptimWrapper
    model = _build(head).train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    g = torch.Generator().manual_seed(0)
    data = dict(
        inputs=[
            torch.randint(0, 256, (3, S, S), dtype=torch.uint8, generator=g)
            for _ in range(2)
        ],
        data_samples=_samples(valid_rows=[S, 48]))
    before = copy.deepcopy(model.state_dict())
    log_vars = model.train_step(data, optim)
    assert {'loss', 'mix.loss_rec', 'decode.loss_ce'} <= set(log_vars)
    assert all(np.isfinite(float(v)) for v in log_vars.values())
    after = model.state_dict()
    changed = {
        k.split('.')[0]
        for k in before if not torch.equal(before[k], after[k])
    }
    assert {'backbone', 'cam_head', 'decode_head'} <= changed


@pytest.mark.parametrize('phase', ['rs', 'rs_epm'])
def test_every_parameter_gets_a_gradient(phase):
    """DDP without find_unused_parameters works in the seed phases."""
    for mixed in ('concat', 'separate'):
        model = _build(mixed_forward=mixed).train()
        model.set_phase(phase)
        losses = model.loss(_inputs(), _samples())
        loss, _ = model.parse_losses(losses)
        loss.backward()
        for n, p in model.named_parameters():
            assert p.grad is not None, (mixed, n)


def test_cls_phase_decoder_modes_and_base_config_ddp_flag():
    model = _build().train()
    model.set_phase('cls')
    loss, _ = model.parse_losses(model.loss(_inputs(), _samples()))
    loss.backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert unused and all(n.startswith('decode_head.') for n in unused)
    # hence the base config turns on find_unused_parameters ...
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/rsepm.py'))
    assert cfg.find_unused_parameters is True
    # ... or 'zero_loss' gives every parameter a (zero) gradient
    model = _build(train_cfg=dict(cls_phase_decoder='zero_loss')).train()
    model.set_phase('cls')
    losses = model.loss(_inputs(), _samples())
    assert losses['decode.loss_ce'].item() == 0
    loss, _ = model.parse_losses(losses)
    loss.backward()
    for n, p in model.named_parameters():
        assert p.grad is not None, n
        if n.startswith('decode_head.'):
            assert p.grad.abs().max() == 0


def test_base_config_builds_with_every_key():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/rsepm.py'))
    m = cfg.model
    assert m.type == 'RSEPM'
    assert m.decode_head.type == 'DepthwiseSeparableASPPHead'
    assert m.decode_head.loss_decode.avg_non_ignore is True
    assert tuple(m.test_cfg.scales) == (1.0, 0.5, 1.5, 2.0)
    assert m.test_cfg.conf_th == 0.34 and m.test_cfg.bg_gamma == 2.0
    tiny = _cfg()
    m.backbone = tiny['backbone']
    m.cam_head.update(in_channels=64, num_classes=K)
    m.decode_head = tiny['decode_head']
    model = MODELS.build(m)
    assert model.pamr.dilations == (1, 2, 4, 8, 12, 24)
    assert model.certain_filter.certain_th == 0.55
    assert model.loss_rec.form == 'l1_norm_cam'
    assert model.scg_in_index == (2, 3) and model.phase == 'rs_epm'


# ---------------------------------------------------------------- inference
def _loop_predict_seed(model, x, scales, flip, conf_th, labels=None):
    """RS+EPM seed inference written as loops over images, scales and
    flips."""
    B, _, H, W = x.shape
    seeds, presents = [], []
    for b in range(B):
        probs, sigs = [], []
        for s in scales:
            size = (int(H * s), int(W * s))
            xs = F.interpolate(
                x[b:b + 1], size=size, mode='bilinear', align_corners=False)
            for f in ((False, True) if flip else (False, )):
                xi = xs.flip(-1) if f else xs
                feats = model.backbone(xi)
                seg = model.decode_head(feats)
                z = model.cam_head(feats[-1]).mean(dim=(2, 3))
                p = F.interpolate(seg, size=size, mode='nearest').softmax(1)
                p = F.interpolate(p, size=(H, W), mode='nearest')
                probs.append(p.flip(-1) if f else p)
                sigs.append(torch.sigmoid(z))
        p = torch.cat(probs).mean(0)
        if labels is None:
            present = torch.cat(sigs).mean(0) >= conf_th
        else:
            present = labels[b] > 0.5
        seed = torch.zeros(K, H, W)
        for c in range(K):
            if present[c]:
                seed[c] = p[c + 1] / (p[c + 1].max() + 1e-5)
        seeds.append(seed)
        presents.append(present)
    return torch.stack(seeds), torch.stack(presents)


def _trained_eval_model(**kwargs):
    model = _build(**kwargs)
    # non-trivial BN statistics for eval mode
    model.train()
    with torch.no_grad():
        for i in range(3):
            model._network(_inputs(b=4, seed=10 + i))
    return model.eval()


def test_predict_seed_matches_loop_reference():
    model = _trained_eval_model(
        test_cfg=dict(scales=(1.0, 0.5, 1.5), conf_th=0.5))
    x = _inputs(size=48)
    with torch.no_grad():
        seed, present = model.predict_seed(x)
        ref_seed, ref_present = _loop_predict_seed(model, x, (1.0, 0.5, 1.5),
                                                   True, 0.5)
    assert torch.equal(present, ref_present)
    torch.testing.assert_close(seed, ref_seed, rtol=1e-4, atol=1e-5)
    labels = torch.tensor(LABELS)
    with torch.no_grad():
        seed, present = model.predict_seed(x, labels)
        ref_seed, _ = _loop_predict_seed(model, x, (1.0, 0.5, 1.5), True, 0.5,
                                         labels)
    assert torch.equal(present, labels > 0.5)
    torch.testing.assert_close(seed, ref_seed, rtol=1e-4, atol=1e-5)
    assert not seed.requires_grad


@pytest.mark.parametrize('use_gt', [True, False])
def test_predict_labels_are_argmax_of_bg_and_seed(use_gt):
    model = _trained_eval_model(
        test_cfg=dict(use_gt_labels=use_gt, conf_th=0.5, bg_gamma=2.0))
    x, samples = _inputs(), _samples()
    with torch.no_grad():
        results = model.predict(x, copy.deepcopy(samples))
        seed, present = model.predict_seed(
            x,
            torch.tensor(LABELS) if use_gt else None)
    if use_gt:
        assert torch.equal(present, torch.tensor(LABELS) > 0.5)
    for b, ds in enumerate(results):
        keys = [0] + [c + 1 for c in range(K) if present[b, c]]
        bg = (1 - seed[b].max(dim=0).values)**2
        stack = torch.stack([bg] + [seed[b, k - 1] for k in keys[1:]])
        ref = torch.tensor(keys)[stack.argmax(0)]
        assert ds.pred_sem_seg.data.shape == (1, S, S)
        assert torch.equal(ds.pred_sem_seg.data[0], ref)
        assert ds.seg_logits.data.shape == (K + 1, S, S)
        torch.testing.assert_close(ds.seg_logits.data[0], bg)
        assert ds.cam_keys.tolist() == keys
        torch.testing.assert_close(ds.pred_cam.data,
                                   seed[b, [k - 1 for k in keys[1:]]])


def test_predict_without_present_class_is_background():
    model = _trained_eval_model(test_cfg=dict(conf_th=1.1))
    with torch.no_grad():
        results = model.predict(_inputs(), _samples())
    for ds in results:
        assert torch.all(ds.pred_sem_seg.data == 0)
        assert ds.cam_keys.tolist() == [0]


def test_predict_restores_padding_and_original_shape():
    model = _trained_eval_model(
        test_cfg=dict(use_gt_labels=True, scales=(1.0, )))
    x = _inputs(b=1)
    ds = _samples(labels=[LABELS[1]])[0]
    # the test pipeline resized a 40 x 50 image to 48 x 60 and padded to 64
    ds.set_metainfo(
        dict(
            img_shape=(48, 60), ori_shape=(40, 50), padding_size=[0, 4, 0,
                                                                  16]))
    with torch.no_grad():
        res = model.predict(x, [ds])[0]
        seed, _ = model.predict_seed(x, torch.tensor([LABELS[1]]))
    assert res.pred_sem_seg.data.shape == (1, 40, 50)
    scores = torch.cat([(1 - seed.amax(1, keepdim=True))**2, seed], 1)
    ref = F.interpolate(
        scores[:, :, :48, :60], (40, 50), mode='bilinear',
        align_corners=False)[0]
    torch.testing.assert_close(res.seg_logits.data, ref)
    assert torch.equal(res.pred_sem_seg.data[0], ref.argmax(0))


def test_predict_with_crf_uses_the_original_image():
    pytest.importorskip('pydensecrf')
    model = _trained_eval_model(
        test_cfg=dict(
            use_gt_labels=True,
            scales=(1.0, ),
            crf=dict(type='DenseCRF', preset='rsepm')))
    g = torch.Generator().manual_seed(3)
    imgs = [
        torch.randint(0, 256, (3, S, S), dtype=torch.uint8, generator=g)
        for _ in range(2)
    ]
    data = model.data_preprocessor(
        dict(inputs=imgs, data_samples=_samples()), False)
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
        seed, present = model.predict_seed(data['inputs'],
                                           torch.tensor(LABELS))
    crf = DenseCRF('rsepm')
    for b, ds in enumerate(results):
        keys = np.array([0] + [c + 1 for c in range(K) if present[b, c]])
        bg = (1 - seed[b].max(dim=0).values)**2
        probs = torch.cat([bg[None], seed[b, keys[1:] - 1]]).numpy()
        # packed images are BGR; the CRF needs RGB
        rgb = np.ascontiguousarray(imgs[b].flip(0).permute(1, 2, 0).numpy())
        q = crf.refine_probs(rgb, probs)
        ref = keys[q.argmax(0)]
        assert np.array_equal(ds.pred_sem_seg.data[0].numpy(), ref)
        np.testing.assert_allclose(
            ds.seg_logits.data[keys].numpy(), q, rtol=1e-5, atol=1e-6)
        assert ds.cam_keys.tolist() == keys.tolist()


def test_crf_image_denormalisation_round_or_truncate():
    """The CRF image: 'round' restores the uint8 image exactly, 'truncate'
    (the official Denormalize) floors the denormalised floats."""
    from mmseg.structures import SegDataSample
    model = _build(test_cfg=dict(crf_denorm='truncate'))
    img = torch.arange(256, dtype=torch.uint8).view(1, 1, 256).expand(
        3, 1, 256).contiguous()  # every value, in every channel
    x = model.data_preprocessor(dict(inputs=[img]), False)['inputs']
    ds = SegDataSample(metainfo=dict(ori_shape=(1, 256)))
    # the float round trip: v -> (v - m) / s -> * s + m, per channel
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    back = (x[0] * std + mean)  # (3, 1, 4) float32, RGB order
    want = back.clamp(0, 255).trunc().byte().permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(model._image_u8(x, ds, 0), want)
    orig = img.flip(0).permute(1, 2, 0).numpy()
    assert (want <= orig).all() and (want < orig).any()
    model.test_cfg['crf_denorm'] = 'round'
    np.testing.assert_array_equal(
        model._image_u8(x, ds, 0),
        img.flip(0).permute(1, 2, 0).numpy())  # BGR in, RGB out
    with pytest.raises(ValueError, match='crf_denorm'):
        _build(test_cfg=dict(crf_denorm='floor'))


def test_extract_cam_and_forward_shapes():
    model = _build().eval()
    x = _inputs(size=48)
    with torch.no_grad():
        cam = model.extract_cam(x)
        ref = model.cam_head(model.backbone(x)[-1])
        out_cam, seg = model(x, mode='tensor')
    assert cam.shape == (2, K, 3, 3)
    torch.testing.assert_close(cam, ref)
    torch.testing.assert_close(out_cam, cam)
    assert seg.shape == (2, K + 1, 12, 12)


# ---------------------------------------------------------------- runner
class _ToyDataset(Dataset):
    metainfo = dict(classes=('background', 'a', 'b', 'c'))

    def __len__(self):
        return 4

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        ds = SegDataSample()
        ds.set_metainfo(dict(img_shape=(S, S), ori_shape=(S, S)))
        ds.gt_img_labels = torch.tensor(LABELS[i % 2])
        img = torch.randint(0, 256, (3, S, S), dtype=torch.uint8, generator=g)
        return dict(inputs=img, data_samples=ds)


@HOOKS.register_module(name='_RSEPMPhaseRecorder', force=True)
class _PhaseRecorder(Hook):
    priority = 'LOW'  # after RSEPMPhaseHook
    phases = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        _PhaseRecorder.phases.append((runner.iter, runner.model.phase))


def _runner_cfg(work_dir, max_iters, resume=False):
    return dict(
        model=_cfg(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_ToyDataset(),
            sampler=dict(type='InfiniteSampler', shuffle=False),
            batch_size=2,
            num_workers=0,
            collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[
            dict(
                type='RSEPMPhaseHook',
                rs_start_epoch=1,
                epm_start_epoch=2,
                max_epochs=3,
                iters_per_epoch=1),
            dict(type='_RSEPMPhaseRecorder')
        ],
        resume=resume,
        load_from=osp.join(str(work_dir), 'iter_2.pth') if resume else None,
        default_scope='mmseg',
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING')


def test_runner_switches_phases_and_resumes(tmp_path):
    from mmengine.runner import Runner
    _PhaseRecorder.phases = []
    runner = Runner(**_runner_cfg(tmp_path, 2))
    runner.train()
    assert _PhaseRecorder.phases == [(0, 'cls'), (1, 'rs')]
    assert runner.message_hub.get_scalar('train/phase').current() == 1
    _PhaseRecorder.phases = []
    runner = Runner(**_runner_cfg(tmp_path, 4, resume=True))
    runner.train()
    assert _PhaseRecorder.phases == [(2, 'rs_epm'), (3, 'rs_epm')]
