"""Pure ``nn.Module``s of the SDSTrack network: tensors in, tensors out."""

from .backbone import Backbone
from .head import CentreHead, decode_boxes
from .network import SDSTrack, SDSTrackOutput, example_crops

__all__ = ["Backbone", "CentreHead", "SDSTrack", "SDSTrackOutput", "decode_boxes", "example_crops"]
