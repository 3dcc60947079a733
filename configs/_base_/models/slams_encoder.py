# SLAMs-like (reconstruction), stage 1: the semantic encoder.
# NOTE: SLAMs has no public code and no method section; this model is OUR
# RECONSTRUCTION [inferred], modelled on SemFormer's class-aware
# auto-encoder (same authors). No number it gives is a SLAMs reproduction.
#   cre = mean_hw ReLU(Conv1x1(C5)) -> (K + 1) x E    (E = embed_dim = 256)
#   crs = ReLU(Embedding(K + 1, E))                   (class semantics)
#   L_sem = mean BCE(clamp(cos(cre_k, crs'_k)), [1, y]_k)
#           (background always present; crs' detached for absent classes)
# sem_pool='sum' and the reconstruction decoder (sem_recon=True, MSE) are
# options. Method configs fill the class counts.
# Method configs also set
#   log_processor = dict(type='TaggedLogProcessor',
#                        tags=dict(method_status=method_status))
# so that every JSON log record says method_status='reconstruction'.
method_status = 'reconstruction'
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
# ResNet-50, standard output stride 32, trainable BN, torchvision weights
encoder_backbone = dict(
    type='ResNet',
    depth=50,
    in_channels=3,
    num_stages=4,
    style='pytorch',
    strides=(1, 2, 2, 2),
    dilations=(1, 1, 1, 1),
    out_indices=(0, 1, 2, 3),
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))
encoder_channels = [256, 512, 1024, 2048]
model = dict(
    type='SemanticEncoder',
    data_preprocessor=data_preprocessor,
    backbone=encoder_backbone,
    head=dict(
        type='SemanticEmbeddingHead',
        in_channels=2048,
        num_classes=20,
        embed_dim=256,
        sem_pool='mean',
        loss_sem=dict(
            type='SemanticSimilarityLoss', loss_weight=1.0,
            loss_name='loss_sem')),
    sem_recon=False,
    recon_in_channels=encoder_channels,
    recon_weight=1.0)
