# Copyright (c) mmwsss contributors. All rights reserved.
"""Checkpoint loading: safe by default, strict for inference.

**Safe.** MMEngine checkpoints pickle a few non-tensor objects (the message
hub's :class:`~mmengine.logging.HistoryBuffer`, numpy arrays and scalars),
which ``torch.load(weights_only=True)`` -- the default since torch 2.6 --
refuses. :func:`load_checkpoint_file` keeps ``weights_only=True`` and
allow-lists exactly those types, inside :func:`torch.serialization.
safe_globals` (nothing is relaxed globally). Any other type is refused with
:class:`UntrustedCheckpointError`, naming the type, the file and the opt-in:
``--trust-checkpoint`` on the tools, ``MMWSSS_TRUST_CHECKPOINT=1`` for
config-driven loads (``load_from``, ``--resume``). With the opt-in the file
is loaded with ``weights_only=False`` and a warning naming it is logged.
:func:`register_checkpoint_loader` makes this MMEngine's loader for local
paths, so ``load_from``, ``resume``, ``init_cfg`` checkpoints and
:func:`mmengine.runner.load_checkpoint` all go through it.

**Strict.** :func:`check_checkpoint_fits` compares a checkpoint's
``state_dict`` with a model (keys and shapes) and raises
:class:`CheckpointMismatchError` naming the checkpoint, the config and the
first mismatches. The inference entry points call it (through
:func:`load_model_checkpoint` or :class:`~mmwsss.engine.StrictLoadHook`);
training initialisation stays non-strict, as in MMEngine.
"""
import logging
import os
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

__all__ = [
    'TRUST_ENV', 'CheckpointError', 'UntrustedCheckpointError',
    'CheckpointMismatchError', 'trust_requested', 'checkpoint_safe_globals',
    'load_checkpoint_file', 'register_checkpoint_loader', 'unwrap_model',
    'checkpoint_state_dict', 'state_dict_mismatches',
    'check_checkpoint_fits', 'load_model_checkpoint'
]

#: Environment variable of the opt-in to ``weights_only=False`` loading.
TRUST_ENV = 'MMWSSS_TRUST_CHECKPOINT'

TRUST_HINT = (f'if you trust this file, rerun with --trust-checkpoint '
              f'(tools) or {TRUST_ENV}=1 (load_from, --resume), which loads '
              f'it with weights_only=False')

#: Methods of ``HistoryBuffer`` that a checkpoint names through
#: ``getattr(HistoryBuffer, name)`` (its statistics table).
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')

#: How many mismatching keys an error message lists per kind.
_SHOW = 3


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message names the file and the
    fix."""


class UntrustedCheckpointError(CheckpointError):
    """The safe (``weights_only=True``) load refused a type in the file."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint's weights do not fit the model (keys or shapes)."""


def trust_requested() -> bool:
    """Whether ``MMWSSS_TRUST_CHECKPOINT`` opts in to unsafe loading
    (``1``, ``true`` or ``yes``)."""
    return os.environ.get(TRUST_ENV, '').strip().lower() in ('1', 'true',
                                                             'yes')


def _history_buffer_method(owner, name: str):
    """Stand-in for ``builtins.getattr`` while unpickling: only the
    statistics methods of ``HistoryBuffer`` may be looked up."""
    from mmengine.logging import HistoryBuffer
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL builtins.getattr on '
        f'{getattr(owner, "__qualname__", type(owner).__name__)}.{name}')


