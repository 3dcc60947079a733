"""RS+EPM: RecurSeed + EdgePredictMix, single-stage WSSS."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList, add_prefix)
from torch import Tensor

from mmwsss.utils.cam_ops import cam_keys, normalise_cam, scaled_size
from mmwsss.utils.checks import check_choices
from ..heads.cam_head import CAMHead, stack_img_labels
from ..utils.images import crop_valid_mask, downsample_mask, restored_image_u8

__all__ = ['RSEPM']

PHASES = ('cls', 'rs', 'rs_epm')
MIXED_FORWARDS = ('concat', 'separate')
SCG_GRIDS = ('cam', 'stride8')

DEFAULT_TRAIN_CFG = dict(
    rec_resolution='seed',
    cls_phase_decoder='skip',
    seed_stats=True,
)
DEFAULT_TEST_CFG = dict(
    scales=(1.0, 0.5, 1.5, 2.0),
    flip=True,
    conf_th=0.34,
    bg_gamma=2.0,
    use_gt_labels=False,
    crf=None,
    crf_denorm='round',
    with_cam=True,
    input_resize='bilinear',
    logit_resize='nearest',
)


def _resize(x: Tensor, size: Sequence[int], mode: str) -> Tensor:
    """``F.interpolate`` with ``align_corners=False`` for the linear modes.
    """
    size = tuple(int(s) for s in size)
    if tuple(x.shape[-2:]) == size:
        return x
    if mode in ('bilinear', 'bicubic'):
        return F.interpolate(x, size=size, mode=mode, align_corners=False)
    return F.interpolate(x, size=size, mode=mode)


@MODELS.register_module()
class RSEPM(BaseSegmentor):
    """RecurSeed + EdgePredictMix (Jo, Yu & Kim, 2022).

    Network [code]: backbone features ``C2..C5``, a CAM head on
    ``feats[cam_in_index]`` (A, B x K at stride 16; ``z = GAP(A)``) and a
    decode head (any mmseg decode head with K + 1 classes; the faithful one
    is :class:`RSEPMDecoderHead`) giving S (B x (K+1), stride 4).

    **Training** (:meth:`loss`), by ``phase`` (set every iteration by
    ``RSEPMPhaseHook``):

    - ``'cls'``: ``loss_cls`` = MLSM(z, Y) only.
    - ``'rs'``: + the RecurSeed losses. Seeds, without gradient, from
      detached tensors (:meth:`compute_seeds`): ``cam = norm(A) * Y``
      (``relu(A) / (max + 1e-5)``, the repo's CAM normalisation),
      ``M_scg = SCG(cam, feats[scg_in_index])`` on the CAM grid (or the
      stride-8 grid, ``scg_grid``), bilinear
      to the stride-``seed_stride`` grid, ``M_rs = PAMR(I, M_scg)`` guided
      by the normalised image, ``M_seg = CF(M_rs, Y, valid4)`` with
      ``valid4`` the nearest-downsampled crop-valid mask. The decode head
      owns ``L_seg``: ``decode_head.loss_by_feat(S, samples)`` with
      ``gt_sem_seg = M_seg`` (its ``loss_decode``, ignore 255; the head's
      loss weight is lambda_seg) -> ``decode.loss_ce``. ``loss_rec`` =
      L_rec(A, M_rs) over present classes x valid pixels (lambda_rec is
      the ``loss_rec`` weight).
    - ``'rs_epm'``: + the mixed losses. EdgePredictMix: ``edge_predict``
      (:class:`EdgePredict`) turns (I, S, Y) into the edge-aware labels
      M_ep, ``mix`` (:class:`PartnerMix`) turns (I, M_ep, M_rs, Y) into
      (I_mix, M_seg_mix, M_rs_mix, Y_mix, valid_mix);
      ``mix.decode.loss_ce`` and ``mix.loss_rec`` on the mixed forward,
      plus ``mix.loss_cls`` = MLSM(z_mix, Y_mix) when ``use_cls_mix``
      (v1 figure).

    ``mixed_forward`` [inferred]:

    - ``'concat'`` (default): one forward with gradient of
      ``cat([I, I_mix])`` (2B images: BN sees one batch). Its inputs need the
      seeds of I first, so the step starts with a **no-grad forward of I**
      (backbone + both heads, train mode) that gives A, S and the features
      for the seeds and EP; the losses of the I half are then taken against
      these seeds. Cost: one extra forward of B images without autograd
      (about +15-20 % of a step); side effect: BN running statistics get
      one extra update from the I-only batch (the momentum-averaged
      statistics are used at test time only).
    - ``'separate'``: a forward of I with gradient (seeds from it, as in
      ``'rs'``), then a second forward of I_mix with gradient; BN normalises
      the two batches separately. No extra forward, two graphs in memory.

    Logged (detached, names without ``loss``): ``acc_cls``,
    ``decode.acc_seg``, ``seed_fg_ratio`` / ``seed_ignore_ratio`` (fraction
    of the valid stride-4 pixels that CF labels certain foreground /
    uncertain), in ``'rs_epm'`` also ``ep_fg_ratio`` / ``ep_ignore_ratio``
    (the same for M_ep) and ``mix.decode.acc_seg``.

    **DDP**: in the ``'cls'`` phase the decode head gets no gradient. The
    base config therefore sets ``find_unused_parameters=True``; with
    ``train_cfg.cls_phase_decoder='zero_loss'`` the head runs in ``'cls'``
    and adds ``0 * S.sum()`` (``decode.loss_ce`` = 0) so that every
    parameter gets a (zero) gradient and DDP works without
    ``find_unused_parameters``, at the cost of the decoder forward/backward.

    ``train_cfg`` keys [inferred]:

    - ``rec_resolution``: ``'seed'`` (default, L_rec at stride 4; A is
      resized inside the loss) or ``'cam'`` (M_rs bilinearly and valid
      nearest-downsampled to the CAM grid).
    - ``cls_phase_decoder``: ``'skip'`` (default) or ``'zero_loss'``.
    - ``seed_stats``: log the seed statistics. Defaults to True.

    **Inference** [code]: :meth:`predict_seed` and :meth:`predict`;
    ``test_cfg`` keys: ``scales`` (1.0, 0.5, 1.5, 2.0), ``flip`` (True),
    ``conf_th`` (0.34), ``bg_gamma`` (2.0), ``use_gt_labels`` (False:
    present classes from mean sigma(z) >= conf_th; True uses
    ``gt_img_labels`` when the samples have them), ``crf`` (None or a
    :class:`DenseCRF` config, e.g. ``dict(type='DenseCRF',
    preset='rsepm')``), ``crf_denorm`` (the uint8 CRF image from the
    denormalised input: ``'round'``, the default, restores the original
    image exactly; ``'truncate'`` is what the official ``Denormalize``
    does, about half the values end 1 below the original), ``with_cam``
    (True: ``pred_cam`` / ``cam_keys``
    for the CAM metric), ``input_resize`` ('bilinear', scaled inputs) and
    ``logit_resize`` ('nearest', S to the input size and the softmax to
    H x W) [code].

    Args:
        backbone (dict): Backbone config (outputs C2..C5).
        cam_head (dict): :class:`CAMHead` config (K classes); it is given
            ``feats[cam_in_index]`` (its own ``in_index`` is not used).
        decode_head (dict): Decode head config with K + 1 classes.
        scg (dict): :class:`SCG` config.
        pamr (dict): :class:`PAMR` config (RecurSeed PAMR).
        certain_filter (dict): :class:`CertainFilter` config (M_seg).
        edge_predict (dict): :class:`EdgePredict` config (the "EP" of
            EdgePredictMix: edge-aware labels M_ep).
        mix (dict): :class:`PartnerMix` config (the "Mix": pasting the
            partner's objects).
        loss_rec (dict): :class:`RecurSeedLoss` config.
        scg_in_index (Sequence[int]): Feature levels of SCG. Defaults to
            ``(2, 3)`` = (C4, C5) [inferred]. The spec's ``(C1..C5)``
            option is every level the backbone outputs (mmseg's ResNet
            starts at C2: its stem is not an output).
        scg_grid (str): Grid of SCG [inferred]: ``'cam'`` (default, the
            CAM grid, stride 16) or ``'stride8'`` (the normalised CAM and
            the levels bilinearly resized to the ``ceil(H/8) x ceil(W/8)``
            grid; ``N`` is 4x larger, the ``N x N`` matrices 16x).
        cam_in_index (int): Feature of the CAM head. Defaults to -1.
        seed_stride (int): Stride of the seed grid. Defaults to 4 [code:
            decoder stride].
        phase (str): Initial phase. Defaults to ``'rs_epm'``.
        mixed_forward (str): ``'concat'`` or ``'separate'``.
        use_cls_mix (bool): Add MLSM on the mixed images. Defaults to
            False [figure: v1 only].
        train_cfg (dict, optional): See above.
        test_cfg (dict, optional): See above.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 cam_head: ConfigType,
                 decode_head: ConfigType,
                 scg: ConfigType = dict(type='SCG'),
                 pamr: ConfigType = dict(type='PAMR'),
                 certain_filter: ConfigType = dict(type='CertainFilter'),
                 edge_predict: ConfigType = dict(type='EdgePredict'),
                 mix: ConfigType = dict(type='PartnerMix'),
                 loss_rec: ConfigType = dict(type='RecurSeedLoss'),
                 scg_in_index: Sequence[int] = (2, 3),
                 scg_grid: str = 'cam',
                 cam_in_index: int = -1,
                 seed_stride: int = 4,
                 phase: str = 'rs_epm',
                 mixed_forward: str = 'concat',
                 use_cls_mix: bool = False,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if mixed_forward not in MIXED_FORWARDS:
            raise ValueError(f'mixed_forward must be in {MIXED_FORWARDS}, '
                             f'got {mixed_forward!r}')
        check_choices(scg_grid=(scg_grid, SCG_GRIDS))
        if seed_stride < 1:
            raise ValueError(f'seed_stride must be >= 1, got {seed_stride}')
        self.backbone = MODELS.build(backbone)
        self.cam_head: CAMHead = MODELS.build(cam_head)
        self.decode_head = MODELS.build(decode_head)
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels
        if self.num_classes != self.cam_head.num_classes + 1:
            raise ValueError(
                f'decode_head.num_classes ({self.num_classes}) must be '
                f'cam_head.num_classes + 1 ({self.cam_head.num_classes + 1}):'
                ' background + K foreground classes')
        self.align_corners = False
        self.scg = MODELS.build(scg)
        self.pamr = MODELS.build(pamr)
        self.certain_filter = MODELS.build(certain_filter)
        self.edge_predict = MODELS.build(edge_predict)
        self.mix = MODELS.build(mix)
        self.loss_rec = MODELS.build(loss_rec)
        self.scg_in_index = tuple(int(i) for i in scg_in_index)
        self.scg_grid = scg_grid
        self.cam_in_index = int(cam_in_index)
        self.seed_stride = int(seed_stride)
        self.mixed_forward = mixed_forward
        self.use_cls_mix = bool(use_cls_mix)
        self.train_cfg = copy.deepcopy(DEFAULT_TRAIN_CFG)
        self.train_cfg.update(train_cfg or {})
        if self.train_cfg['rec_resolution'] not in ('seed', 'cam'):
            raise ValueError('train_cfg.rec_resolution must be seed or cam,'
                             f' got {self.train_cfg["rec_resolution"]!r}')
        if self.train_cfg['cls_phase_decoder'] not in ('skip', 'zero_loss'):
            raise ValueError(
                'train_cfg.cls_phase_decoder must be skip or zero_loss, got '
                f'{self.train_cfg["cls_phase_decoder"]!r}')
        self.test_cfg = copy.deepcopy(DEFAULT_TEST_CFG)
        self.test_cfg.update(test_cfg or {})
        check_choices(
            crf_denorm=(self.test_cfg['crf_denorm'], ('round', 'truncate')))
        self._crf = None
        self.phase = 'cls'
        self.set_phase(phase)
        # set_phase() calls after construction come from RSEPMPhaseHook
        self._phase_from_hook = False
        self._warned_phase = False

    # ------------------------------------------------------------ phases
    def set_phase(self, phase: str) -> None:
        """Set the training phase (``'cls'``, ``'rs'`` or ``'rs_epm'``)."""
        if phase not in PHASES:
            raise ValueError(f'phase must be in {PHASES}, got {phase!r}')
        self.phase = phase
        self._phase_from_hook = True

    # ------------------------------------------------------------ network
    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone features (C2..C5)."""
        return list(self.backbone(inputs))

    def _cam_and_logits(self,
                        feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        return self.cam_head.cam_and_logits(feats[self.cam_in_index])

    def extract_cam(self, inputs: Tensor) -> Tensor:
        """Pre-ReLU CAM logits A, shape (B, K, h16, w16)."""
        return self.cam_head(self.extract_feat(inputs)[self.cam_in_index])

    def _network(
            self,
            inputs: Tensor) -> Tuple[List[Tensor], Tensor, Tensor, Tensor]:
        """(features, CAM logits A, image logits z, decoder logits S)."""
        feats = self.extract_feat(inputs)
        cam, logits = self._cam_and_logits(feats)
        return feats, cam, logits, self.decode_head(feats)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Decoder logits S resized (bilinear) to the input size."""
        seg = self.decode_head(self.extract_feat(inputs))
        return _resize(seg, inputs.shape[2:], 'bilinear')

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tuple[Tensor, Tensor]:
        """Network forward: (CAM logits A, decoder logits S)."""
        _, cam, _, seg = self._network(inputs)
        return cam, seg

    # ------------------------------------------------------------ seeds
    def seed_size(self,
                  h: int,
                  w: int,
                  stride: Optional[int] = None) -> Tuple[int, int]:
        """Stride-``stride`` grid (default ``seed_stride``) of an h x w
        input (ceil)."""
        s = stride or self.seed_stride
        return (h - 1) // s + 1, (w - 1) // s + 1

    @staticmethod
    def valid_mask(inputs: Tensor, data_samples: SampleList) -> Tensor:
        """(B, H, W) bool crop-valid mask (:func:`crop_valid_mask`)."""
        return crop_valid_mask(inputs, data_samples)

    @staticmethod
    def downsample_valid(valid: Tensor, size: Sequence[int]) -> Tensor:
        """Nearest downsampling of a (B, H, W) bool mask."""
        return downsample_mask(valid, size)

    def compute_seeds(self, inputs: Tensor, feats: Sequence[Tensor],
                      cam: Tensor, img_labels: Tensor,
                      valid: Tensor) -> Dict[str, Tensor]:
        """RecurSeed (SCG -> PAMR -> certain filter), no gradient, fp32.

        Args:
            inputs (Tensor): Normalised images (B, 3, H, W) (PAMR guidance).
            feats (Sequence[Tensor]): Backbone features.
            cam (Tensor): CAM logits A (B, K, h16, w16).
            img_labels (Tensor): (B, K) multi-hot.
            valid (Tensor): (B, H, W) bool.

        Returns:
            dict: ``scg_maps`` (B, K, h, w) on the SCG grid (``scg_grid``:
            the CAM grid or stride 8), ``rs_maps`` M_rs
            (B, K, h4, w4) in [0, 1], ``seg_labels`` M_seg (B, h4, w4) long
            in {0..K, 255}, ``valid4`` (B, h4, w4) bool.
        """
        size4 = self.seed_size(*inputs.shape[-2:])
        with torch.no_grad(), torch.autocast(
                device_type=inputs.device.type, enabled=False):
            labels = img_labels.detach().float()
            cam_n = normalise_cam(cam.detach().float())
            cam_n = cam_n * (labels > 0.5).float()[:, :, None, None]
            if self.scg_grid == 'stride8':
                cam_n = _resize(cam_n, self.seed_size(*inputs.shape[-2:], 8),
                                'bilinear')
            levels = [feats[i].detach().float() for i in self.scg_in_index]
            m_scg = self.scg(cam_n, levels, labels)
            m_rs = self.pamr(inputs.detach().float(),
                             _resize(m_scg.float(), size4, 'bilinear'))
            valid4 = self.downsample_valid(valid, size4)
            m_seg = self.certain_filter(m_rs, labels, valid4)
        return dict(
            scg_maps=m_scg,
            rs_maps=m_rs,
            seg_labels=m_seg.long(),
            valid4=valid4)

    # ------------------------------------------------------------ losses
    @staticmethod
    def _seg_samples(seg_labels: Tensor) -> SampleList:
        samples = []
        for lab in seg_labels:
            ds = SegDataSample()
            ds.gt_sem_seg = PixelData(data=lab[None].long())
            samples.append(ds)
        return samples

    def _cls_losses(self,
                    logits: Tensor,
                    labels: Tensor,
                    prefix: str = '') -> Dict[str, Tensor]:
        losses = self.cam_head.loss_by_logits(logits, labels)
        with torch.no_grad():
            losses['acc_cls'] = ((logits > 0).float() == labels).float().mean()
        return add_prefix(losses, prefix) if prefix else losses

    def _seed_losses(self, cam: Tensor, seg: Tensor, rs_maps: Tensor,
                     seg_labels: Tensor, labels: Tensor,
                     valid4: Tensor) -> Dict[str, Tensor]:
        """L_seg (decode head) and L_rec of one batch."""
        losses = add_prefix(
            self.decode_head.loss_by_feat(seg, self._seg_samples(seg_labels)),
            'decode')
        if self.train_cfg['rec_resolution'] == 'cam':
            rs_maps = _resize(rs_maps, cam.shape[-2:], 'bilinear')
            valid4 = self.downsample_valid(valid4, cam.shape[-2:])
        losses[self.loss_rec.loss_name] = self.loss_rec(
            cam, rs_maps, labels, valid4)
        return losses

    def _label_stats(self, seg_labels: Tensor, valid4: Tensor,
                     prefix: str) -> Dict[str, Tensor]:
        if not self.train_cfg['seed_stats']:
            return {}
        with torch.no_grad():
            ignore = self.certain_filter.ignore_index \
                if hasattr(self.certain_filter, 'ignore_index') else 255
            n = valid4.sum().clamp(min=1).float()
            fg = (seg_labels >= 1) & (seg_labels != ignore) & valid4
            unc = (seg_labels == ignore) & valid4
            return {
                f'{prefix}_fg_ratio': fg.sum().float() / n,
                f'{prefix}_ignore_ratio': unc.sum().float() / n
            }

    def _edge_predict_mix(self, inputs: Tensor, valid: Tensor, seg: Tensor,
                          seeds: Dict[str, Tensor],
                          labels: Tensor) -> Dict[str, Tensor]:
        size4 = seeds['rs_maps'].shape[-2:]
        with torch.no_grad(), torch.autocast(
                device_type=inputs.device.type, enabled=False):
            ep = self.edge_predict(
                inputs.detach(),
                _resize(seg.detach().float(), size4, 'bilinear'),
                labels,
                valid4=self.downsample_valid(valid, size4),
                seg_labels=seeds['seg_labels'])
            mixed = self.mix(inputs, valid, ep, seeds['rs_maps'], labels)
            mixed['ep_labels'] = ep
            return mixed

    def _mixed_losses(self, cam_m: Tensor, logits_m: Tensor, seg_m: Tensor,
                      mixed: Dict[str, Tensor],
                      size4: Sequence[int]) -> Dict[str, Tensor]:
        labels_m = mixed['img_labels'].float()
        valid_m4 = self.downsample_valid(mixed['valid'], size4)
        losses = self._seed_losses(cam_m, seg_m, mixed['rs_maps'],
                                   mixed['seg_labels'], labels_m, valid_m4)
        if self.use_cls_mix:
            losses.update(self.cam_head.loss_by_logits(logits_m, labels_m))
        return add_prefix(losses, 'mix')

    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of the current phase (see the class docstring)."""
        if not self._phase_from_hook and not self._warned_phase:
            print_log(
                'RSEPM: the phase was never set by RSEPMPhaseHook; the '
                f'whole run trains in phase {self.phase!r}. Add '
                "custom_hooks=[dict(type='RSEPMPhaseHook', ...)].",
                logger='current',
                level=30)
            self._warned_phase = True
        labels = stack_img_labels(data_samples).to(inputs.device)
        if self.phase == 'cls':
            feats = self.extract_feat(inputs)
            _, logits = self._cam_and_logits(feats)
            losses = self._cls_losses(logits, labels)
            if self.train_cfg['cls_phase_decoder'] == 'zero_loss':
                losses['decode.loss_ce'] = self.decode_head(feats).sum() * 0
            return losses

        valid = self.valid_mask(inputs, data_samples)
        B = inputs.shape[0]
        if self.phase == 'rs_epm' and self.mixed_forward == 'concat':
            with torch.no_grad():
                feats0, cam0, _, seg0 = self._network(inputs)
            seeds = self.compute_seeds(inputs, feats0, cam0, labels, valid)
            mixed = self._edge_predict_mix(inputs, valid, seg0, seeds, labels)
            del feats0, cam0, seg0
            _, cam2, logits2, seg2 = self._network(
                torch.cat([inputs, mixed['inputs'].to(inputs.dtype)]))
            cam, cam_m = cam2[:B], cam2[B:]
            logits, logits_m = logits2[:B], logits2[B:]
            seg, seg_m = seg2[:B], seg2[B:]
        else:
            feats, cam, logits, seg = self._network(inputs)
            seeds = self.compute_seeds(inputs, feats, cam, labels, valid)

        losses = self._cls_losses(logits, labels)
        losses.update(
            self._seed_losses(cam, seg, seeds['rs_maps'], seeds['seg_labels'],
                              labels, seeds['valid4']))
        losses.update(
            self._label_stats(seeds['seg_labels'], seeds['valid4'], 'seed'))
        if self.phase == 'rs':
            return losses

        if self.mixed_forward == 'separate':
            mixed = self._edge_predict_mix(inputs, valid, seg, seeds, labels)
            _, cam_m, logits_m, seg_m = self._network(mixed['inputs'].to(
                inputs.dtype))
        size4 = seeds['rs_maps'].shape[-2:]
        losses.update(self._mixed_losses(cam_m, logits_m, seg_m, mixed, size4))
        if 'ep_labels' in mixed:
            losses.update(
                self._label_stats(mixed['ep_labels'], seeds['valid4'], 'ep'))
        return losses

    # ------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_seed(self,
                     inputs: Tensor,
                     img_labels: Optional[Tensor] = None,
                     scales: Optional[Sequence[float]] = None,
                     flip: Optional[bool] = None,
                     conf_th: Optional[float] = None,
                     return_probs: bool = False) -> Tuple[Tensor, ...]:
        """Single-stage seed of the RS+EPM inference without the CRF [code].

        For every scale s of ``test_cfg.scales`` (and its horizontal flip):
        ``I_s = resize(I, (int(H s), int(W s)))``,
        ``P_s = resize(softmax(resize(S, size(I_s))), (H, W))`` with
        ``logit_resize`` (nearest) and the flip undone; ``P`` = mean of the
        views. Present classes: ``img_labels`` when given, else
        ``mean sigmoid(z) >= conf_th``. ``seed_c = P_{c+1} / (max P_{c+1} +
        1e-5)`` for present c, 0 for the others (the decoder background is
        discarded). The maps (and the per-class maximum) cover the whole
        input tensor, padding included: feed unpadded images (the mmseg
        test loaders of this repo use batch 1 without padding).

        Args:
            inputs (Tensor): Normalised images (B, 3, H, W).
            img_labels (Tensor, optional): (B, K) multi-hot.
            scales (Sequence[float], optional): Overrides
                ``test_cfg['scales']``.
            flip (bool, optional): Overrides ``test_cfg['flip']``.
            conf_th (float, optional): Overrides ``test_cfg['conf_th']``.
            return_probs (bool): Also return the mean ``sigmoid(z)``.

        Returns:
            tuple[Tensor, ...]: ``seed`` (B, K, H, W) float32 in [0, 1),
            ``present`` (B, K) bool (and ``probs`` (B, K)).
        """
        cfg = self.test_cfg
        scales = cfg['scales'] if scales is None else scales
        flip = cfg['flip'] if flip is None else flip
        conf_th = cfg['conf_th'] if conf_th is None else conf_th
        B, _, H, W = inputs.shape
        prob_sum, sig_sum, views = None, None, 0
        for s in scales:
            size = scaled_size(H, W, s, 'int')
            x = _resize(inputs, size, cfg['input_resize'])
            if flip:
                x = torch.cat([x, x.flip(-1)])
            _, _, logits, seg = self._network(x)
            seg = _resize(seg.float(), size, cfg['logit_resize'])
            prob = _resize(seg.softmax(dim=1), (H, W), cfg['logit_resize'])
            sig = torch.sigmoid(logits.float())
            if flip:
                prob = prob[:B] + prob[B:].flip(-1)
                sig = sig[:B] + sig[B:]
            prob_sum = prob if prob_sum is None else prob_sum + prob
            sig_sum = sig if sig_sum is None else sig_sum + sig
            views += 2 if flip else 1
        prob = prob_sum / views
        probs = sig_sum / views
        if img_labels is not None:
            present = img_labels.to(inputs.device) > 0.5
        else:
            present = probs >= conf_th
        seed = normalise_cam(prob[:, 1:])
        seed = seed * present[:, :, None, None].float()
        if return_probs:
            return seed, present, probs
        return seed, present

    def _gt_img_labels(self, data_samples: OptSampleList) -> Optional[Tensor]:
        if (self.test_cfg['use_gt_labels'] and data_samples is not None
                and all('gt_img_labels' in ds for ds in data_samples)):
            return stack_img_labels(data_samples)
        return None

    def _build_crf(self):
        if self._crf is None:
            cfg = self.test_cfg['crf']
            self._crf = MODELS.build(cfg) if isinstance(cfg, dict) else cfg
        return self._crf

    def _image_u8(self, inputs: Tensor, data_sample: SegDataSample,
                  index: int) -> np.ndarray:
        """uint8 RGB (H, W, 3) of input ``index`` restored to
        ``ori_shape`` (:func:`restored_image_u8`, ``crf_denorm``)."""
        return restored_image_u8(inputs, data_sample, index,
                                 self.data_preprocessor,
                                 self.test_cfg['crf_denorm'])

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Single-stage inference: seed, ``bg = (1 - max_c
        seed_c)^bg_gamma``, optional CRF, argmax.

        Fills ``seg_logits`` (K + 1 channels ``[bg, seed]`` at the original
        size; with a CRF the CRF marginals of ``[bg, present seeds]``,
        absent classes 0) and ``pred_sem_seg`` (mask class ids; no present
        class gives all background). With ``test_cfg.with_cam`` also
        ``pred_cam`` (the seed of the present classes, original size) and
        ``cam_keys`` (``[0] + [c + 1 for present c]``) as
        ``CAMClassifier.predict`` does.

        The CRF image is the network input denormalised with the data
        preprocessor's mean/std and restored to ``ori_shape``; it equals the
        original image when the test pipeline does not resize.
        """
        seed, present = self.predict_seed(inputs,
                                          self._gt_img_labels(data_samples))
        bg = (1 - seed.amax(dim=1, keepdim=True)).pow(
            float(self.test_cfg['bg_gamma']))
        results = self.postprocess_result(
            torch.cat([bg, seed], dim=1), data_samples)
        crf = self._build_crf() if self.test_cfg['crf'] else None
        for i, ds in enumerate(results):
            keys = cam_keys(present[i])
            scores = ds.seg_logits.data
            if self.test_cfg['with_cam']:
                ds.pred_cam = PixelData(data=scores[keys[1:]].clone())
                ds.cam_keys = keys.clone()
            if crf is None:
                continue
            img = self._image_u8(inputs, ds, i)
            q = crf.refine_probs(img, scores[keys].cpu().numpy())
            q = torch.from_numpy(q).to(scores)
            full = torch.zeros_like(scores)
            full[keys] = q
            ds.seg_logits = PixelData(data=full)
            ds.pred_sem_seg = PixelData(
                data=keys.to(scores.device)[q.argmax(dim=0)][None])
        return results
