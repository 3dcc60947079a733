# Segmentation stage, DeepLabV3+ R101: OPTIMISER PRESET 'momentum'
# [inferred]: SGD momentum 0.9, nesterov,
# lr 7e-4 (= official 0.007 x 0.1), wd 4e-5, groups 1x/2x/10x/20x;
# otherwise identical to the 'official' config. UNVERIFIED alternative.
_base_ = ['./deeplabv3plus_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py']
optim_preset = 'momentum'
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=7e-4, momentum=0.9, weight_decay=4e-5, nesterov=True))
