from .efficientnet_lite import (EFFICIENTNET_LITE_INPUT_NORM, EfficientNetLite,
                                EfficientNetLiteClassifier,
                                build_efficientnet_lite_classifier,
                                convert_efficientnet_lite_state_dict,
                                efficientnet_lite_weights_path,
                                load_efficientnet_lite_weights)

__all__ = [
    'EfficientNetLite', 'EfficientNetLiteClassifier',
    'build_efficientnet_lite_classifier',
    'convert_efficientnet_lite_state_dict', 'efficientnet_lite_weights_path',
    'load_efficientnet_lite_weights', 'EFFICIENTNET_LITE_INPUT_NORM'
]
