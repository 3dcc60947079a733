from .boundary_net import BoundaryNet
from .cam_classifier import CAMClassifier
from .multiscale_cam import MultiScaleCAM
from .puzzle_cam import PuzzleCAM
from .random_walk_maps import RandomWalkMaps
from .rrm import RRM
from .rsepm import RSEPM
from .saved_predictions import SavedPredictions
from .wsss_seg_tta import WSSSSegTTAModel

__all__ = [
    'CAMClassifier', 'PuzzleCAM', 'BoundaryNet', 'WSSSSegTTAModel', 'RSEPM',
    'MultiScaleCAM', 'RandomWalkMaps', 'SavedPredictions', 'RRM'
]
from .semantic_encoder import SemanticEncoder  # noqa
from .slams_like import SLAMsLike  # noqa

__all__ += ['SemanticEncoder', 'SLAMsLike']
