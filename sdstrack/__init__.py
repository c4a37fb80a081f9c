"""sdstrack: SDSTrack (CVPR 2024) RGB + depth / thermal / event single-object tracking."""

from .config import SDSTrackConfig
from .model import SDSTrack, SDSTrackOutput

__version__ = "0.1.0"

__all__ = ["SDSTrack", "SDSTrackConfig", "SDSTrackOutput", "__version__"]
