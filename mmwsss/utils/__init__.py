from .compat import (MissingMMCVOpError, apply_all, cpu_ddp_wrapper_cfg,
                     has_real_mmcv_ext, init_cpu_distributed,
                     install_mmcv_ext_shim, patch_checkpoint_loading)
from .parallel import imap_pool

__all__ = [
    'MissingMMCVOpError', 'apply_all', 'cpu_ddp_wrapper_cfg',
    'has_real_mmcv_ext', 'init_cpu_distributed', 'install_mmcv_ext_shim',
    'patch_checkpoint_loading'
]
__all__ += ['imap_pool']
