from .checkpoint import (TRUST_ENV, CheckpointError, CheckpointMismatchError,
                         UntrustedCheckpointError, check_checkpoint_fits,
                         load_checkpoint_file, load_model_checkpoint)
from .compat import (MissingMMCVOpError, apply_all, cpu_ddp_wrapper_cfg,
                     has_real_mmcv_ext, init_cpu_distributed,
                     install_mmcv_ext_shim, patch_checkpoint_loading)
from .cpu_malloc import tune_cpu_malloc
from .fileio import AtomicLocalBackend, atomic_write
from .parallel import imap_pool

__all__ = [
    'MissingMMCVOpError', 'apply_all', 'cpu_ddp_wrapper_cfg',
    'has_real_mmcv_ext', 'init_cpu_distributed', 'install_mmcv_ext_shim',
    'patch_checkpoint_loading'
]
__all__ += ['imap_pool', 'tune_cpu_malloc']
__all__ += [
    'TRUST_ENV', 'CheckpointError', 'CheckpointMismatchError',
    'UntrustedCheckpointError', 'check_checkpoint_fits',
    'load_checkpoint_file', 'load_model_checkpoint', 'AtomicLocalBackend',
    'atomic_write'
]
