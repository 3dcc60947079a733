# SLAMs-like (reconstruction), stage 2: a segmentation network whose K + 1
# sigmoid activation maps are learnt through the frozen stage-1 semantic
# encoder.
# NOTE: SLAMs has no public code and no method section; this model is OUR
# RECONSTRUCTION [inferred], modelled on SemFormer (same authors). No number
# it gives is a SLAMs reproduction.
#   D = DeepLabV3+ features (any mmseg decode head; its conv_seg is dropped)
#   Z_k = s cos(phi(D), crs_k) + b_k ,  M = sigmoid(Z)   (sem_head='cosine')
#   for every present (image b, class k), background included:
#     the encoder sees x_b * M_bk and x_b * (1 - M_bk)  (ONE batched call)
#   L = L_fg + L_bg + 0.075 L_reg + L_cons + L_sim      (weights = keys)
# The stage-1 encoder comes from `encoder_checkpoint` (method configs name
# the default path of their stage-1 config's work dir); its model config
# must equal the stage-1 model (`encoder` below).
_base_ = ['./slams_encoder.py']
encoder = dict(
    _base_.model,
    backbone=dict(_base_.encoder_backbone, init_cfg=None),
    data_preprocessor=None)
model = dict(
    _delete_=True,
    type='SLAMsLike',
    data_preprocessor=_base_.data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=50,
        in_channels=3,
        num_stages=4,
        style='pytorch',
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        contract_dilation=True,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet50')),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=21,  # unused: conv_seg is replaced by the act_head
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss')),  # unused
    act_head=dict(
        type='SemanticActivationHead',
        num_classes=20,
        embed_dim=256,
        sem_head='cosine',  # or 'linear'
        cos_scale_init=10.0,
        include_bg_pairs=True,
        encoder_input=224,
        loss_fg=dict(type='CategoryForegroundLoss', loss_weight=1.0),
        loss_bg=dict(type='CategoryBackgroundLoss', loss_weight=1.0),
        loss_reg=dict(type='ActivationRegularizationLoss', loss_weight=0.075),
        loss_cons=dict(
            type='ActivationConsistencyLoss',
            mode='complementation',  # or 'equivariance'
            loss_weight=1.0),
        loss_sim=dict(
            type='SemanticSimilarityLoss', loss_weight=1.0,
            loss_name='loss_sim')),
    encoder=encoder,
    encoder_checkpoint=None,  # method configs: the stage-1 work dir
    method_status=_base_.method_status,
    test_cfg=dict(
        bg_source='threshold',  # or 'channel' (the background sigma-map)
        bg_threshold=0.5,
        use_gt_labels=True,
        conf_th=0.5,
        flip=False,
        with_cam=True))
