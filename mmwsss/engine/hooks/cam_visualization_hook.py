"""Draw CAM overlays of validation samples to the visualizer backends."""
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.visualization import Visualizer
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

from ...visualization.cam_overlay import cam_panel

__all__ = ['CAMVisualizationHook']


@HOOKS.register_module()
class CAMVisualizationHook(Hook):
    """Add CAM overlay panels of the first ``max_samples`` validation images.

    The model's ``predict`` must store ``pred_cam`` and ``cam_keys`` in the
    data samples (``CAMClassifier`` does with ``test_cfg.with_cam=True``).
    Images go to every backend of the current visualizer
    (``LocalVisBackend``, ``TensorboardVisBackend``, ...) via ``add_image``.

    Args:
        max_samples (int): Number of validation samples drawn per
            evaluation. Defaults to 4.
        draw (bool): Whether to draw. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self, max_samples: int = 4, draw: bool = True) -> None:
        self.max_samples = max_samples
        self.draw = draw
        self._drawn = 0

    def before_val_epoch(self, runner: Runner) -> None:
        self._drawn = 0

    def before_test_epoch(self, runner: Runner) -> None:
        self._drawn = 0

    def _draw(self, runner: Runner, outputs: Sequence[SegDataSample],
              mode: str) -> None:
        if not self.draw or self._drawn >= self.max_samples:
            return
        visualizer = Visualizer.get_current_instance()
        meta = getattr(runner, f'{mode}_dataloader').dataset.metainfo
        for ds in outputs:
            if self._drawn >= self.max_samples or 'pred_cam' not in ds:
                continue
            img = mmcv.imread(ds.img_path, channel_order='rgb')
            gt = ds.gt_sem_seg.data[0].cpu().numpy() \
                if 'gt_sem_seg' in ds else None
            panel = cam_panel(
                img,
                ds.pred_cam.data.float().cpu().numpy(),
                ds.cam_keys.cpu().tolist(),
                class_names=meta.get('classes'),
                pred=ds.pred_sem_seg.data[0].cpu().numpy(),
                gt=gt,
                palette=meta.get('palette'))
            name = f'{mode}_cam_{self._drawn}'
            visualizer.add_image(name, np.ascontiguousarray(panel),
                                 step=runner.iter)
            self._drawn += 1

    def after_val_iter(self,
                       runner: Runner,
                       batch_idx: int,
                       data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, outputs or [], 'val')

    def after_test_iter(self,
                        runner: Runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, outputs or [], 'test')
