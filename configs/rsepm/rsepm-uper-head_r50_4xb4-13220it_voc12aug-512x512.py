# RS+EPM, ResNet-50 OS16, VOC 2012 aug, decoder swapped for mmseg's
# UPerHead (PPM on C5 + FPN over C2..C5, logits at stride 4) to show that
# any mmseg decode head drops in by config [inferred]. Everything else is
# ./rsepm_r50_4xb4-13220it_voc12aug-512x512.py. Not run on this machine.
_base_ = ['./rsepm_r50_4xb4-13220it_voc12aug-512x512.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[256, 512, 1024, 2048],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=_base_.model.decode_head.loss_decode))
