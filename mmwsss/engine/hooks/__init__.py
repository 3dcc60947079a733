from .cam_visualization_hook import CAMVisualizationHook
from .puzzle_alpha_hook import PuzzleAlphaHook
from .rrm_schedule_hook import RRMScheduleHook
from .rsepm_phase_hook import RSEPMPhaseHook
from .strict_load_hook import StrictLoadHook

__all__ = [
    'CAMVisualizationHook', 'PuzzleAlphaHook', 'RSEPMPhaseHook',
    'StrictLoadHook', 'RRMScheduleHook'
]
