"""SLAMs-like (reconstruction): losses on hand-worked cases, the cosine
head against a manual computation, the one batched encoder call against a
per-pair loop, the frozen encoder, the stage-1 checkpoint errors."""
import glob
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmwsss  # noqa: F401
from mmwsss.models.utils.semantics import (present_pairs, semantic_targets,
                                           semantics_for)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1 = osp.join(
    ROOT, 'configs', 'slams',
    'slams-encoder_effnet-lite0_1xb16-300it_synthetic-112x112.py')
STAGE2 = osp.join(ROOT, 'configs', 'slams',
                  'slams_effnet-lite0_1xb16-600it_synthetic-112x112.py')

# two images, K = 3: image 0 only background, image 1 background + class 2
LABELS = torch.tensor([[0., 0., 0.], [0., 1., 0.]])
# the pairs (include_bg): (0, 0), (1, 0), (1, 2)
COS = torch.tensor([[0.9, 0.1, 0.2, 0.3], [0.6, 0.0, 0.4, 0.0],
                    [0.2, 0.0, 0.8, 0.5]])


def _pairs(include_bg=True):
    img, cls, others = present_pairs(semantic_targets(LABELS), include_bg)
    own = F.one_hot(cls, 4).bool()
    return img, cls, own, others


def test_pairs_of_the_hand_case():
    img, cls, own, others = _pairs()
    assert img.tolist() == [0, 1, 1] and cls.tolist() == [0, 0, 2]
    assert others.tolist() == [[False] * 4, [False, False, True, False],
                               [True, False, False, False]]
    img, cls, _, _ = _pairs(include_bg=False)
    assert img.tolist() == [1] and cls.tolist() == [2]


def test_category_foreground_and_background_hand_worked():
    _, _, own, others = _pairs()
    fg = MODELS.build(dict(type='CategoryForegroundLoss'))
    bg = MODELS.build(dict(type='CategoryBackgroundLoss', loss_weight=2.0))
    own_mean = (0.9 + 0.6 + 0.8) / 3  # own classes of the three pairs
    other_mean = (0.4 + 0.2) / 2  # class 2 of pair (1,0), bg of (1,2)
    assert fg(COS, own, others).item() == pytest.approx(
        0.5 * ((1 - own_mean) + (1 + other_mean)), abs=1e-6)
    assert bg(COS, own, others).item() == pytest.approx(
        2.0 * 0.5 * ((1 - other_mean) + (1 + own_mean)), abs=1e-6)


def test_contrast_losses_empty_sets_are_zero_not_nan():
    fg = MODELS.build(dict(type='CategoryForegroundLoss'))
    bg = MODELS.build(dict(type='CategoryBackgroundLoss'))
    # only the background-only image: |P_b| = 1, no "other" class
    targets = semantic_targets(LABELS[:1])
    _, cls, others = present_pairs(targets, True)
    own = F.one_hot(cls, 4).bool()
    c = COS[:1].clone().requires_grad_()
    value = fg(c, own, others)
    assert value.item() == pytest.approx(0.5 * ((1 - 0.9) + 1))
    assert bg(c, own, others).item() == pytest.approx(0.5 * (1 + 1.9))
    value.backward()
    assert torch.isfinite(c.grad).all()
    # no pair at all (background pairs off): 1, finite, with a graph
    _, cls, others = present_pairs(targets, False)
    empty = torch.zeros(0, 4, requires_grad=True)
    own = F.one_hot(cls, 4).bool()
    assert fg(empty, own, others).item() == pytest.approx(1.0)
    assert bg(empty, own, others).item() == pytest.approx(1.0)