def checkpoint_safe_globals() -> List:
    """The allow-list for ``torch.serialization.safe_globals``: exactly the
    non-tensor types of the checkpoints MMEngine writes.

    - ``mmengine.logging.HistoryBuffer`` (message hub), and
      ``builtins.getattr`` restricted to its statistics methods;
    - numpy arrays and scalars (``ndarray``, ``dtype`` and its per-type
      classes, ``multiarray._reconstruct`` / ``scalar`` under both the
      numpy 1 and numpy 2 module names, so files of either load).

    Returns:
        list: Objects and ``(object, qualified name)`` pairs.
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core import multiarray
    allowed: List = [HistoryBuffer, np.ndarray, np.dtype]
    allowed += sorted({type(np.dtype(c))
                       for c in np.typecodes['All']}, key=str)
    for fn in (multiarray._reconstruct, multiarray.scalar):
        for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
            allowed.append((fn, f'{mod}.{fn.__name__}'))
    allowed.append((_history_buffer_method, 'builtins.getattr'))
    return allowed


def _refused_reason(err: Exception) -> Optional[str]:
    """Why a ``weights_only`` load refused the file, from torch's message
    (None when the failure is not a refusal)."""
    msg = str(err)
    for pat in (r'GLOBAL ([\w.]+(?: on [\w.]+)?)', r"got <class '([\w.]+)'>"):
        m = re.search(pat, msg)
        if m:
            return (f'it contains the type {m.group(1)}, which is not one '
                    f'of the types MMEngine checkpoints hold')
    m = re.search(r'WeightsUnpickler error:\s*(.+)', msg)
    if m:
        return (f'its pickle stream uses what the safe loader does not '
                f'allow ({m.group(1).strip()}): not a plain torch.save '
                f'checkpoint')
    return None


def _read_error(filename: str, reason: str) -> CheckpointError:
    return CheckpointError(
        f'{filename}: not a readable PyTorch checkpoint ({reason}); expected '
        f'a complete file written by torch.save, such as the iter_N.pth of '
        f'tools/train.py -- is it truncated or another kind of file?')


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _check_format(filename: str) -> None:
    """Raise :class:`CheckpointError` unless the file starts like a
    ``torch.save`` file: a zip archive, or (legacy format) a pickle."""
    with open(filename, 'rb') as f:
        head = f.read(4)
    if head == b'PK\x03\x04':
        if not zipfile.is_zipfile(filename):
            raise _read_error(
                filename, 'a zip archive without its central directory, '
                'i.e. cut short')
        return
    if head[:1] == b'\x80':  # pickle PROTO opcode: legacy torch.save
        return
    raise _read_error(
        filename, 'it is empty' if not head else
        f'it starts with the bytes {head.hex()}, neither a zip archive nor '
        f'a pickle')


def load_checkpoint_file(filename: str,
                         map_location=None,
                         trust: Optional[bool] = None) -> object:
    """Load a local checkpoint file, safely unless trust is opted in.

    Args:
        filename (str): Path of the ``.pth`` file.
        map_location: As :func:`torch.load`.
        trust (bool, optional): Load with ``weights_only=False`` (logs a
            warning). None (default) reads ``MMWSSS_TRUST_CHECKPOINT``.

    Returns:
        The unpickled checkpoint.

    Raises:
        FileNotFoundError: No such file.
        UntrustedCheckpointError: The file holds a type outside
            :func:`checkpoint_safe_globals` (and trust is off).
        CheckpointError: The file is not a readable checkpoint
            (truncated, another kind of file).
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    if trust is None:
        trust = trust_requested()
    _check_format(filename)
    try:
        if trust:
            from mmengine.logging import print_log
            print_log(
                f'loading checkpoint {filename} with weights_only=False '
                f'(--trust-checkpoint / {TRUST_ENV}=1): unpickling can run '
                f'code stored in the file; do this only for files you trust',
                logger='current',
                level=logging.WARNING)
            return torch.load(
                filename, map_location=map_location, weights_only=False)
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        reason = None if trust else _refused_reason(e)
        if reason is None:
            raise _read_error(filename, _first_line(e)) from None
        raise UntrustedCheckpointError(
            f'{filename}: refused to load with weights_only=True: '
            f'{reason}; {TRUST_HINT}') from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile,
            UnicodeDecodeError) as e:
        raise _read_error(filename, _first_line(e)) from None


def _mmengine_local_loader(filename: str, map_location=None):
    """MMEngine ``CheckpointLoader`` scheme for local paths."""
    return load_checkpoint_file(filename, map_location=map_location)


