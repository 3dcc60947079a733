from .functional import (confusion_to_metrics, format_report, label_confusion,
                         summarize_confusion, sweep_confusion, thresholds_from)
from .metrics import CAMSweepMetric

__all__ = [
    'CAMSweepMetric', 'confusion_to_metrics', 'format_report',
    'label_confusion', 'summarize_confusion', 'sweep_confusion',
    'thresholds_from'
]