def test_activation_regularization_hand_worked():
    loss = MODELS.build(dict(type='ActivationRegularizationLoss'))
    assert loss.loss_weight == pytest.approx(0.075)
    masks = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]], [[0.1, 0.3], [0.5, 0.7]],
                           [[0.0, 1.0], [0.0, 1.0]]]])  # (1, 3, 2, 2)
    valid = torch.tensor([[[[1, 1], [1, 0]]]]).bool()
    fg = (0.1 + 0.3 + 0.5 + 0.0 + 1.0 + 0.0) / 6
    bg = (0.2 + 0.4 + 0.6) / 3
    assert loss(masks, valid).item() == pytest.approx(
        0.075 * (fg + 1 - bg), abs=1e-7)
    none = torch.zeros_like(valid)
    assert loss(masks, none).item() == 0.0


def _complementation_brute(masks, valid, targets):
    total, count = 0.0, 0
    for b in range(masks.shape[0]):
        present = [k for k in range(masks.shape[1]) if targets[b, k] > 0.5]
        if len(present) < 2:
            continue
        for k in present:
            for y in range(masks.shape[2]):
                for x in range(masks.shape[3]):
                    if not valid[b, 0, y, x]:
                        continue
                    rest = max(float(masks[b, j, y, x]) for j in present
                               if j != k)
                    total += (float(masks[b, k, y, x]) + rest - 1)**2
                    count += 1
    return total / max(count, 1)


def test_complementation_consistency_against_brute_force():
    torch.manual_seed(0)
    masks = torch.rand(3, 4, 5, 6)
    valid = torch.rand(3, 1, 5, 6) > 0.3
    labels = torch.tensor([[0., 0., 0.], [1., 0., 1.], [0., 1., 0.]])
    targets = semantic_targets(labels)  # image 0: only bg -> no pair
    loss = MODELS.build(dict(type='ActivationConsistencyLoss'))
    assert loss(masks, valid, targets).item() == pytest.approx(
        _complementation_brute(masks, valid, targets), rel=1e-5)
    # only single-class images: 0, not NaN
    only_bg = semantic_targets(torch.zeros(3, 3))
    assert loss(masks, valid, only_bg).item() == 0.0


def test_equivariance_consistency_hand_worked():
    loss = MODELS.build(
        dict(type='ActivationConsistencyLoss', mode='equivariance'))
    masks = torch.full((1, 2, 2, 2), 0.5)
    flipped = masks.clone()
    flipped[0, 0, 0, 0] = 0.9  # |0.5 - 0.9| on one of 8 valid entries
    small = torch.full((1, 2, 1, 1), 0.25)
    down = torch.full((1, 2, 1, 1), 0.5)
    valid = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    value = loss(masks, valid, views=(flipped, small, down))
    assert value.item() == pytest.approx(0.4 / 8 + 0.25)
    with pytest.raises(ValueError, match='views'):
        loss(masks, valid)
    with pytest.raises(ValueError, match='consistency must be one of'):
        MODELS.build(dict(type='ActivationConsistencyLoss', mode='x'))


def test_semantic_similarity_loss_hand_worked():
    loss = MODELS.build(dict(type='SemanticSimilarityLoss'))
    cos = torch.tensor([[0.8, -0.2], [1.0, 0.3]])
    y = torch.tensor([[1., 0.], [1., 1.]])
    eps = 1e-6
    p = [0.8, eps, 1 - eps, 0.3]  # clamped
    t = [1, 0, 1, 1]
    ref = -sum(ti * math.log(pi) + (1 - ti) * math.log(1 - pi)
               for pi, ti in zip(p, t)) / 4
    assert loss(cos, y).item() == pytest.approx(ref, rel=1e-5)


def test_stage1_semantics_of_absent_classes_get_no_gradient():
    head = MODELS.build(
        dict(
            type='SemanticEmbeddingHead',
            in_channels=8,
            num_classes=3,
            embed_dim=4))
    feat = torch.randn(1, 8, 3, 3)
    labels = torch.tensor([[1., 0., 0.]])  # present: bg (0) and class 1
    losses = head.loss_by_embeddings(head(feat), labels)
    losses['loss_sem'].backward()
    g = head.semantics.weight.grad
    assert g[2:].abs().max() == 0  # classes 2, 3 absent
    assert g[:2].abs().max() > 0
    # the helper: present rows keep the graph, absent rows are detached
    crs = torch.randn(4, 4, requires_grad=True)
    mixed = semantics_for(crs, torch.tensor([[True, False, True, False]]))
    mixed.sum().backward()
    assert crs.grad[:, 0].tolist() == [1., 0., 1., 0.]


