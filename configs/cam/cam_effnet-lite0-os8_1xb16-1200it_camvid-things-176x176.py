# CAM baseline at output stride 8: cam_effnet-lite0_1xb16-1200it_camvid-
# things-176x176.py (same data, crop 176, batch 16, 1,200 iterations,
# optimiser and schedule) with the EfficientNet-Lite0 backbone at output
# stride 8 (layer4 and layer6 at stride 1, no dilation; the 1280-ch CAM
# feature at stride 8, 22 x 22 cells for a 176 crop). The equal-stride
# baseline of the Puzzle-CAM camvid config
# ../puzzlecam/puzzlecam_effnet-lite0-os8_1xb16-1200it_camvid-things-176x176.py
# (issue 16). ~3.5-3.7 s per iteration on 2 CPU cores (OS16: 1.1 s).
_base_ = ['./cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py']
model = dict(backbone=dict(output_stride=8))
