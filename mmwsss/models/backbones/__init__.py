from .efficientnet_lite import (EFFICIENTNET_LITE_INPUT_NORM, EfficientNetLite,
                                EfficientNetLiteClassifier,
                                build_efficientnet_lite_classifier,
                                convert_efficientnet_lite_state_dict,
                                efficientnet_lite_weights_path,
                                load_efficientnet_lite_weights)
from .wide_resnet38 import (WR38_MXNET_DROPPED, WideResNet38,
                            convert_wr38_mxnet_params, wr38_mxnet_key,
                            wr38_mxnet_key_map)

__all__ = [
    'EfficientNetLite', 'EfficientNetLiteClassifier',
    'build_efficientnet_lite_classifier',
    'convert_efficientnet_lite_state_dict', 'efficientnet_lite_weights_path',
    'load_efficientnet_lite_weights', 'EFFICIENTNET_LITE_INPUT_NORM',
    'WideResNet38', 'convert_wr38_mxnet_params', 'wr38_mxnet_key',
    'wr38_mxnet_key_map', 'WR38_MXNET_DROPPED'
]
