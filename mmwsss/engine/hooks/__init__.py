from .cam_visualization_hook import CAMVisualizationHook
from .puzzle_alpha_hook import PuzzleAlphaHook
from .rsepm_phase_hook import RSEPMPhaseHook

__all__ = ['CAMVisualizationHook', 'PuzzleAlphaHook']
__all__ += ['RSEPMPhaseHook']
