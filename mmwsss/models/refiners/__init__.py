from .certain_filter import CertainFilter
from .dense_crf import CRF_PRESETS, DenseCRF, compact_labels
from .edge_ops import (batch_canny_edges, batch_component_fill, canny_edges,
                       component_fill, masked_median, median_canny_thresholds,
                       median_threshold, prob_to_uint8, tv_edge_strength,
                       tv_edges)
from .edge_predict import EdgePredict
from .pamr import PAMR
from .random_walk import (PathIndex, RandomWalk, path_offsets, path_points,
                          propagate, random_walk, random_walk_weights,
                          upsample_rw)
from .reliable_region_mining import ReliableRegionMining, top_ratio_region
from .scg import SCG

__all__ = [
    'CRF_PRESETS', 'DenseCRF', 'compact_labels', 'PathIndex', 'RandomWalk',
    'path_offsets', 'path_points', 'propagate', 'random_walk',
    'random_walk_weights', 'upsample_rw', 'PAMR', 'SCG', 'CertainFilter',
    'EdgePredict', 'batch_canny_edges', 'batch_component_fill',
    'canny_edges', 'component_fill', 'masked_median',
    'median_canny_thresholds', 'median_threshold', 'prob_to_uint8',
    'tv_edge_strength', 'tv_edges'
]
__all__ += ['ReliableRegionMining', 'top_ratio_region']
