# RS+EPM, ResNet-50 OS16, VOC 2012 aug: schedule READING (a) "durations"
# [inferred]: the official experiment tag RS(ep=5) + CM(ep=15) read as 5 epochs
# of RecurSeed (L_cls + L_rec + L_seg from iteration 0), then 15 epochs of RS +
# EdgePredictMix (from epoch 5 = iteration 3,305); 20 epochs in all.
# RSEPMPhaseHook(reading='duration') takes the same numbers.
# Everything else is ./rsepm_r50_4xb4-13220it_voc12aug-512x512.py
# (reading (b), recommended: no seeds from an untrained CAM). Not run on
# this machine.
_base_ = ['./rsepm_r50_4xb4-13220it_voc12aug-512x512.py']
custom_hooks = [
    dict(type='CAMVisualizationHook', max_samples=4),
    dict(
        type='RSEPMPhaseHook',
        rs_start_epoch=5,
        epm_start_epoch=15,
        max_epochs=20,
        reading='duration',
        iters_per_epoch=_base_.iters_per_epoch),
]
