from .functional import (confusion_to_metrics, format_report, label_confusion,
                         summarize_confusion, sweep_confusion, thresholds_from)
from .metrics import CAMSweepMetric, DumpMapResults

__all__ = [
    'CAMSweepMetric', 'DumpMapResults', 'confusion_to_metrics',
    'format_report', 'label_confusion', 'summarize_confusion',
    'sweep_confusion', 'thresholds_from'
]
