from .cam_ops import (bg_gamma_threshold, cam_keys, check_scales,
                      hr_cam_size, label_from_maps, normalise_cam,
                      scaled_size, strided_size)
from .puzzle import PuzzleTiler, merge_pieces, pieces_per_side, tile_pieces

__all__ = [
    'PuzzleTiler', 'merge_pieces', 'pieces_per_side', 'tile_pieces',
    'bg_gamma_threshold', 'cam_keys', 'check_scales', 'hr_cam_size',
    'label_from_maps', 'normalise_cam', 'scaled_size', 'strided_size'
]
