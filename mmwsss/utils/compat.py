"""Compatibility fixes for the pinned OpenMMLab stack on modern PyTorch.

Every upstream breakage that mmwsss works around is handled here, once:

* ``mmcv._ext`` missing (``mmcv-lite``): :func:`install_mmcv_ext_shim` installs
  a placeholder module so that the pure-PyTorch code paths of mmseg and
  mmpretrain import. Calling a compiled op then raises
  :class:`MissingMMCVOpError`, naming the op and how to install full mmcv.
  The shim is never installed when the real extension can be imported.
* ``torch.load(weights_only=True)`` default of torch >= 2.6 rejects MMEngine
  checkpoints (they pickle numpy arrays, ``HistoryBuffer`` ...):
  :func:`patch_checkpoint_loading` registers :mod:`mmwsss.utils.checkpoint`'s
  loader as MMEngine's local-file loader. It keeps ``weights_only=True`` and
  allow-lists exactly the types MMEngine checkpoints contain (scoped to the
  load, nothing is relaxed globally); ``weights_only=False`` only with the
  explicit opt-in (``--trust-checkpoint`` / ``MMWSSS_TRUST_CHECKPOINT=1``).
* MMEngine writes checkpoints in place, so a run killed while saving leaves
  a truncated ``iter_N.pth``: :func:`patch_checkpoint_loading` also makes
  :class:`mmwsss.utils.fileio.AtomicLocalBackend` (temp file + rename) the
  local file backend.
* ``--launcher pytorch`` on a machine without CUDA: MMEngine calls
  ``torch.cuda.set_device`` and uses NCCL. :func:`init_cpu_distributed`
  initialises a gloo process group before the Runner exists (the Runner then
  skips its own ``init_dist``), and :func:`cpu_ddp_wrapper_cfg` drops the CUDA
  ``device_ids`` MMEngine passes to ``DistributedDataParallel``.
* ``mmcv.adjust_hue`` (used by ``mmpretrain.ColorJitter``) computes
  ``np.uint8(hue_factor * 255)``, which raises ``OverflowError`` for a negative
  hue factor under numpy >= 2 (numpy 1 wrapped it modulo 256).
  :func:`patch_adjust_hue` replaces it with the same modulo-256 hue rotation.
* mmseg 1.2.2 ``CrossEntropyLoss`` with ``class_weight`` indexes the class
  weights with the label map to compute the average factor, so any ignored
  pixel (255: crop padding, pseudo-label holes) raises ``IndexError``
  (open-mmlab/mmsegmentation#3734, #3831):
  :func:`patch_weighted_cross_entropy` replaces its ``cross_entropy`` with one
  that gives ignored pixels weight 0 (the mean is PyTorch's weighted mean,
  ``sum_i w_{y_i} l_i / sum_i w_{y_i}`` over the non-ignored pixels).
* torch DataLoader workers outlive a parent killed with ``kill -9`` (a
  worker stuck in ``__getitem__``, or deadlocked at exit on a full result
  pipe): :func:`patch_dataloader_workers` makes each worker die with its
  parent (:func:`mmwsss.utils.parallel.exit_with_parent`).
"""
import importlib
import importlib.machinery
import importlib.util
import sys
import types
from typing import Optional

import torch

__all__ = [
    'MissingMMCVOpError', 'has_real_mmcv_ext', 'install_mmcv_ext_shim',
    'patch_checkpoint_loading', 'init_cpu_distributed',
    'destroy_cpu_distributed', 'cpu_ddp_wrapper_cfg', 'patch_adjust_hue',
    'hue_rotation', 'patch_weighted_cross_entropy', 'patch_dataloader_workers',
    'apply_all'
]

FULL_MMCV_HINT = (
    'Install full mmcv with compiled ops: '
    '`MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv==2.1.0` '
    '(about 40 min on 2 CPU cores; see README "Full mmcv").')


class MissingMMCVOpError(RuntimeError):
    """Raised when a compiled mmcv op is used but only mmcv-lite is present."""


class _MissingExtModule(types.ModuleType):
    """Stand-in for ``mmcv._ext``; any attribute is a function that raises."""

    _mmwsss_shim = True

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)

        def _missing_op(*args, **kwargs):
            raise MissingMMCVOpError(
                f'mmcv compiled op "{name}" is not available: this '
                f'environment has mmcv-lite (no mmcv._ext). {FULL_MMCV_HINT}')

        _missing_op.__name__ = name
        return _missing_op


