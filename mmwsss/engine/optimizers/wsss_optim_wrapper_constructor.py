"""Optimizer-wrapper constructor with the four WSSS parameter groups.

Every official WSSS codebase trains with four groups

===============  ====================  ==================  ==================
group            parameters            lr                  weight decay
===============  ====================  ==================  ==================
backbone_weight  backbone, not bias    1 x lr              wd
backbone_bias    backbone, ``*bias``   bias_lr x lr        bias_decay x wd
new_weight       other, not bias       new_lr x lr         wd
new_bias         other, ``*bias``      new_lr x bias_lr    bias_decay x wd
                                       x lr
===============  ====================  ==================  ==================

(``new_lr`` = ``new_lr_mult``, ``bias_lr`` = ``bias_lr_mult``,
``bias_decay`` = ``bias_decay_mult``.) With the defaults (10, 2, 0) this is
1x / 2x / 10x / 20x lr and wd / 0 / wd / 0.
MMEngine's ``DefaultOptimWrapperConstructor`` cannot express it (a matching
``custom_keys`` entry disables ``bias_lr_mult`` / ``bias_decay_mult``).
"""
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['WSSSOptimWrapperConstructor']


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class WSSSOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Build an optimizer with the backbone / new x weight / bias groups.

    A trainable parameter is *backbone* when its name (as in
    ``model.named_parameters()``, after unwrapping ``model.module``) starts
    with one of ``backbone_prefixes``; everything else is *new*. It is a
    *bias* when its name ends with ``bias`` (BN beta and conv / linear
    biases); every other parameter (conv weights, BN/GN gamma, ...) is a
    *weight*. Parameters with ``requires_grad=False`` are skipped, empty
    groups are dropped, and each group carries a ``name`` key
    (``backbone_weight``, ``backbone_bias``, ``new_weight``, ``new_bias`` or
    ``all``).

    ``paramwise_cfg`` keys (all optional):

    - ``backbone_prefixes`` (Sequence[str]): Defaults to ``('backbone.',)``.
    - ``new_lr_mult`` (float): lr multiplier of new layers. Defaults to 10.
    - ``bias_lr_mult`` (float): lr multiplier of biases (multiplied with
      ``new_lr_mult`` for new biases). Defaults to 2.
    - ``bias_decay_mult`` (float): weight-decay multiplier of all biases.
      Defaults to 0.
    - ``single_group`` (bool): one group ``all`` with the base lr and weight
      decay on every trainable parameter (the boundary network) instead of
      the four groups. Defaults to False.

    Example:
        >>> optim_wrapper = dict(
        ...     type='OptimWrapper',
        ...     optimizer=dict(type='SGD', lr=0.1, momentum=1e-4,
        ...                    weight_decay=1e-4, nesterov=True),
        ...     constructor='WSSSOptimWrapperConstructor',
        ...     paramwise_cfg=dict(backbone_prefixes=('backbone.',),
        ...                        new_lr_mult=10.0, bias_lr_mult=2.0,
        ...                        bias_decay_mult=0.0, single_group=False))

    Args:
        optim_wrapper_cfg (dict): Optimizer-wrapper config with an
            ``optimizer`` entry (``lr`` is required).
        paramwise_cfg (dict, optional): See above.
    """

    default_paramwise_cfg = dict(
        backbone_prefixes=('backbone.', ),
        new_lr_mult=10.0,
        bias_lr_mult=2.0,
        bias_decay_mult=0.0,
        single_group=False)

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        cfg = dict(self.default_paramwise_cfg)
        cfg.update(paramwise_cfg or {})
        prefixes = cfg['backbone_prefixes']
        if isinstance(prefixes, str):
            prefixes = (prefixes, )
        cfg['backbone_prefixes'] = tuple(prefixes)
        super().__init__(optim_wrapper_cfg, cfg)

    def _validate_cfg(self) -> None:
        """Check ``paramwise_cfg`` keys and that a base lr is given."""
        unknown = set(self.paramwise_cfg) - set(self.default_paramwise_cfg)
        if unknown:
            raise KeyError(
                f'WSSSOptimWrapperConstructor: unknown paramwise_cfg keys '
                f'{sorted(unknown)}; allowed: '
                f'{sorted(self.default_paramwise_cfg)}')
        if self.base_lr is None:
            raise ValueError('WSSSOptimWrapperConstructor needs optimizer.lr')

    def param_groups(self, model: nn.Module) -> List[Dict]:
        """Return the optimizer parameter groups of ``model``.

        Args:
            model (nn.Module): The model (``model.module`` is used when the
                model is wrapped).

        Returns:
            list[dict]: Non-empty groups with keys ``params``, ``lr``,
            ``name`` and ``weight_decay`` (the latter only when the optimizer
            config has a ``weight_decay``).
        """
        if hasattr(model, 'module'):
            model = model.module
        cfg = self.paramwise_cfg
        lr, wd = self.base_lr, self.base_wd
        named = [(n, p) for n, p in model.named_parameters()
                 if p.requires_grad]

        if cfg['single_group']:
            specs = [('all', [p for _, p in named], 1.0, 1.0)]
        else:
            buckets: Dict[str, list] = dict(
                backbone_weight=[],
                backbone_bias=[],
                new_weight=[],
                new_bias=[])
            for name, p in named:
                part = 'backbone' if name.startswith(
                    cfg['backbone_prefixes']) else 'new'
                kind = 'bias' if name.endswith('bias') else 'weight'
                buckets[f'{part}_{kind}'].append(p)
            new_mult, bias_mult = cfg['new_lr_mult'], cfg['bias_lr_mult']
            bias_decay = cfg['bias_decay_mult']
            specs = [
                ('backbone_weight', buckets['backbone_weight'], 1.0, 1.0),
                ('backbone_bias', buckets['backbone_bias'], bias_mult,
                 bias_decay),
                ('new_weight', buckets['new_weight'], new_mult, 1.0),
                ('new_bias', buckets['new_bias'], new_mult * bias_mult,
                 bias_decay),
            ]

        groups = []
        for name, params, lr_mult, decay_mult in specs:
            if not params:
                continue
            group = dict(params=params, lr=lr * lr_mult, name=name)
            if wd is not None:
                group['weight_decay'] = wd * decay_mult
            groups.append(group)
        return groups

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the optimizer wrapper of ``model``."""
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = self.optimizer_cfg.copy()
        groups = self.param_groups(model)
        summary = ', '.join(
            f"{g['name']}: {len(g['params'])} tensors lr={g['lr']:g}" +
            (f" wd={g['weight_decay']:g}" if 'weight_decay' in g else '')
            for g in groups)
        print_log(
            f'WSSSOptimWrapperConstructor groups: {summary}', logger='current')
        optimizer_cfg['params'] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(
            optim_wrapper_cfg, default_args=dict(optimizer=optimizer))
