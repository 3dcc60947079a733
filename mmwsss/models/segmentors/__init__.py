from .boundary_net import BoundaryNet
from .cam_classifier import CAMClassifier
from .puzzle_cam import PuzzleCAM
from .rsepm import RSEPM
from .wsss_seg_tta import WSSSSegTTAModel

__all__ = ['CAMClassifier', 'PuzzleCAM']
__all__ += ['BoundaryNet']
__all__ += ['WSSSSegTTAModel']
__all__ += ['RSEPM']
