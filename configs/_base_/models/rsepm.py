# RS+EPM: RecurSeed + EdgePredictMix, single-stage WSSS.
#   A = CAMHead(C5)                 CAM logits, stride 16; z = GAP(A)
#   S = decode_head(C2..C5)         K+1 logits, stride 4 (bg = channel 0)
#   L = L_cls + lambda_rec L_rec + lambda_seg L_seg
#       + [rs_epm] (lambda_seg L_seg_mix + lambda_rec L_rec_mix)
# Seeds (no grad): SCG(norm(A) * Y, C4, C5) -> bilinear to stride 4 ->
# PAMR(image) = M_rs -> CertainFilter = M_seg (255 = uncertain / padding).
# The phase (cls -> rs -> rs_epm) is set every iteration by RSEPMPhaseHook;
# method configs add it to `custom_hooks` (the schedule base defines that
# list), e.g.
#   custom_hooks = [
#       dict(type='RSEPMPhaseHook', rs_start_epoch=5, epm_start_epoch=15,
#            max_epochs=20, reading='start')]   # reading (b) [inferred]
#   # reading (a) "durations": same numbers, reading='duration'
# Method configs fill `backbone` (C2..C5: out_indices (0, 1, 2, 3)),
# `cam_head.in_channels` / `num_classes` (K) and the decode head's channels
# / `num_classes` (K + 1).
# Evidence tags: [code] official repo, [figure] overview
# figure, [inferred] our reconstruction (every [inferred] item is a key).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
# DDP: in the 'cls' phase the decode head gets no gradient, so DDP must look
# for unused parameters (alternative: model.train_cfg.cls_phase_decoder=
# 'zero_loss' runs the head with a zero loss and allows False here).
find_unused_parameters = True
model = dict(
    type='RSEPM',
    data_preprocessor=data_preprocessor,
    backbone=dict(),  # filled by the method config (C2..C5)
    cam_head=dict(
        type='CAMHead',
        in_channels=2048,
        num_classes=20,
        init_std_mode='kaiming',
        loss_cls=dict(
            type='MultiLabelSoftMarginLoss',
            loss_weight=1.0,
            loss_name='loss_cls')),  # lambda_cls = 1 [code: tag]
    # decoder_type='mmseg_dsaspp' [inferred]: mmseg DeepLabV3+ head (depth-
    # wise separable 3x3 convs, 3x3 ASPP bottleneck, one Dropout 0.1, 1x1
    # classifier). The faithful plain-conv head (decoder_type='official')
    # is RSEPMDecoderHead; ASPPHead / UPerHead drop in the same way.
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=dict(type='BN', requires_grad=True),  # trainable BN [code]
        align_corners=False,
        # L_seg, lambda_seg = 1 [code: tag]; mean over non-ignored pixels
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    # SCG thresholds [code]; levels (C4, C5) on the CAM grid [inferred]
    scg=dict(
        type='SCG',
        first_th=0.5,
        second_th=0.1,
        foreground_th=0.3,
        background_th=0.05,
        iteration=1,
        second_weight=1.0,
        eps=1e-10,
        chunk_size=None),  # images per SCG batch (memory) [inferred]
    # RecurSeed PAMR at stride 4 [inferred: code comment + original PAMR]
    pamr=dict(
        type='PAMR',
        dilations=(1, 2, 4, 8, 12, 24),
        num_iter=10,
        sigma=0.1,
        eps=1e-8),
    # CF(c=0.55, u=0.10) [code: tag]; rule 'default' | 'bg_gamma' (a) |
    # 'margin' (b) [inferred]
    certain_filter=dict(
        type='CertainFilter',
        certain_th=0.55,
        uncertain_th=0.10,
        mode='default',
        bg_gamma=2.0,  # variant (a) only
        ignore_index=255),
    # EdgePredictMix, every key [inferred] unless tagged.
    # EP: edge-aware labels M_ep of the decoder prediction
    edge_predict=dict(
        type='EdgePredict',
        pamr=dict(  # PAMR of EP: M_dec = PAMR(G4, softmax(S))
            type='PAMR',
            dilations=(1, 2, 4, 8, 12, 24),
            num_iter=10,
            sigma=0.1,
            eps=1e-8),
        certain_filter=dict(
            type='CertainFilter',
            certain_th=0.55,
            uncertain_th=0.10,
            mode='default',
            bg_gamma=2.0,
            ignore_index=255),
        ep_edge='canny',  # 'canny' | 'tv' (probability differences)
        ep_canny_th='fixed',  # 'fixed' (10/100 [code]) | 'median'
        canny_low=10,  # [code: helper]
        canny_high=100,  # [code: helper]
        ep_blur=True,  # 5x5 Gaussian before Canny [code: helper]
        median_sigma=0.25,  # median-threshold sigma [code: helper]
        median_min=0.10,  # median over values >= 0.10 * 255 [code: helper]
        cf_mode='fixed',  # 'fixed' (c = 0.55) | 'median' (per image)
        ep_label_source='M_dec',  # 'M_dec' | 'M_seg'
        ignore_index=255,
        fill_valid_only=True),
    # Mix: paste the partner's certain objects (M_ep) into each image
    mix=dict(
        type='PartnerMix',
        partner='roll',  # partner j of b: roll by 1 | 'random' derangement
        class_subset='all',  # paste all partner classes | 'half'
        stride=4),  # = seed_stride
    # L_rec = L1(bilinear(norm(A)), M_rs) over present classes x valid
    # pixels; lambda_rec = 1 [code: tag]; form / resize order [inferred]
    loss_rec=dict(
        type='RecurSeedLoss',
        form='l1_norm_cam',  # 'l1_norm_cam' | 'l1_sigmoid' | 'mse'
        loss_weight=1.0,
        loss_name='loss_rec',
        resize_order='map_first',  # bilinear(norm(A)) | 'resize_first'
        align_corners=False,
        eps=1e-5),
    scg_in_index=(2, 3),  # (C4, C5) [inferred]; (0, 1, 2, 3) = C2..C5
    cam_in_index=-1,  # CAM head on C5 [code]
    seed_stride=4,  # seed / decoder grid [code]
    phase='rs_epm',  # initial phase; RSEPMPhaseHook sets it every iteration
    mixed_forward='concat',  # one forward of cat([I, I_mix]) | 'separate'
    use_cls_mix=False,  # v1 (CertainMix) L_cls_mix [figure]
    train_cfg=dict(
        rec_resolution='seed',  # L_rec at stride 4 | 'cam' (stride 16)
        cls_phase_decoder='skip',  # 'zero_loss': DDP without unused params
        seed_stats=True),  # log seed/ep fg and ignore ratios
    # single-stage inference [code]
    test_cfg=dict(
        scales=(1.0, 0.5, 1.5, 2.0),
        flip=True,
        conf_th=0.34,  # present = mean sigmoid(z) >= conf_th
        bg_gamma=2.0,  # bg = (1 - max_c seed_c) ** bg_gamma
        use_gt_labels=False,  # True: GT image labels (train / train_aug)
        crf=None,  # dict(type='DenseCRF', preset='rsepm') for the paper
        with_cam=True,  # pred_cam / cam_keys for the CAM metric
        input_resize='bilinear',
        logit_resize='nearest'))
