from .cam_sweep_metric import CAMSweepMetric
from .dump_map_results import DumpMapResults

__all__ = ['CAMSweepMetric', 'DumpMapResults']
