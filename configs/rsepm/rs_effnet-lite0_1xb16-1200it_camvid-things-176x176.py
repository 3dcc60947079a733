# RecurSeed only (no EdgePredictMix) twin of
# ./rsepm_effnet-lite0_1xb16-1200it_camvid-things-176x176.py (same budget:
# the CAM baseline's data, crop, batch 16, 1,200 iterations, optimiser):
# L_cls only until iteration 300, RecurSeed from 300 to the end (the EPM
# phase would start at 20 x 60 = 1,200, i.e. never).
_base_ = ['./rsepm_effnet-lite0_1xb16-1200it_camvid-things-176x176.py']
custom_hooks = [
    dict(type='CAMVisualizationHook', max_samples=4),
    dict(
        type='RSEPMPhaseHook',
        rs_start_epoch=5,
        epm_start_epoch=20,
        max_epochs=20,
        reading='start',
        iters_per_epoch=_base_.iters_per_epoch),
]
