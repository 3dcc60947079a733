from .edge_ops import (batch_canny_edges, batch_component_fill, canny_edges,
                       component_fill, masked_median, median_canny_thresholds,
                       median_threshold, prob_to_uint8, tv_edge_strength,
                       tv_edges)
from .edge_predict_mix import EdgePredictMix

__all__ = [
    'EdgePredictMix', 'batch_canny_edges', 'batch_component_fill',
    'canny_edges', 'component_fill', 'masked_median',
    'median_canny_thresholds', 'median_threshold', 'prob_to_uint8',
    'tv_edge_strength', 'tv_edges'
]
