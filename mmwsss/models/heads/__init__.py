from .boundary_head import BoundaryHead
from .cam_head import CAMHead, stack_img_labels
from .puzzle_cam_head import PuzzleCAMHead
from .rrm_seg_head import RRMSegHead
from .rsepm_decoder_head import RSEPMDecoderHead

__all__ = ['CAMHead', 'stack_img_labels', 'PuzzleCAMHead']
__all__ += ['BoundaryHead']
__all__ += ['RSEPMDecoderHead']
__all__ += ['RRMSegHead']
from .semantic_activation_head import SemanticActivationHead  # noqa
from .semantic_embedding_head import SemanticEmbeddingHead  # noqa

__all__ += ['SemanticActivationHead', 'SemanticEmbeddingHead']
