# Boundary network ("AffinityNet" of Puzzle-CAM = IRN's class-boundary
# branch) [code]: frozen backbone (ImageNet
# weights, NOT the CAM classifier; eval mode, outputs detached) + edge head
# with per-stage 1x1 branches (GN(4, 32)) fused into a stride-4 edge map.
# Trained with the affinity loss on radius-10 path-index affinities against
# the affinity labels of tools/pseudo_labels/make_affinity_labels.py (the
# dataset's mask_dir). Method configs fill `backbone` (and for non-ResNet
# backbones `stem_module` / the head's in_channels and scale_factors).
# test_cfg: edge inference (pad to 512, flip) and the random-walk parameters
# read by tools/pseudo_labels/random_walk.py (radius 5, beta 10,
# exp_times 8) [code].
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='BoundaryNet',
    data_preprocessor=data_preprocessor,
    backbone=dict(),  # filled by the method config
    # S1 = output of the stem max-pool (stride 4), not an out_indices output
    stem_module='maxpool',
    boundary_head=dict(
        type='BoundaryHead',
        # S1, layer1, layer2, layer3, layer4 of ResNet-50 OS16
        in_channels=(64, 256, 512, 1024, 2048),
        scale_factors=(1, 1, 2, 4, 4),
        channels=32,
        ref_index=1,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
        radius=10,
        loss_aff=dict(type='AffinityLoss', loss_weight=1.0)),
    test_cfg=dict(
        edge_pad_size=512,
        flip=True,
        rw_radius=5,
        rw_beta=10.0,
        rw_exp_times=8))
