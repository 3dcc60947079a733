from .certain_filter import CertainFilter
from .dense_crf import CRF_PRESETS, DenseCRF, compact_labels
from .pamr import PAMR
from .random_walk import (PathIndex, RandomWalk, path_offsets, path_points,
                          propagate, random_walk, random_walk_weights,
                          upsample_rw)
from .scg import SCG

__all__ = [
    'CRF_PRESETS', 'DenseCRF', 'compact_labels', 'PathIndex', 'RandomWalk',
    'path_offsets', 'path_points', 'propagate', 'random_walk',
    'random_walk_weights', 'upsample_rw', 'PAMR', 'SCG', 'CertainFilter'
]
