from .puzzle import PuzzleTiler, merge_pieces, pieces_per_side, tile_pieces
from .samples import stack_sample_field

__all__ = [
    'PuzzleTiler', 'merge_pieces', 'pieces_per_side', 'tile_pieces',
    'stack_sample_field'
]
