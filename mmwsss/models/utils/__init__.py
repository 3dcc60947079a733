from .gaussian_filter import (FILTER_BACKENDS, TILE_BYTES, auto_chunk,
                              bilateral_features, bilateral_gaussian_filter,
                              keops_available)
from .images import (crop_valid_mask, denormalize, downsample_mask, images_u8,
                     restored_image_u8)
from .loss_context import decode_losses, losses_see_samples
from .puzzle import PuzzleTiler, merge_pieces, pieces_per_side, tile_pieces
from .samples import stack_sample_field

__all__ = [
    'PuzzleTiler', 'merge_pieces', 'pieces_per_side', 'tile_pieces',
    'stack_sample_field'
]
__all__ += [
    'crop_valid_mask', 'denormalize', 'downsample_mask', 'images_u8',
    'restored_image_u8'
]
__all__ += ['decode_losses', 'losses_see_samples']
__all__ += [
    'FILTER_BACKENDS', 'TILE_BYTES', 'auto_chunk', 'bilateral_features',
    'bilateral_gaussian_filter', 'keops_available'
]
