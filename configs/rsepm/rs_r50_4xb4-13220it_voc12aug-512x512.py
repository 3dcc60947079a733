# RecurSeed only (no EdgePredictMix), ResNet-50 OS16, VOC 2012 aug: the
# "Ours single-stage, RS" row of the paper's main table (VOC val 66.5 /
# test 67.9; decoder seed on VOC train 70.7). Same model, data, optimiser
# and schedule reading (b) as ./rsepm_r50_4xb4-13220it_voc12aug-512x512.py; the
# EPM phase never starts (epm_start_epoch = max_epochs = 20), so the
# iterations of epochs 15-20 stay 'rs' steps (L_cls + L_rec + L_seg).
# Not run on this machine.
_base_ = ['./rsepm_r50_4xb4-13220it_voc12aug-512x512.py']
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