def has_real_mmcv_ext() -> bool:
    """Whether a real compiled ``mmcv._ext`` can be imported."""
    mod = sys.modules.get('mmcv._ext')
    if mod is not None:
        return not getattr(mod, '_mmwsss_shim', False)
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def install_mmcv_ext_shim() -> bool:
    """Provide a placeholder ``mmcv._ext`` if (and only if) it is missing.

    Returns:
        bool: True if the shim was installed (or already present), False when
        the real extension exists and nothing was changed.
    """
    if has_real_mmcv_ext():
        return False
    if 'mmcv._ext' not in sys.modules:
        shim = _MissingExtModule('mmcv._ext')
        # A spec without a loader: importlib/pkgutil look-ups work and
        # mmengine's ``mmcv_full_available()`` correctly answers False.
        shim.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
        sys.modules['mmcv._ext'] = shim
        try:
            import mmcv
            mmcv._ext = shim  # type: ignore[attr-defined]
        except ImportError:
            pass
    return True


def patch_checkpoint_loading() -> None:
    """Safe checkpoint loading and atomic checkpoint writes for MMEngine.

    Registers :func:`mmwsss.utils.checkpoint.load_checkpoint_file`
    (``weights_only=True`` with the MMEngine allow-list) for local paths in
    MMEngine's ``CheckpointLoader``, and
    :class:`mmwsss.utils.fileio.AtomicLocalBackend` as the ``local`` file
    backend. Idempotent.
    """
    from .checkpoint import register_checkpoint_loader
    from .fileio import register_atomic_local_backend
    register_checkpoint_loader()
    register_atomic_local_backend()


