# RRM one-step, WR38, VOC: preset 'momentum' [inferred]: SGD momentum 0.9,
# lr 7e-5 (the official lr x 0.1, effective-step matching of the official
# momentum = wd quirk) and the normalised dense energy (normalize='z',
# weight 2.0, the default of ../_base_/models/rrm.py). Everything else as
# the official-preset config.
_base_ = ['./rrm_wr38_1xb4-20000it_voc12aug-321x321.py']
optim_preset = 'momentum'
optim_wrapper = dict(optimizer=dict(lr=7e-5, momentum=0.9))
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='BgFgCrossEntropyLoss', loss_weight=1.0),
        dict(
            type='DenseEnergyLoss',
            normalize='z',
            loss_weight=2.0,
            energy_scale=0.5,
            sigma_xy=100.0,
            sigma_rgb=15.0,
            include_self=None,
            grad_mode='autograd'),
    ]))
