from .affinity_loss import AffinityLoss, affinity_loss_terms
from .bg_fg_cross_entropy_loss import BgFgCrossEntropyLoss, bg_fg_cross_entropy
from .dense_energy_loss import (DenseEnergyLoss, dense_energy_loss,
                                energy_grid_size)
from .multilabel_soft_margin_loss import (MultiLabelSoftMarginLoss,
                                          multilabel_soft_margin_loss)
from .puzzle_reconstruction_loss import (PuzzleReconstructionLoss,
                                         puzzle_reconstruction_loss)
from .recurseed_loss import RecurSeedLoss, recurseed_loss

__all__ = [
    'MultiLabelSoftMarginLoss', 'multilabel_soft_margin_loss',
    'PuzzleReconstructionLoss', 'puzzle_reconstruction_loss'
]
__all__ += ['AffinityLoss', 'affinity_loss_terms']
__all__ += ['RecurSeedLoss', 'recurseed_loss']
__all__ += ['BgFgCrossEntropyLoss', 'bg_fg_cross_entropy']
__all__ += ['DenseEnergyLoss', 'dense_energy_loss', 'energy_grid_size']
from .activation_consistency_loss import ActivationConsistencyLoss  # noqa
from .activation_regularization_loss import \
    ActivationRegularizationLoss  # noqa
from .category_background_loss import CategoryBackgroundLoss  # noqa
from .category_foreground_loss import CategoryForegroundLoss  # noqa
from .semantic_similarity_loss import (SemanticSimilarityLoss,  # noqa
                                       semantic_similarity_loss)

__all__ += [
    'ActivationConsistencyLoss', 'ActivationRegularizationLoss',
    'CategoryBackgroundLoss', 'CategoryForegroundLoss',
    'SemanticSimilarityLoss', 'semantic_similarity_loss'
]
