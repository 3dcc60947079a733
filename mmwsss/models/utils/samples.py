# Copyright (c) mmwsss contributors. All rights reserved.
"""Helpers over the data samples of a batch."""
import torch
from mmseg.utils import SampleList
from torch import Tensor

__all__ = ['stack_sample_field']


def stack_sample_field(data_samples: SampleList, field: str,
                       hint: str) -> Tensor:
    """Stack ``data_sample.<field>`` (a tensor or the ``data`` of a
    ``PixelData``) of every sample; a sample without it raises
    ``KeyError`` naming its image and ``hint`` (how to fix it)."""
    values = []
    for i, ds in enumerate(data_samples):
        if field not in ds:
            path = ds.metainfo.get('img_path', f'sample {i}')
            raise KeyError(f'{path}: data sample has no `{field}`; {hint}')
        value = getattr(ds, field)
        values.append(getattr(value, 'data', value))
    return torch.stack(values)
