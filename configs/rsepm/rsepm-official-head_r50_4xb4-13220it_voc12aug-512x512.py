# RS+EPM, ResNet-50 OS16, VOC 2012 aug, with the FAITHFUL decoder
# (decoder_type='official') [code]: RSEPMDecoderHead =
# plain-conv DeepLabV3+ (ASPP 1x1 / 3x3 d6, d12, d18 / image pooling, 256
# ch, 1x1 bottleneck + Dropout 0.5; C2 -> 256 (the official decoder's
# low-level width, concat 512); two 3x3 256 convs with Dropout 0.5 / 0.1;
# 3x3 classifier without bias). Everything else is
# ./rsepm_r50_4xb4-13220it_voc12aug-512x512.py (whose default decoder is
# mmseg's DepthwiseSeparableASPPHead, an [inferred] approximation).
# Not run on this machine.
_base_ = ['./rsepm_r50_4xb4-13220it_voc12aug-512x512.py']
model = dict(
    decode_head=dict(
        type='RSEPMDecoderHead',
        c1_channels=256,
        aspp_dropout_ratio=0.5,
        decoder_dropout_ratio=0.5,
        dropout_ratio=0.1,
        classifier_kernel=3,
        classifier_bias=False))