def test_stage1_mean_and_sum_pool():
    torch.manual_seed(0)
    cfg = dict(
        type='SemanticEmbeddingHead', in_channels=6, num_classes=2,
        embed_dim=3)
    mean_head = MODELS.build(cfg)
    sum_head = MODELS.build(dict(cfg, sem_pool='sum'))
    sum_head.load_state_dict(mean_head.state_dict())
    feat = torch.randn(2, 6, 4, 5)
    e = F.relu(F.conv2d(feat, mean_head.embed.weight, mean_head.embed.bias))
    ref = e.mean((2, 3)).view(2, 3, 3)
    assert torch.allclose(mean_head(feat), ref, atol=1e-6)
    assert torch.allclose(sum_head(feat), ref * 20, atol=1e-5)


def _act_head(**kw):
    cfg = dict(
        type='SemanticActivationHead', in_channels=6, num_classes=3,
        embed_dim=5, encoder_input=16)
    cfg.update(kw)
    head = MODELS.build(cfg)
    torch.manual_seed(1)
    head.set_semantics(torch.rand(4, 5))
    return head


def test_cosine_head_against_a_manual_computation():
    head = _act_head(cos_scale_init=7.0)
    with torch.no_grad():
        head.cos_bias.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
    feat = torch.randn(2, 6, 3, 4)
    z, emb = head(feat)
    W = head.phi.weight.detach().numpy()[:, :, 0, 0]
    b = head.phi.bias.detach().numpy()
    crs = head.crs.numpy()
    f = feat.numpy()
    ref = np.zeros((2, 4, 3, 4))
    for n in range(2):
        for y in range(3):
            for x in range(4):
                v = W @ f[n, :, y, x] + b
                for k in range(4):
                    c = v @ crs[k] / (np.linalg.norm(v) *
                                      np.linalg.norm(crs[k]))
                    ref[n, k, y, x] = 7.0 * c + [0.1, -0.2, 0.3, 0.0][k]
    assert np.allclose(z.detach().numpy(), ref, atol=1e-5)
    assert emb.shape == (2, 5, 3, 4)
    linear = _act_head(sem_head='linear')
    assert linear(feat)[0].shape == (2, 4, 3, 4)
    with pytest.raises(ValueError, match='class semantics of shape'):
        head.set_semantics(torch.zeros(3, 5))


def test_one_batched_encoder_call_equals_a_per_pair_loop():
    torch.manual_seed(0)
    enc = MODELS.build(
        dict(
            type='SemanticEncoder',
            backbone=dict(
                type='ResNetV1c', depth=18, num_stages=4,
                out_indices=(3, ), init_cfg=None),
            head=dict(
                type='SemanticEmbeddingHead', in_channels=512,
                num_classes=3, embed_dim=5)))
    enc.freeze()
    head = _act_head()
    head.set_semantics(enc.class_semantics())
    inputs = torch.randn(2, 3, 20, 20)
    masks = torch.rand(2, 4, 20, 20)
    valid = torch.ones(2, 1, 20, 20, dtype=torch.bool)
    valid[1, :, 15:] = False
    targets = semantic_targets(torch.tensor([[0., 1., 1.], [1., 0., 0.]]))
    x, own, others, m, v = head.encoder_inputs(inputs, masks, valid, targets)
    P = own.shape[0]
    assert P == 5 and x.shape == (10, 3, 16, 16)
    calls = []
    enc.backbone.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        batched = enc.embed(x)
    assert len(calls) == 1
    # per pair, from the images and masks resized on their own
    img, cls, _ = present_pairs(targets)
    for p in range(P):
        b, k = int(img[p]), int(cls[p])
        xi = F.interpolate(inputs[b:b + 1], size=(16, 16), mode='bilinear',
                           align_corners=True)
        mi = F.interpolate(masks[b:b + 1, k:k + 1], size=(16, 16),
                           mode='bilinear', align_corners=True)
        vi = F.interpolate(valid[b:b + 1].float(), size=(16, 16),
                           mode='bilinear', align_corners=True) > 0.5
        mi = mi * vi
        with torch.no_grad():
            fg = enc.embed(xi * mi)
            bg = enc.embed(xi * (1 - mi))
        assert torch.allclose(batched[p], fg[0], atol=1e-5)
        assert torch.allclose(batched[P + p], bg[0], atol=1e-5)


