from .puzzle import PuzzleTiler, merge_pieces, pieces_per_side, tile_pieces

__all__ = ['PuzzleTiler', 'merge_pieces', 'pieces_per_side', 'tile_pieces']
