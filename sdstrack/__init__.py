"""sdstrack: SDSTrack (CVPR 2024) RGB + depth / thermal / event single-object tracking."""

from .config import SDSTrackConfig
from .frames import resize_like
from .model import SDSTrack, SDSTrackOutput
from .tracker import MultiTracker, NonFiniteOutputError, Tracker, TrackResult

__version__ = "0.1.0"

from .training import train  # noqa: E402  (after __version__, which the evaluation modules read)

__all__ = [
    "MultiTracker",
    "NonFiniteOutputError",
    "SDSTrack",
    "SDSTrackConfig",
    "SDSTrackOutput",
    "TrackResult",
    "Tracker",
    "__version__",
    "resize_like",
    "train",
]
