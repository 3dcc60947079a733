# Copyright (c) mmwsss contributors. All rights reserved.
"""Random-walk maps of saved CAMs with a boundary network."""
from typing import Dict, Optional

import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS

from mmwsss.utils.cam_ops import strided_size
from mmwsss.utils.fileio import DataFileError
from ..refiners.random_walk import upsample_rw

__all__ = ['RandomWalkMaps']


@MODELS.register_module()
class RandomWalkMaps(BaseTTAModel):
    """Class-boundary random walk of the CAMs of a batch (IRN / Puzzle-CAM
    pseudo-label stage).

    Wraps a boundary network (``module``, e.g. :class:`BoundaryNet` with
    ``extract_edge``). Each data sample brings its stride-4 CAM
    (``pred_cam_s4``, ``(|P|, ⌈H/4⌉, ⌈W/4⌉)``) and ``cam_keys``, read from
    a CAM file by ``LoadMapFile``. For a batch: the images are normalised by
    the module's data preprocessor and zero-padded to the largest one, the
    edge map ``e = module.extract_edge(x, sizes)`` is computed, the CAMs
    (zero-padded in classes and size; the edge is 1 on the padding) are
    propagated by ``refiner`` (:class:`RandomWalk`:
    ``(cam ⊙ (1 - e)) T^(2^exp_times)``), and every map is upsampled ×4,
    cropped to the image and divided by its global maximum
    (:func:`upsample_rw`). Output fields: ``pred_rw``
    (:class:`PixelData` ``(|P|, H, W)``) and ``cam_keys`` (unchanged).

    Args:
        module (dict | nn.Module): The boundary network.
        refiner (dict, optional): :class:`RandomWalk` config. Its ``beta``,
            ``exp_times`` and ``radius`` default to the module's
            ``test_cfg`` ``rw_beta`` (10), ``rw_exp_times`` (8) and
            ``rw_radius`` (5).
        data_preprocessor (dict, optional): Unused (the module's is used).
    """

    def __init__(self,
                 module,
                 refiner: Optional[dict] = None,
                 data_preprocessor=None) -> None:
        super().__init__(module=module)
        if not hasattr(self.module, 'extract_edge'):
            raise TypeError(f'{type(self.module).__name__} has no '
                            f'extract_edge(); a boundary network is needed.')
        tcfg = getattr(self.module, 'test_cfg', None) or {}
        cfg = dict(
            type='RandomWalk',
            beta=tcfg.get('rw_beta', 10.0),
            exp_times=tcfg.get('rw_exp_times', 8),
            radius=tcfg.get('rw_radius', 5))
        cfg.update(refiner or {})
        self.refiner = MODELS.build(cfg)

    def merge_preds(self, data_samples_list):
        """Not used (no test-time augmentation)."""
        raise NotImplementedError('RandomWalkMaps has no views to merge.')

    @torch.no_grad()
    def test_step(self, data: Dict) -> list:
        """Random-walk maps of a batch from the dataloader.

        Args:
            data (dict): ``inputs`` (list of uint8 ``(3, H, W)`` tensors)
                and ``data_samples`` with ``pred_cam_s4`` / ``cam_keys``.

        Returns:
            list[SegDataSample]: With ``pred_rw``.
        """
        inputs, samples = data['inputs'], data['data_samples']
        dp = self.module.data_preprocessor
        xs = [dp(dict(inputs=[img]), False)['inputs'] for img in inputs]
        cams = []
        for ds, x in zip(samples, xs):
            cam = ds.pred_cam_s4.data.float().to(x.device)
            size4 = strided_size(*x.shape[-2:], 4)
            if tuple(cam.shape[1:]) != size4 or \
                    cam.shape[0] + 1 != ds.cam_keys.numel():
                raise DataFileError(
                    f'{ds.metainfo.get("img_path")}: its CAM has shape '
                    f'{tuple(cam.shape)} and {ds.cam_keys.numel()} keys, '
                    f'but the image needs (|keys| - 1, {size4[0]}, '
                    f'{size4[1]}); the CAM file belongs to another image.')
            cams.append(cam)
        B = len(xs)
        H = max(x.shape[-2] for x in xs)
        W = max(x.shape[-1] for x in xs)
        K = max(max(c.shape[0] for c in cams), 1)
        h4, w4 = strided_size(H, W, 4)
        imgs = xs[0].new_zeros((B, 3, H, W))
        cam_b = xs[0].new_zeros((B, K, h4, w4))
        sizes = []
        for b, (x, cam) in enumerate(zip(xs, cams)):
            hb, wb = x.shape[-2:]
            imgs[b, :, :hb, :wb] = x[0]
            cam_b[b, :cam.shape[0], :cam.shape[1], :cam.shape[2]] = cam
            sizes.append((hb, wb))
        edge = self.module.extract_edge(imgs, sizes).float()
        rw = self.refiner(cam_b, edge)
        for b, (ds, cam) in enumerate(zip(samples, cams)):
            r = rw[b, :cam.shape[0], :cam.shape[1], :cam.shape[2]]
            ds.pred_rw = PixelData(data=upsample_rw(r, sizes[b]))
        return samples
