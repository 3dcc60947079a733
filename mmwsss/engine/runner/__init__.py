from .tagged_log_processor import TaggedLogProcessor

__all__ = ['TaggedLogProcessor']
