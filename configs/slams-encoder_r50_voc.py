# Short name: SLAMs-like (reconstruction) stage 1, the semantic encoder,
# ResNet-50, VOC 2012 aug.
#   bash tools/dist_train.sh configs/slams-encoder_r50_voc.py 4
_base_ = ['./slams/slams-encoder_r50_4xb16-4950it_voc12aug-224x224.py']
