from .optim_presets import OPTIM_PRESETS, wsss_sgd_optim_wrapper
from .wsss_optim_wrapper_constructor import WSSSOptimWrapperConstructor

__all__ = [
    'WSSSOptimWrapperConstructor', 'OPTIM_PRESETS', 'wsss_sgd_optim_wrapper'
]
