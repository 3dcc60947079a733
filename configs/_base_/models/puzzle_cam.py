# Puzzle-CAM: the CAM classifier of cam_classifier.py
# trained on the full image and on its 2x2 tiles (second forward through the
# same backbone + CAM head, merged back), with
#   L = L_cls + L_pcl + alpha_t * L_re .
# Inference is the plain CAM classifier (the puzzle branch is training-only).
# Method configs fill `backbone`, `backbone_stride`, `cam_head.in_channels` /
# `num_classes` and add the alpha ramp to `custom_hooks` (it cannot live here:
# `custom_hooks` is defined by the schedule base), e.g.
#   custom_hooks = [
#       dict(type='CAMVisualizationHook', max_samples=4),
#       dict(type='PuzzleAlphaHook', alpha_max=_base_.alpha_max,
#            alpha_ramp=_base_.alpha_ramp)]
# Config keys and defaults (evidence tags):
#   num_pieces=4 [code], alpha_max=4.0 [paper], alpha_ramp=0.5 [paper/code],
#   re_level='feature', re_loss='l1', re_mask='masking', use_pcl=True [code],
#   puzzle_size_mode='strict' [inferred]: the crop (data_preprocessor.size)
#   must be a multiple of sqrt(num_pieces) * backbone_stride (32 at OS16),
#   checked when the model is built; 'pad' / 'resize' for other crops.
_base_ = ['./cam_classifier.py']
alpha_max = 4.0  # maximum weight of L_re [paper]
alpha_ramp = 0.5  # linear ramp over the first half of the iterations
model = dict(
    type='PuzzleCAM',
    num_pieces=4,
    backbone_stride=16,
    puzzle_size_mode='strict',
    pad_full_image=True,  # 'pad' mode: the full forward sees the padding too
    pad_crop_back=True,  # 'pad' mode: losses on the unpadded image's cells
    cam_head=dict(
        type='PuzzleCAMHead',
        use_pcl=True,
        loss_cls=dict(
            type='MultiLabelSoftMarginLoss',
            loss_weight=1.0,
            loss_name='loss_cls'),
        loss_pcl=dict(
            type='MultiLabelSoftMarginLoss',
            loss_weight=1.0,
            loss_name='loss_pcl'),
        loss_re=dict(
            type='PuzzleReconstructionLoss',
            re_level='feature',
            re_loss='l1',
            re_mask='masking',
            loss_weight=1.0,
            loss_name='loss_re')))
