# Optimiser preset 'official' [code]: the Puzzle-CAM classifier's EFFECTIVE
# official optimiser.
# The official PolyOptimizer subclasses torch.optim.SGD and calls
# SGD(params, lr, weight_decay) positionally, so SGD's third argument
# `momentum` receives the weight decay: the effective momentum is 1e-4 (= wd),
# with nesterov=True. The `momentum=0.9` passed there is only the poly power.
# Weight decay is still applied through every param group. Paper numbers were
# produced with this optimiser, so it is the default of the paper configs.
# lr 0.1 is for the global batch 32 of the official run.
# Groups (WSSSOptimWrapperConstructor): backbone weights 1x lr + wd,
# backbone biases 2x lr, no wd, new weights 10x lr + wd, new biases 20x lr,
# no wd.
# Other official runs: boundary net momentum 1e-4 (single group), Puzzle-CAM
# DeepLabV3+ 4e-5, RRM 1e-5 / 5e-4 without nesterov: override
# `optim_wrapper.optimizer` (or use
# mmwsss.engine.optimizers.wsss_sgd_optim_wrapper).
# Alternative preset: wsss_momentum_sgd.py.
optim_preset = 'official'
optimizer = dict(
    type='SGD', lr=0.1, momentum=1e-4, weight_decay=1e-4, nesterov=True)
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
