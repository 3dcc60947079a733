# Optimiser preset 'momentum' [inferred]: a conventional
# SGD with momentum 0.9 and lr = official lr x 0.1 ("effective-step
# matching": with momentum mu the steady-state step is lr / (1 - mu)).
# UNVERIFIED alternative: the papers' numbers were produced with the
# 'official' preset (wsss_official_sgd.py, effective momentum 1e-4).
# Puzzle-CAM classifier: official lr 0.1 -> 0.01, wd 1e-4, nesterov.
# Same four parameter groups as the official preset.
optim_preset = 'momentum'
optimizer = dict(
    type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    constructor='WSSSOptimWrapperConstructor',
    paramwise_cfg=dict(
        backbone_prefixes=('backbone.', ),
        new_lr_mult=10.0,
        bias_lr_mult=2.0,
        bias_decay_mult=0.0,
        single_group=False))