def strip_pretrained(cfg):
    """No pretrained weights anywhere in a model config (offline)."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for v in cfg.values():
            strip_pretrained(v)
    return cfg


def _samples(labels, size):
    out = []
    for y in labels:
        ds = SegDataSample()
        ds.set_metainfo(dict(img_shape=size, ori_shape=size, pad_shape=size))
        ds.gt_img_labels = torch.tensor(y, dtype=torch.float32)
        out.append(ds)
    return out


def _stage1_checkpoint(tmp_path):
    cfg = Config.fromfile(STAGE1)
    torch.manual_seed(3)
    enc = MODELS.build(strip_pretrained(cfg.model))
    path = str(tmp_path / 'stage1.pth')
    torch.save(dict(state_dict=enc.state_dict(), meta={}), path)
    return enc, path


def _stage2(path):
    cfg = Config.fromfile(STAGE2)
    cfg.model.encoder_checkpoint = path
    model = MODELS.build(strip_pretrained(cfg.model))
    return model, cfg


def test_stage2_encoder_frozen_gradients_flow_through_it(tmp_path):
    enc, path = _stage1_checkpoint(tmp_path)
    torch.manual_seed(0)
    model, cfg = _stage2(path)
    model.init_weights()
    # the stage-1 weights and class semantics were loaded
    for k, v in enc.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[k], v), k
    assert torch.allclose(model.act_head.crs, enc.class_semantics())
    model.train()
    assert model.training and not model.encoder.training
    assert all(not m.training for m in model.encoder.modules())
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    inputs = torch.randn(2, 3, 112, 112)
    samples = _samples([[1, 0, 0, 1], [0, 1, 0, 0]], (112, 112))
    grads = {}

    def keep_z_grad(mod, inp, out):
        out[0].register_hook(lambda g: grads.setdefault('z', g))

    logits_hook = model.act_head.register_forward_hook(keep_z_grad)
    losses = model.loss(inputs, samples)
    logits_hook.remove()
    for key in ('act.loss_fg', 'act.loss_bg', 'act.loss_reg',
                'act.loss_cons', 'act.loss_sim'):
        assert torch.isfinite(losses[key]), key
    assert losses['act.num_pairs'].item() == 5  # 3 + 2 pairs with bg
    # L_fg alone reaches the maps only through the frozen encoder
    losses['act.loss_fg'].backward(retain_graph=True)
    assert grads['z'].abs().sum() > 0
    assert model.act_head.phi.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.encoder.parameters())
    optim.zero_grad()
    total = sum(v for k, v in losses.items() if 'loss' in k)
    optim.update_params(total)
    assert not model.encoder.training
    assert all(p.grad is None and not p.requires_grad
               for p in model.encoder.parameters())
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, before[k]), k  # BN statistics too
    names = [n for g in optim.optimizer.param_groups for n in [g['name']]]
    assert 'backbone_weight' in names and 'new_weight' in names
    in_groups = {id(p) for g in optim.optimizer.param_groups
                 for p in g['params']}
    assert not any(id(p) in in_groups for p in model.encoder.parameters())


def test_stage2_refuses_a_missing_stage1_checkpoint(tmp_path):
    missing = str(tmp_path / 'nope' / 'iter_300.pth')
    model, _ = _stage2(missing)
    with pytest.raises(FileNotFoundError) as e:
        model.init_weights()
    msg = str(e.value)
    assert 'model.encoder_checkpoint' in msg and missing in msg
    model, _ = _stage2(None)
    with pytest.raises(FileNotFoundError, match='model.encoder_checkpoint'):
        model.init_weights()


def test_stage2_refuses_another_models_checkpoint(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'backbone.x': torch.zeros(1)}), path)
    model, _ = _stage2(path)
    with pytest.raises(Exception, match='other.pth'):
        model.init_weights()


def test_predict_threshold_and_channel_background(tmp_path):
    _, path = _stage1_checkpoint(tmp_path)
    model, _ = _stage2(path)
    model.init_weights()
    model.eval()
    inputs = torch.randn(1, 3, 64, 64)
    samples = _samples([[0, 1, 0, 1]], (64, 64))
    with torch.no_grad():
        masks = model.masks(inputs)
        up = F.interpolate(masks, size=(64, 64), mode='bilinear',
                           align_corners=False)
        out = model.predict(inputs, samples)[0]
    # threshold: normalised sigma-maps of classes 2 and 4 against 0.5
    fg = up[0, [2, 4]]
    fg = fg / (fg.flatten(1).amax(1)[:, None, None] + 1e-5)
    ref = torch.where(fg.amax(0) > 0.5, torch.tensor([2, 4])[fg.argmax(0)],
                      torch.tensor(0))
    assert torch.equal(out.pred_sem_seg.data[0], ref)
    assert out.cam_keys.tolist() == [0, 2, 4]
    # channel: the background sigma-map is the background score
    model.test_cfg['bg_source'] = 'channel'
    with torch.no_grad():
        out = model.predict(inputs, _samples([[0, 1, 0, 1]], (64, 64)))[0]
    scores = torch.stack([up[0, 0], up[0, 2], up[0, 4]])
    ref = torch.tensor([0, 2, 4])[scores.argmax(0)]
    assert torch.equal(out.pred_sem_seg.data[0], ref)
    assert 'pred_cam' not in out
    # the CAM wrapper's maps are the foreground sigma-maps
    with torch.no_grad():
        assert torch.allclose(model.extract_cam(inputs), masks[:, 1:])


def test_method_status_is_checked_and_in_the_configs():
    for path in (STAGE1, STAGE2):
        cfg = Config.fromfile(path)
        assert cfg.method_status == 'reconstruction'
        assert cfg.log_processor.type == 'TaggedLogProcessor'
        assert cfg.log_processor.tags == dict(method_status='reconstruction')
    cfg = Config.fromfile(STAGE2)
    assert cfg.model.method_status == 'reconstruction'
    cfg.model.method_status = 'reproduction'
    with pytest.raises(ValueError, match='method_status'):
        MODELS.build(strip_pretrained(cfg.model))


SLAMS_DIR = osp.join(ROOT, 'configs', 'slams')
PAIRS = [
    ('slams-encoder_effnet-lite0_1xb16-300it_synthetic-112x112.py',
     'slams_effnet-lite0_1xb16-600it_synthetic-112x112.py'),
    ('slams-encoder_effnet-lite0_1xb16-600it_camvid-things-176x176.py',
     'slams_effnet-lite0_1xb16-1200it_camvid-things-176x176.py'),
    ('slams-encoder_r50_4xb16-4950it_voc12aug-224x224.py',
     'slams_r50_4xb2-26440it_voc12aug-448x448.py'),
    ('slams-encoder_r50_4xb16-38460it_coco14-224x224.py',
     'slams_r50_4xb2-205200it_coco14-448x448.py'),
]
ALL_SLAMS = sorted(
    [osp.basename(p) for p in
     glob.glob(osp.join(SLAMS_DIR, '*.py'))])


def test_every_slams_config_is_in_a_pair_or_an_export():
    paired = {n for pair in PAIRS for n in pair}
    assert set(ALL_SLAMS) - paired == {
        'slams_r50_4xb2-26440it_voc12aug-448x448_cams.py'
    }


@pytest.mark.parametrize('name', ALL_SLAMS)
def test_slams_config_consistency_and_build(name):
    cfg = Config.fromfile(osp.join(SLAMS_DIR, name))
    assert cfg.method_status == 'reconstruction'
    assert cfg.log_processor.tags == dict(method_status='reconstruction')
    max_iters = cfg.train_cfg.max_iters
    poly = [s for s in cfg.param_scheduler if s.type == 'PolyLR']
    assert poly and poly[0].end == max_iters + 1
    if 'crop_size' in cfg:
        assert tuple(cfg.model.data_preprocessor.size) == tuple(cfg.crop_size)
    assert cfg.optim_wrapper.optimizer.momentum == 0.9
    assert cfg.optim_wrapper.constructor == 'WSSSOptimWrapperConstructor'
    model = MODELS.build(strip_pretrained(cfg.model))
    if cfg.model.type == 'SLAMsLike':
        assert model.act_head.num_classes == model.encoder.num_classes
        assert model.act_head.encoder_input <= cfg.crop_size[0] or \
            'voc' in name or 'coco' in name
        assert cfg.model.encoder_checkpoint


@pytest.mark.parametrize('stage1,stage2', PAIRS)
def test_stage2_encoder_is_the_stage1_model(stage1, stage2):
    """The stage-2 `encoder` builds the stage-1 model: same class, same
    state_dict keys and shapes, and the default checkpoint path is the
    stage-1 work dir's last checkpoint."""
    c1 = Config.fromfile(osp.join(SLAMS_DIR, stage1))
    c2 = Config.fromfile(osp.join(SLAMS_DIR, stage2))
    m1 = MODELS.build(strip_pretrained(c1.model))
    m2 = MODELS.build(strip_pretrained(c2.model.encoder))
    s1 = {k: v.shape for k, v in m1.state_dict().items()}
    s2 = {k: v.shape for k, v in m2.state_dict().items()}
    assert s1 == s2
    assert c2.model.encoder_checkpoint == (
        f'work_dirs/{osp.splitext(stage1)[0]}/'
        f'iter_{c1.train_cfg.max_iters}.pth')


