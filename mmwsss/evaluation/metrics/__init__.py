from .cam_sweep_metric import CAMSweepMetric

__all__ = ['CAMSweepMetric']
