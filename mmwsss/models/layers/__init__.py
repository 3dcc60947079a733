from .ramped_ema import RampedEMA

__all__ = ['RampedEMA']
