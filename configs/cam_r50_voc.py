# Short alias of the CAM baseline, ResNet-50, VOC 2012 aug (official preset).
_base_ = ['./cam/cam_r50_4xb8-4950it_voc12aug-512x512.py']
