from .cam_visualization_hook import CAMVisualizationHook
from .puzzle_alpha_hook import PuzzleAlphaHook

__all__ = ['CAMVisualizationHook', 'PuzzleAlphaHook']
