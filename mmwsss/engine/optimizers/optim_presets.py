"""SGD presets of the WSSS papers (the PolyOptimizer momentum quirk).

The official Puzzle-CAM and RRM trainers subclass ``torch.optim.SGD`` and call
``SGD(params, lr, weight_decay)`` positionally, so the *effective* momentum is
the weight-decay value (the ``momentum=0.9`` they pass is only the poly
power). Paper configs reproduce that optimiser by default:

- ``'official'``: ``momentum = official momentum`` (= the official weight
  decay unless given), the official lr, nesterov as in the official run.
  Tagged [code].
- ``'momentum'``: ``momentum = 0.9`` and ``lr = official lr x 0.1``
  ("effective-step matching", an unverified alternative). Tagged [inferred].

Configs pick a preset by inheriting one of the snippets
``configs/_base_/schedules/wsss_official_sgd.py`` or
``configs/_base_/schedules/wsss_momentum_sgd.py`` (each also sets the
top-level key ``optim_preset``), or build the dict with
:func:`wsss_sgd_optim_wrapper` in Python tools.
"""
from typing import Optional

from .wsss_optim_wrapper_constructor import WSSSOptimWrapperConstructor

__all__ = ['OPTIM_PRESETS', 'wsss_sgd_optim_wrapper']

OPTIM_PRESETS = ('official', 'momentum')


def wsss_sgd_optim_wrapper(preset: str = 'official',
                           lr: float = 0.1,
                           weight_decay: float = 1e-4,
                           nesterov: bool = True,
                           official_momentum: Optional[float] = None,
                           momentum: float = 0.9,
                           lr_scale: float = 0.1,
                           paramwise_cfg: Optional[dict] = None) -> dict:
    """Return an ``optim_wrapper`` config for an SGD preset.

    Args:
        preset (str): ``'official'`` or ``'momentum'``.
        lr (float): The official base lr. Defaults to 0.1 (Puzzle-CAM
            classifier, batch 32).
        weight_decay (float): The official weight decay. Defaults to 1e-4.
        nesterov (bool): Nesterov flag of the official run. Defaults to True.
        official_momentum (float, optional): Effective momentum of the
            official run; None means ``weight_decay`` (the quirk).
        momentum (float): Momentum of the ``'momentum'`` preset.
            Defaults to 0.9.
        lr_scale (float): lr factor of the ``'momentum'`` preset.
            Defaults to 0.1.
        paramwise_cfg (dict, optional): Overrides of the
            ``WSSSOptimWrapperConstructor`` defaults.

    Returns:
        dict: ``dict(type='OptimWrapper', optimizer=..., constructor=
        'WSSSOptimWrapperConstructor', paramwise_cfg=...)``.
    """
    if preset == 'official':
        mom = weight_decay if official_momentum is None else official_momentum
        opt_lr = lr
    elif preset == 'momentum':
        # round away binary noise (0.1 * 0.1 -> 0.01, not 0.010000000000000002)
        mom, opt_lr = momentum, float(f'{lr * lr_scale:.12g}')
    else:
        raise ValueError(
            f'unknown optim preset "{preset}"; choose from {OPTIM_PRESETS}')
    pcfg = dict(WSSSOptimWrapperConstructor.default_paramwise_cfg)
    pcfg.update(paramwise_cfg or {})
    return dict(
        type='OptimWrapper',
        optimizer=dict(
            type='SGD',
            lr=opt_lr,
            momentum=mom,
            weight_decay=weight_decay,
            nesterov=nesterov),
        constructor='WSSSOptimWrapperConstructor',
        paramwise_cfg=pcfg)