def init_cpu_distributed(launcher: str,
                         backend: str = 'gloo',
                         timeout_s: Optional[int] = None) -> bool:
    """Initialise a gloo process group for ``--launcher pytorch`` on CPU.

    Does nothing when CUDA is available, when the launcher is not
    ``pytorch`` or when a process group already exists.

    Returns:
        bool: True if a CPU process group was initialised here.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    import torch.distributed as dist
    if dist.is_initialized():
        return False
    kwargs = {}
    if timeout_s is not None:
        import datetime
        kwargs['timeout'] = datetime.timedelta(seconds=timeout_s)
    dist.init_process_group(backend=backend, init_method='env://', **kwargs)
    if dist.get_rank() == 0:
        print(f'[mmwsss] CUDA not available: initialised a {backend} process '
              f'group for CPU distributed training, world size '
              f'{dist.get_world_size()}', flush=True)
    return True


def destroy_cpu_distributed() -> None:
    """Tear down the gloo group of :func:`init_cpu_distributed` cleanly.

    All ranks meet at a barrier first; exiting with a live gloo group can
    abort a rank at interpreter shutdown ("terminate called without an
    active exception").
    """
    import torch.distributed as dist
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def cpu_ddp_wrapper_cfg(cfg) -> None:
    """Drop CUDA ``device_ids`` from the DDP wrapper when CUDA is absent.

    Args:
        cfg (mmengine.Config): The config, modified in place.
    """
    if torch.cuda.is_available():
        return
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def hue_rotation(hue_factor: float) -> int:
    """The hue shift (0..255, HSV_FULL units) of ``hue_factor`` in
    [-0.5, 0.5]: ``int(hue_factor * 255) mod 256``, i.e. what
    ``np.uint8(hue_factor * 255)`` gave under numpy 1 (truncation towards
    zero, then wrap-around)."""
    return int(hue_factor * 255) % 256


def _adjust_hue(img, hue_factor: float, backend: Optional[str] = None):
    """``mmcv.adjust_hue`` with a numpy-2-safe hue rotation (cv2 / pillow)."""
    import cv2
    import numpy as np
    from mmcv.image import io as mmcv_io
    if backend is None:
        backend = mmcv_io.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f'backend: {backend} is not supported. Supported '
                         f"backends are 'cv2', 'pillow'")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    shift = np.uint8(hue_rotation(hue_factor))
    if backend == 'pillow':
        from PIL import Image
        assert img.dtype == np.uint8, 'Pillow backend only supports uint8'
        hsv = np.array(
            Image.fromarray(img[..., ::-1], mode='RGB').convert('HSV'))
        hsv[..., 0] += shift  # uint8 arithmetic wraps around
        rgb = np.array(Image.fromarray(hsv, 'HSV').convert('RGB'))
        return rgb.astype(img.dtype)[..., ::-1]
    dtype = img.dtype
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] += shift
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def patch_adjust_hue() -> bool:
    """Replace ``mmcv.adjust_hue`` (and its re-exports) by the numpy-2-safe
    version when the installed mmcv has the overflow. Returns True when
    patched."""
    import numpy as np
    try:
        import mmcv
        import mmcv.image
        import mmcv.image.photometric as photometric
    except ImportError:
        return False
    if getattr(mmcv.adjust_hue, '_mmwsss_patched', False):
        return True
    try:
        with np.errstate(over='ignore'):
            photometric.adjust_hue(np.zeros((1, 1, 3), np.uint8), -0.1)
        return False  # no overflow (numpy 1 or a fixed mmcv)
    except OverflowError:
        pass
    _adjust_hue._mmwsss_patched = True
    for mod in (mmcv, mmcv.image, photometric):
        mod.adjust_hue = _adjust_hue
    return True


def _weighted_cross_entropy(pred,
                            label,
                            weight=None,
                            class_weight=None,
                            reduction='mean',
                            avg_factor=None,
                            ignore_index=-100,
                            avg_non_ignore=False):
    """mmseg's ``cross_entropy`` whose class-weighted mean skips the
    ignored pixels (weight 0) instead of indexing ``class_weight`` with
    them; every other case computes what mmseg computes."""
    import torch.nn.functional as F
    from mmseg.models.losses.utils import weight_reduce_loss
    loss = F.cross_entropy(
        pred,
        label,
        weight=class_weight,
        reduction='none',
        ignore_index=ignore_index)
    if avg_factor is None and reduction == 'mean':
        valid = label != ignore_index
        if class_weight is None:
            avg_factor = (
                valid.sum().item() if avg_non_ignore else label.numel())
        else:
            safe = torch.where(valid, label, torch.zeros_like(label))
            avg_factor = (class_weight.to(pred.device)[safe] * valid).sum()
    if weight is not None:
        weight = weight.float()
    return weight_reduce_loss(
        loss, weight=weight, reduction=reduction, avg_factor=avg_factor)


def patch_weighted_cross_entropy() -> bool:
    """Replace mmseg's ``cross_entropy`` (used by ``CrossEntropyLoss``
    built afterwards) when the installed one fails on an ignored pixel with
    ``class_weight``. Returns True when patched."""
    try:
        import mmseg.models.losses as losses
        import mmseg.models.losses.cross_entropy_loss as ce
    except ImportError:
        return False
    if getattr(ce.cross_entropy, '_mmwsss_patched', False):
        return True
    try:
        ce.cross_entropy(
            torch.zeros(1, 2, 1, 2),
            torch.tensor([[[0, 255]]]),
            class_weight=torch.ones(2),
            ignore_index=255,
            avg_non_ignore=True)
        return False  # a fixed mmseg
    except IndexError:
        pass
    _weighted_cross_entropy._mmwsss_patched = True
    for mod in (ce, losses):
        mod.cross_entropy = _weighted_cross_entropy
    return True


def patch_dataloader_workers() -> bool:
    """Tie every torch DataLoader worker of this process to its parent: it
    is killed within about a second of the parent's death (SIGKILL by the
    kernel on Linux), whatever it is doing. See
    :func:`mmwsss.utils.parallel.guard_dataloader_workers`. Idempotent.

    Returns:
        bool: Whether the workers are guarded.
    """
    from .parallel import guard_dataloader_workers
    return guard_dataloader_workers()


def apply_all() -> None:
    """Apply the import-time fixes (mmcv shim, checkpoint loading, hue,
    class-weighted cross-entropy, DataLoader workers that die with their
    parent)."""
    install_mmcv_ext_shim()
    patch_checkpoint_loading()
    patch_adjust_hue()
    patch_weighted_cross_entropy()
    patch_dataloader_workers()
