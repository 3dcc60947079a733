from .partner_mix import PartnerMix

__all__ = ['PartnerMix']
