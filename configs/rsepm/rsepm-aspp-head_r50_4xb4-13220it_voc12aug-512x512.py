# RS+EPM, ResNet-50 OS16, VOC 2012 aug, decoder swapped for mmseg's
# ASPPHead (DeepLabV3: no low-level branch, logits at stride 16) to show
# that any mmseg decode head drops in by config (a weaker alternative to
# the DeepLabV3+ decoder). RSEPM resizes S bilinearly to the stride-4 seed
# grid for EdgePredictMix; L_seg is taken by the head's loss_by_feat,
# which resizes S to the stride-4 pseudo labels. Not run on this machine.
_base_ = ['./rsepm_r50_4xb4-13220it_voc12aug-512x512.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=_base_.model.decode_head.loss_decode))
