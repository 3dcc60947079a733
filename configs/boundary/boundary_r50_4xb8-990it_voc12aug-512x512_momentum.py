# Boundary network, ResNet-50, VOC 2012 aug: OPTIMISER PRESET 'momentum'
# [inferred]: SGD momentum 0.9,
# nesterov, lr 0.01 (= official 0.1 x 0.1), single group, wd 1e-4;
# otherwise identical to boundary_r50_4xb8-990it_voc12aug-512x512.py.
# UNVERIFIED alternative.
_base_ = ['./boundary_r50_4xb8-990it_voc12aug-512x512.py']
optim_preset = 'momentum'
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True))