def test_stage1_reconstruction_decoder_option():
    cfg = Config.fromfile(STAGE1)
    cfg.model.sem_recon = True
    torch.manual_seed(0)
    model = MODELS.build(strip_pretrained(cfg.model)).train()
    inputs = torch.randn(2, 3, 64, 64)
    losses = model.loss(inputs, _samples([[1, 0, 0, 0], [0, 0, 1, 1]],
                                         (64, 64)))
    rec = model.recon(model.extract_feat(inputs), (64, 64))
    assert rec.shape == inputs.shape
    assert losses['loss_recon'].item() == pytest.approx(
        F.mse_loss(rec, inputs).item(), rel=1e-4)
    assert 'loss_recon' not in MODELS.build(
        strip_pretrained(Config.fromfile(STAGE1).model)).loss(
            inputs, _samples([[1, 0, 0, 0], [0, 0, 1, 1]], (64, 64)))


def test_any_mmseg_decode_head_drops_in(tmp_path):
    """mmseg's ASPPHead as the stage-2 decoder: its classifier is dropped
    and the activation head reads its 64-channel features."""
    _, path = _stage1_checkpoint(tmp_path)
    cfg = Config.fromfile(STAGE2)
    cfg.model.encoder_checkpoint = path
    cfg.model.decode_head = dict(
        type='ASPPHead', in_channels=1280, in_index=4, channels=64,
        dilations=(1, 2), num_classes=5, align_corners=False)
    model = MODELS.build(strip_pretrained(cfg.model))
    model.init_weights()
    model.train()
    assert isinstance(model.decode_head.conv_seg, torch.nn.Identity)
    assert model.act_head.phi.in_channels == 64
    inputs = torch.randn(2, 3, 64, 64)
    losses = model.loss(inputs, _samples([[1, 0, 0, 0], [0, 0, 1, 1]],
                                         (64, 64)))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.decode_head.aspp_modules[0].conv.weight.grad.abs().sum() > 0
