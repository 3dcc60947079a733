"""PuzzleCAM segmentor: the two forwards, size modes, gradients, inference
identical to CAMClassifier, bf16 mixed precision."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.optim import build_optim_wrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmwsss.models.losses import multilabel_soft_margin_loss


@MODELS.register_module(name='_PuzzleTestPool', force=True)
class _PuzzleTestPool(BaseModule):
    """Input average-pooled to stride 16 (3 channels): per-tile
    translation-equivariant for inputs that are multiples of 32."""

    def forward(self, x):
        return [F.avg_pool2d(x, 16, 16, ceil_mode=True)]


@MODELS.register_module(name='_PuzzleTestConvNet', force=True)
class _PuzzleTestConvNet(BaseModule):
    """Four 3x3 stride-2 convs with trainable BN: output stride 16."""

    def __init__(self, width=6):
        super().__init__()
        layers, c = [], 3
        for _ in range(4):
            layers += [
                nn.Conv2d(c, width, 3, 2, 1),
                nn.BatchNorm2d(width),
                nn.ReLU()
            ]
            c = width
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return [self.layers(x)]


def _model(backbone='_PuzzleTestConvNet', num_classes=3, size=None, **kwargs):
    in_ch = 3 if backbone == '_PuzzleTestPool' else 6
    cfg = dict(
        type='PuzzleCAM',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            size=size),
        backbone=dict(type=backbone),
        cam_head=dict(
            type='PuzzleCAMHead', in_channels=in_ch, num_classes=num_classes),
        backbone_stride=16,
        **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _samples(labels):
    out = []
    for lab in labels:
        ds = SegDataSample()
        ds.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64)))
        ds.gt_img_labels = torch.tensor(lab, dtype=torch.float32)
        out.append(ds)
    return out


LABELS = [[1, 0, 0], [0, 1, 1]]


def test_strict_mode_fails_at_build_time_with_numbers_and_fix():
    with pytest.raises(ValueError) as err:
        _model(size=(176, 176))
    msg = str(err.value)
    for part in ('model.data_preprocessor.size', '176x176', '2*16=32',
                 '11 cells', '2*6=12', '160 or 192', "puzzle_size_mode='pad'"):
        assert part in msg, (part, msg)
    _model(size=(176, 176), puzzle_size_mode='pad')  # explicit opt-in works
    _model(size=(192, 160))  # divisible crops build in strict mode


def test_strict_mode_fails_at_first_forward():
    model = _model()  # no configured crop: checked on the batch
    with pytest.raises(ValueError, match='input batch 48x48'):
        model.loss(torch.randn(2, 3, 48, 48), _samples(LABELS))


def test_full_and_merged_cams_of_an_equivariant_model():
    model = _model(backbone='_PuzzleTestPool').train()
    x = torch.randn(2, 3, 64, 96)
    cam, cam_re = model.puzzle_cams(x)
    assert cam.shape == cam_re.shape == (2, 3, 4, 6)
    torch.testing.assert_close(cam, cam_re, rtol=1e-5, atol=1e-6)
    # both are the hand-built stride-16 average + 1x1 conv of the image
    w = model.cam_head.classifier.weight[:, :, 0, 0]
    ref = torch.einsum('kc,bchw->bkhw', w, F.avg_pool2d(x, 16))
    torch.testing.assert_close(cam_re, ref, rtol=1e-5, atol=1e-6)
    # so L_re is 0 and L_pcl equals L_cls
    model.set_alpha(4.0)
    losses = model.loss(x, _samples(LABELS))
    assert losses['loss_re'].item() == pytest.approx(0.0, abs=1e-6)
    assert losses['loss_pcl'].item() == pytest.approx(
        losses['loss_cls'].item(), rel=1e-5)
    labels = torch.tensor(LABELS, dtype=torch.float32)
    assert losses['loss_cls'].item() == pytest.approx(
        multilabel_soft_margin_loss(ref.mean(dim=(2, 3)), labels).item(),
        rel=1e-5)


def test_tile_forward_is_a_separate_batch():
    """Trainable BN sees the full batch and the tile batch separately."""
    model = _model().train()
    seen = []
    model.backbone.register_forward_hook(
        lambda m, args, out: seen.append(tuple(args[0].shape)))
    model.loss(torch.randn(2, 3, 64, 64), _samples(LABELS))
    assert seen == [(2, 3, 64, 64), (8, 3, 32, 32)]


def test_pad_mode_equals_strict_on_divisible_input():
    strict = _model().train()
    pad = _model(puzzle_size_mode='pad').train()
    pad_half = _model(puzzle_size_mode='pad', pad_full_image=False).train()
    for m in (pad, pad_half):
        m.load_state_dict(strict.state_dict())
        m.set_alpha(2.5)
    strict.set_alpha(2.5)
    x = torch.randn(2, 3, 64, 64)
    ref = strict.loss(x, _samples(LABELS))
    for m in (pad, pad_half):
        out = m.loss(x, _samples(LABELS))
        for k in ('loss_cls', 'loss_pcl', 'loss_re'):
            assert out[k].item() == pytest.approx(ref[k].item(), rel=1e-6)


@pytest.mark.parametrize('pad_full_image', [True, False])
def test_pad_mode_on_non_divisible_input(pad_full_image):
    model = _model(
        puzzle_size_mode='pad', pad_full_image=pad_full_image).train()
    model.set_alpha(1.0)
    x = torch.randn(2, 3, 40, 56)  # pads to 64 x 64
    cam, cam_re = model.puzzle_cams(x)
    # the ceil(40/16) x ceil(56/16) cells of the real image
    assert cam.shape == cam_re.shape == (2, 3, 3, 4)
    losses = model.loss(x, _samples(LABELS))
    assert all(torch.isfinite(v) for v in losses.values())
    # the pooled model: padding with zeros and cropping back is exact
    pool = _model(backbone='_PuzzleTestPool', puzzle_size_mode='pad')
    x = torch.randn(1, 3, 48, 80)  # multiples of 16, not of 32
    cam, cam_re = pool.puzzle_cams(x)
    assert cam.shape == (1, 3, 3, 5)
    torch.testing.assert_close(cam, cam_re, rtol=1e-5, atol=1e-6)


def test_resize_mode_shapes():
    model = _model(puzzle_size_mode='resize').train()
    x = torch.randn(2, 3, 48, 48)  # full CAM 3x3, tiles of 24 -> 2x2
    cam, cam_re = model.puzzle_cams(x)
    assert cam.shape == cam_re.shape == (2, 3, 3, 3)
    losses = model.loss(x, _samples(LABELS))
    assert all(torch.isfinite(v) for v in losses.values())


def test_gradients_flow_into_both_forwards():
    model = _model().train()
    model.set_alpha(1.0)
    cams = []

    def keep(module, args, out):
        out.retain_grad()
        cams.append(out)

    model.cam_head.register_forward_hook(keep)
    losses = model.loss(torch.randn(2, 3, 64, 64), _samples(LABELS))
    assert [c.shape[0] for c in cams] == [2, 8]  # full, then tiles
    losses['loss_re'].backward()  # L_re alone reaches both branches
    for c in cams:
        assert c.grad is not None and c.grad.abs().sum() > 0
    model.zero_grad()
    for c in cams:
        c.grad = None
    losses = model.loss(torch.randn(2, 3, 64, 64), _samples(LABELS))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.layers[0].weight.grad.abs().sum() > 0
    assert model.cam_head.classifier.weight.grad.abs().sum() > 0


def test_alpha_without_hook_warns_and_is_zero(monkeypatch):
    from mmwsss.models.segmentors import puzzle_cam
    logged = []
    monkeypatch.setattr(puzzle_cam, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    model = _model().train()
    losses = model.loss(torch.randn(2, 3, 64, 64), _samples(LABELS))
    assert losses['loss_re'].item() == 0.0 and losses['re_raw'] > 0
    model.loss(torch.randn(2, 3, 64, 64), _samples(LABELS))
    assert len(logged) == 1 and 'PuzzleAlphaHook' in logged[0][0]
    assert logged[0][1]['level'] == 30  # WARNING, once
    model.set_alpha(3.0)
    losses = model.loss(torch.randn(2, 3, 64, 64), _samples(LABELS))
    assert losses['loss_re'].item() == pytest.approx(
        3.0 * losses['re_raw'].item(), rel=1e-6)


def test_inference_is_the_plain_cam_classifier():
    model = _model().eval()
    cfg = dict(
        type='CAMClassifier',
        data_preprocessor=dict(type='SegDataPreProcessor'),
        backbone=dict(type='_PuzzleTestConvNet'),
        cam_head=dict(type='CAMHead', in_channels=6, num_classes=3))
    plain = MODELS.build(cfg).eval()
    # Puzzle-CAM checkpoints load into a CAMClassifier without key changes
    plain.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, 48, 40)  # any size at inference
    with torch.no_grad():
        torch.testing.assert_close(model.extract_cam(x), plain.extract_cam(x))
        a = model.predict(x, _samples(LABELS[:1]))[0]
        b = plain.predict(x, _samples(LABELS[:1]))[0]
    torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data)
    assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


def test_head_type_checked():
    with pytest.raises(TypeError, match='PuzzleCAMHead'):
        MODELS.build(
            dict(
                type='PuzzleCAM',
                backbone=dict(type='_PuzzleTestConvNet'),
                cam_head=dict(type='CAMHead', in_channels=6, num_classes=3)))


def _data_batch():
    g = torch.Generator().manual_seed(0)
    return dict(
        inputs=[
            torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8, generator=g)
            for _ in range(2)
        ],
        data_samples=_samples(LABELS))


@pytest.mark.filterwarnings('ignore::FutureWarning')
def test_amp_optim_wrapper_bf16_train_step(monkeypatch):
    """One train_step through MMEngine's AmpOptimWrapper with bf16.

    MMEngine 0.10 refuses to *construct* AmpOptimWrapper without a GPU (an
    assertion in __init__); the CPU code path behind it (mmengine autocast
    -> torch.autocast('cpu', bfloat16), a GradScaler that disables itself)
    is exercised by lifting that check."""
    if not torch.cuda.is_available():
        with pytest.raises(AssertionError, match='gpu'):
            amp_optimizer_wrapper.AmpOptimWrapper(
                optimizer=torch.optim.SGD([nn.Parameter(torch.zeros(1))],
                                          lr=0.1))
        monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                            lambda: True)
    model = _model(size=(64, 64)).train()
    model.set_alpha(2.0)
    before = copy.deepcopy(model.state_dict())
    dtypes = []
    model.cam_head.register_forward_hook(
        lambda m, a, out: dtypes.append(out.dtype))
    wrapper = build_optim_wrapper(
        model,
        dict(
            type='AmpOptimWrapper',
            dtype='bfloat16',
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    log_vars = model.train_step(_data_batch(), wrapper)
    assert dtypes == [torch.bfloat16, torch.bfloat16]  # both forwards
    for k in ('loss', 'loss_cls', 'loss_pcl', 'loss_re'):
        assert torch.isfinite(log_vars[k]), k
    assert log_vars['loss_re'] > 0
    after = model.state_dict()
    w = 'cam_head.classifier.weight'
    assert not torch.equal(before[w], after[w])
    assert all(
        torch.isfinite(v).all() for v in after.values()
        if v.is_floating_point())
