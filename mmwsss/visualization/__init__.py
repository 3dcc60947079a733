from .cam_overlay import cam_overlay, cam_panel, cam_to_heatmap

__all__ = ['cam_overlay', 'cam_panel', 'cam_to_heatmap']