def register_checkpoint_loader() -> None:
    """Make :func:`load_checkpoint_file` MMEngine's loader for local paths
    (``CheckpointLoader.register_scheme``, empty prefix). Idempotent."""
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', loader=_mmengine_local_loader, force=True)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model a checkpoint's ``state_dict`` belongs to: without DDP-style
    wrappers and test-time-augmentation wrappers (as MMEngine loads)."""
    from mmengine.model import BaseTTAModel, is_model_wrapper
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def checkpoint_state_dict(checkpoint, filename: str = '<checkpoint>'
                          ) -> Dict[str, torch.Tensor]:
    """The model weights of a loaded checkpoint (its ``state_dict`` entry,
    or the whole dict), with a leading ``module.`` removed from the keys
    as MMEngine does.

    Raises:
        CheckpointError: The checkpoint holds no mapping of weights.
    """
    state = checkpoint.get('state_dict', checkpoint) \
        if isinstance(checkpoint, Mapping) else None
    if not isinstance(state, Mapping):
        raise CheckpointError(
            f'{filename}: not a model checkpoint (no state_dict mapping, '
            f'got {type(checkpoint).__name__})')
    out = OrderedDict(
        (re.sub(r'^module\.', '', k), v) for k, v in state.items())
    out._metadata = getattr(state, '_metadata', OrderedDict())
    return out


def state_dict_mismatches(
    model: nn.Module, state_dict: Mapping
) -> Tuple[List[str], List[str], List[Tuple[str, tuple, tuple]]]:
    """Compare weights with a model (after :func:`unwrap_model`).

    Returns:
        tuple: ``(missing, unexpected, shape)``: model keys absent from
        ``state_dict``, ``state_dict`` keys the model lacks, and
        ``(key, checkpoint shape, model shape)`` of the common keys whose
        shapes differ; each in the model's / checkpoint's key order.
    """
    own = unwrap_model(model).state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shape = []
    for k, v in own.items():
        if k in state_dict and hasattr(state_dict[k], 'shape') and \
                tuple(state_dict[k].shape) != tuple(v.shape):
            shape.append((k, tuple(state_dict[k].shape), tuple(v.shape)))
    return missing, unexpected, shape


def _listed(keys: List[str]) -> str:
    more = f', ... {len(keys) - _SHOW} more' if len(keys) > _SHOW else ''
    return ', '.join(keys[:_SHOW]) + more


def check_checkpoint_fits(model: nn.Module,
                          checkpoint,
                          filename: str,
                          config: Optional[str] = None) -> None:
    """Raise :class:`CheckpointMismatchError` unless the checkpoint's
    weights have exactly the model's keys and shapes.

    Args:
        model (nn.Module): The built model (wrappers are looked through).
        checkpoint: The loaded checkpoint.
        filename (str): Its path (for the message).
        config (str, optional): The config path (for the message).
    """
    state = checkpoint_state_dict(checkpoint, filename)
    missing, unexpected, shape = state_dict_mismatches(model, state)
    if not (missing or unexpected or shape):
        return
    parts = []
    if missing:
        parts.append(f'{len(missing)} missing key(s) ({_listed(missing)})')
    if unexpected:
        parts.append(f'{len(unexpected)} unexpected key(s) '
                     f'({_listed(unexpected)})')
    if shape:
        shown = [f'{k}: checkpoint {list(c)} vs model {list(m)}'
                 for k, c, m in shape]
        parts.append(f'{len(shape)} shape mismatch(es) ({_listed(shown)})')
    target = f'the model of {config}' if config else \
        f'the model {type(unwrap_model(model)).__name__}'
    raise CheckpointMismatchError(
        f'checkpoint {filename} does not fit {target}: {"; ".join(parts)}; '
        f'use the checkpoint trained with this config, or --no-strict to '
        f'load the matching weights anyway')


def load_model_checkpoint(model: nn.Module,
                          filename: str,
                          config: Optional[str] = None,
                          strict: bool = True,
                          map_location='cpu') -> object:
    """Load a checkpoint file into a model for inference.

    Args:
        model (nn.Module): The model (wrappers are looked through).
        filename (str): Checkpoint path (local, or any MMEngine scheme).
        config (str, optional): Config path, named by the mismatch error.
        strict (bool): Refuse missing, unexpected or shape-mismatched keys
            (:func:`check_checkpoint_fits`). With False, MMEngine's
            non-strict load (matching weights loaded, the rest logged).
        map_location: As :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        The loaded checkpoint.
    """
    from mmengine.runner import CheckpointLoader, load_state_dict
    checkpoint = CheckpointLoader.load_checkpoint(
        filename, map_location=map_location)
    if strict:
        check_checkpoint_fits(model, checkpoint, filename, config)
    load_state_dict(
        unwrap_model(model), checkpoint_state_dict(checkpoint, filename),
        strict=False)
    return checkpoint
