# Iteration-based poly schedule [code]:
# lr_t = lr_0 * (1 - t / T) ** 0.9, stepped every iteration, t = 0..T-1.
# MMEngine's PolyLR (by_epoch=False, eta_min=0) scales every param group
# proportionally (the 1x/2x/10x/20x ratios are kept), but it reaches eta_min
# at step `end - 1` (its total_iters = end - begin - 1, i.e.
# lr_t = lr_0 * (1 - t / (end - 1)) ** 0.9). `end = max_iters + 1` therefore
# gives the official (1 - t / T) ** 0.9 exactly (checked in
# tests/test_engine/test_optimizers.py); `end = max_iters` would be one step
# "faster" (lr 0 at the last iteration).
# Loops and default hooks come from iter_runtime_hooks.py (do not list both
# files in a method's `_base_`).
# T = 4950: Puzzle-CAM classifier, 15 epochs x 330 iterations (VOC train_aug
# 10,582 images, global batch 32, drop_last=True) [code].
# When changing max_iters, ALSO set param_scheduler[0].end = N + 1 (MMEngine
# does not derive `end` from train_cfg) and the checkpoint interval, e.g.
#   train_cfg = dict(max_iters=N, val_interval=N)
#   param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0,
#                           end=N + 1, by_epoch=False)]
#   default_hooks = dict(checkpoint=dict(interval=N))
# Checkpoint: the last one [inferred] (selecting on VOC train GT, as the
# official Puzzle-CAM trainer does, leaks pixel labels and is off).
_base_ = ['./iter_runtime_hooks.py']
max_iters = 4950
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=max_iters + 1,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
