# Short name: SLAMs-like (reconstruction) stage 2, ResNet-50 DeepLabV3+,
# VOC 2012 aug (needs the stage-1 checkpoint of
# configs/slams-encoder_r50_voc.py).
#   bash tools/dist_train.sh configs/slams_r50_voc.py 4
_base_ = ['./slams/slams_r50_4xb2-26440it_voc12aug-448x448.py']
