# Puzzle-CAM, ResNet-50 OS16, VOC 2012 aug: OPTIMISER PRESET 'momentum'
# [inferred]: SGD momentum 0.9, nesterov, lr 0.01
# (= official lr 0.1 x 0.1, "effective-step matching"); otherwise identical
# to puzzlecam_r50_4xb8-4950it_voc12aug-512x512.py.
# UNVERIFIED alternative: the paper's numbers come from the 'official'
# preset. Not run on this machine.
_base_ = ['./puzzlecam_r50_4xb8-4950it_voc12aug-512x512.py']
optim_preset = 'momentum'
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True))
