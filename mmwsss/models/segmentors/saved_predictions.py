# Copyright (c) mmwsss contributors. All rights reserved.
"""The predictions that a pipeline read from files, as a model."""
from typing import Dict, Optional

from mmengine.model import BaseModel
from mmseg.registry import MODELS

__all__ = ['SavedPredictions']


@MODELS.register_module()
class SavedPredictions(BaseModel):
    """A weightless "model" for evaluating saved maps with the test loop.

    The test pipeline reads the predictions (``LoadMapFile``: ``pred_cam`` /
    ``cam_keys`` of map files, or ``pred_sem_seg`` of label PNGs) into the
    data samples; ``test_step`` returns them unchanged, so any evaluator
    (``CAMSweepMetric``, ``IoUMetric``) scores files exactly as it scores a
    network.

    Args:
        data_preprocessor (dict, optional): Defaults to MMEngine's
            ``BaseDataPreprocessor``.
    """

    def __init__(self, data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)

    def forward(self, inputs=None, data_samples=None, mode: str = 'predict'):
        """Return the data samples (``mode='predict'`` only)."""
        if mode != 'predict':
            raise ValueError(f'SavedPredictions only predicts, got mode '
                             f'{mode!r}.')
        return data_samples

    def test_step(self, data: Dict) -> list:
        """The data samples of the batch, as read by the pipeline."""
        return data['data_samples']

    val_step = test_step
