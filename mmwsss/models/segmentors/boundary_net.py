"""Boundary network ("AffinityNet" of Puzzle-CAM, IRN's class-boundary
branch): frozen backbone + trainable edge head."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from ..utils.samples import stack_sample_field

__all__ = ['BoundaryNet']


@MODELS.register_module()
class BoundaryNet(BaseSegmentor):
    """Frozen backbone + :class:`~mmwsss.models.BoundaryHead` (IRN-style
    boundary network of the Puzzle-CAM pipeline, and its random-walk edge).

    The backbone (ImageNet weights, *not* the CAM classifier) is fully
    frozen: its parameters do not require gradients, it always runs in eval
    mode (frozen BN statistics) under ``torch.no_grad``, so only the edge
    head is trained. The stem output S1 (stride 4, after the max-pool for
    ResNet / ResNeSt) is not an MMSeg ``out_indices`` output; it is taken
    from the backbone module named ``stem_module`` with a forward hook and
    prepended to the backbone outputs: the head sees
    ``[S1, out_0, out_1, ...]`` (or only the outputs with
    ``stem_module=None``).

    Training: the affinity label map is the mask of the data sample
    (``gt_sem_seg``, values 0..K and 255, see
    ``tools/pseudo_labels/make_affinity_labels.py``); the head builds the
    radius-10 pairs and the affinity loss.

    Inference (:meth:`extract_edge`, [code]): each image is zero-padded
    (normalised space) bottom/right to ``test_cfg.edge_pad_size`` (512; a
    larger image is padded to a multiple of 4), the batch ``[x, flip(x)]``
    runs, both outputs are cropped top-left to ``(⌈H/4⌉, ⌈W/4⌉)`` and
    ``e = sigmoid((E[0] + flip(E[1])) / 2)``.

    ``test_cfg`` keys: ``edge_pad_size`` (int | None: None pads to a
    multiple of 4 only; default 512), ``flip`` (bool, default True),
    ``edge_thr`` (threshold of ``pred_sem_seg`` in :meth:`predict`, default
    0.5) and the random-walk parameters read by
    ``tools/pseudo_labels/random_walk.py``: ``rw_radius`` (5), ``rw_beta``
    (10) and ``rw_exp_times`` (8).

    Args:
        backbone (dict): Backbone config (its weights are loaded by
            ``init_cfg`` of the backbone, e.g. torchvision ResNet-50).
        boundary_head (dict): :class:`BoundaryHead` config.
        stem_module (str, optional): Name (``named_modules``) of the
            backbone module whose output is S1. Defaults to 'maxpool'
            (mmseg ResNet / ResNetV1c / ResNeSt).
        train_cfg (dict, optional): Unused.
        test_cfg (dict, optional): See above.
        data_preprocessor (dict, optional): ``SegDataPreProcessor`` config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 boundary_head: ConfigType,
                 stem_module: Optional[str] = 'maxpool',
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.boundary_head = MODELS.build(boundary_head)
        self.stem_module = stem_module
        self._stem_mod = None
        if stem_module is not None:
            mods = dict(self.backbone.named_modules())
            if stem_module not in mods:
                raise ValueError(
                    f'backbone {type(self.backbone).__name__} has no module '
                    f'"{stem_module}" for the stem feature S1; set '
                    f'stem_module to one of its module names (e.g. '
                    f"'maxpool' for ResNet) or None.")
            self._stem_mod = mods[stem_module]
        self.train_cfg = train_cfg or {}
        self.test_cfg = dict(
            edge_pad_size=512,
            flip=True,
            edge_thr=0.5,
            rw_radius=5,
            rw_beta=10.0,
            rw_exp_times=8)
        self.test_cfg.update(test_cfg or {})
        self.align_corners = False
        self.freeze_backbone()

    # ------------------------------------------------------------ backbone
    def freeze_backbone(self) -> None:
        """No gradients and eval mode for the whole backbone."""
        for p in self.backbone.parameters():
            p.requires_grad = False
        self.backbone.eval()

    def train(self, mode: bool = True) -> 'BoundaryNet':
        """Set train mode of the head; the backbone stays in eval mode."""
        super().train(mode)
        self.backbone.eval()
        return self

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Detached ``[S1, backbone outputs...]`` of the frozen backbone."""
        captured = []
        handle = None
        if self._stem_mod is not None:
            handle = self._stem_mod.register_forward_hook(
                lambda m, i, o: captured.append(o))
        try:
            with torch.no_grad():
                outs = list(self.backbone(inputs))
        finally:
            if handle is not None:
                handle.remove()
        if self._stem_mod is not None:
            if not captured:
                raise RuntimeError(
                    f'the stem module "{self.stem_module}" did not run in '
                    f'the backbone forward.')
            outs = [captured[-1]] + outs
        return [o.detach() for o in outs]

    def forward_edge(self, inputs: Tensor) -> Tensor:
        """Edge logits ``(B, 1, h, w)`` of normalised inputs."""
        return self.boundary_head(self.extract_feat(inputs))

    # ------------------------------------------------------------ inference
    def _pad_size(self, h: int, w: int) -> Sequence[int]:
        pad = self.test_cfg.get('edge_pad_size')
        ph, pw = -(-h // 4) * 4, -(-w // 4) * 4
        if pad is not None:
            ph, pw = max(ph, int(pad)), max(pw, int(pad))
        return ph, pw

    @torch.no_grad()
    def extract_edge(
            self,
            inputs: Tensor,
            sizes: Optional[Sequence[Sequence[int]]] = None) -> Tensor:
        """Edge probabilities for the random walk.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised images; an image of
                size ``sizes[b]`` sits in the top-left corner, the rest is
                0 (padding).
            sizes (Sequence, optional): ``(H_b, W_b)`` of every image.
                Defaults to the full input size.

        Returns:
            Tensor: ``(B, ⌈H/4⌉, ⌈W/4⌉)`` edge probabilities; for image b
            only the top-left ``(⌈H_b/4⌉, ⌈W_b/4⌉)`` is meaningful and the
            rest is 1.0 (the random-walk padding value).
        """
        B, _, H, W = inputs.shape
        sizes = [(H, W)] * B if sizes is None else [tuple(s) for s in sizes]
        ph, pw = self._pad_size(H, W)
        flip = self.test_cfg.get('flip', True)
        batch = []
        for b, (hb, wb) in enumerate(sizes):
            real = inputs[b:b + 1, :, :hb, :wb]
            batch.append(F.pad(real, (0, pw - wb, 0, ph - hb)))
            if flip:
                # the flipped image also sits top-left: padding never enters
                # the flipped map
                batch.append(F.pad(real.flip(-1), (0, pw - wb, 0, ph - hb)))
        logits = self.forward_edge(torch.cat(batch))[:, 0].float()
        views = 2 if flip else 1
        out = inputs.new_ones((B, -(-H // 4), -(-W // 4)), dtype=torch.float32)
        for b, (hb, wb) in enumerate(sizes):
            hb4, wb4 = -(-hb // 4), -(-wb // 4)
            logit = logits[views * b, :hb4, :wb4]
            if flip:
                logit = (logit +
                         logits[views * b + 1, :hb4, :wb4].flip(-1)) / 2
            out[b, :hb4, :wb4] = torch.sigmoid(logit)
        return out

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Edge probabilities at input resolution ``(B, 1, H, W)``."""
        e = torch.sigmoid(self.forward_edge(inputs))
        return F.interpolate(
            e, size=inputs.shape[2:], mode='bilinear', align_corners=False)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Network forward: edge logits."""
        return self.forward_edge(inputs)

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Edge maps as data samples: ``pred_edge`` (probabilities at the
        original size) and ``pred_sem_seg`` (``edge > edge_thr``)."""
        from mmseg.structures import SegDataSample
        sizes = [ds.img_shape for ds in data_samples] \
            if data_samples is not None else None
        edge = self.extract_edge(inputs, sizes)
        results = []
        for b in range(inputs.shape[0]):
            ds = data_samples[b] if data_samples is not None else \
                SegDataSample()
            shape = ds.metainfo.get('ori_shape', inputs.shape[2:])
            hb, wb = sizes[b] if sizes is not None else inputs.shape[2:]
            e = edge[b:b + 1, :-(-hb // 4), :-(-wb // 4)]
            e = F.interpolate(
                e[None],
                size=tuple(shape[:2]),
                mode='bilinear',
                align_corners=False)[0]
            ds.set_data(
                dict(
                    pred_edge=PixelData(data=e),
                    pred_sem_seg=PixelData(
                        data=(e > self.test_cfg['edge_thr']).long())))
            results.append(ds)
        return results

    # ------------------------------------------------------------ training
    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Affinity loss against the affinity labels (``gt_sem_seg``)."""
        labels = stack_sample_field(
            data_samples, 'gt_sem_seg',
            'the affinity label map: the dataset mask_dir must point at the '
            'affinity-label PNGs of tools/pseudo_labels/'
            'make_affinity_labels.py and the pipeline must load them '
            '(LoadWSSSAnnotations).')
        return self.boundary_head.loss(self.extract_feat(inputs), labels)
