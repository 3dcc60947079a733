# Puzzle-CAM camvid CPU config at output stride 16: the OS8 default
# puzzlecam_effnet-lite0-os8_1xb16-1200it_camvid-things-176x176.py with the
# EfficientNet-Lite0 backbone at OS16 (efficientnet_lite0.py; same weights,
# re_level='cam', data, crop 176 and budget). The equal-stride twin of the
# CAM baseline ../cam/cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py
# and ~3x cheaper than OS8 (2.3 vs 6.8 s per iteration on 2 CPU cores); on
# camvid val (issue 16 screening, 300 it) 24.6 % CAM mIoU vs the OS16 CAM
# baseline's 22.7 % (OS8: 28.5 vs 24.3 %). 176 is not a multiple of
# 2 x 16 = 32: the inherited puzzle_size_mode='pad' cuts the tiles from the
# crop zero-padded to 192 x 192 (see the OS8 config).
_base_ = ['./puzzlecam_effnet-lite0-os8_1xb16-1200it_camvid-things-176x176.py']
model = dict(backbone=dict(output_stride=16), backbone_stride=16)
