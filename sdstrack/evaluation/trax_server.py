"""TraX server: sdstrack as a tracker of the VOT toolkit (``vot-toolkit`` 0.9, TraX 4).

The toolkit starts this process and sends it the paths of each frame's images over the TraX protocol; the
server reads them with OpenCV (colour as BGR, depth as 16-bit millimetres, infrared as 3 channels), tracks
with :class:`sdstrack.MultiTracker` and answers each frame with one box per object and its ``confidence`` (the
tracker's score, 1.0 at initialisation), the per-object property the toolkit's long-term analyses (precision,
recall, F-score) read. Register it in the workspace's ``trackers.ini`` (install with ``pip install
"sdstrack[vot]"``)::

    [sdstrack]
    label = SDSTrack
    protocol = traxpython
    python = /abs/path/to/venv/bin/python
    command = from sdstrack.evaluation.trax_server import main; sys.exit(main(['--model', '/abs/path/to/model']))

(``traxpython`` runs ``command`` as Python code, hence the call of :func:`main`; with ``protocol = trax`` the
command line is ``/abs/path/to/venv/bin/python -m sdstrack.evaluation.trax_server --model /abs/path/to/model``.)
``--channels color,depth`` (the default) serves RGB-D stacks and needs a depth checkpoint, ``--channels
color,ir`` serves RGB-T stacks and needs a thermal one. With ``--multiobject`` the server declares multi-object
support: the toolkit then sends every object of a sequence in one initialisation and the targets are tracked
with one batched network call per frame; objects that appear after the first frame are refused (without the
flag the toolkit runs one pass per object, which handles them).

An error stops the process with exit status 1: the message (with the traceback, for an error while tracking) goes
to stderr, which the toolkit saves in the workspace's ``logs/`` folder, and ends the TraX session as its reason,
which ``vot evaluate`` prints ("Server terminated the session: ..."). ``vot evaluate`` itself still exits 0 then:
check the result files.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

import cv2
import numpy as np

from ..frames import Box
from ..tracker import MultiTracker, TrackResult

# The toolkit's X channel -> the checkpoint modality that understands it.
X_CHANNELS = {"depth": "depth", "ir": "thermal"}
# How each channel's image file is read: colour and infrared as 3-channel BGR, depth as stored (16-bit mm).
READ_FLAGS = {"color": cv2.IMREAD_COLOR, "depth": cv2.IMREAD_UNCHANGED, "ir": cv2.IMREAD_COLOR}
INSTALL_HINT = 'pip install "sdstrack[vot]"'


def import_trax() -> ModuleType:
    """The TraX Python bindings (package ``vot-trax``), or an ImportError that says how to install them."""
    try:
        import trax
    except ImportError as err:
        raise ImportError(
            f"the TraX server needs the TraX bindings (package vot-trax), which are not installed: {INSTALL_HINT}"
        ) from err
    return trax


def parse_channels(text: str) -> tuple[str, str]:
    """``"color,depth"`` / ``"color,ir"`` -> the (colour, X) channel pair the server asks the toolkit for."""
    channels = tuple(name.strip() for name in text.split(","))
    if len(channels) != 2 or channels[0] != "color" or channels[1] not in X_CHANNELS:
        choices = " or ".join(f"color,{x}" for x in X_CHANNELS)
        raise argparse.ArgumentTypeError(f"--channels must be {choices}, got {text!r}")
    return channels  # type: ignore[return-value]


def read_image(path: str, channel: str) -> np.ndarray:
    """One channel's image file as the tracker takes it (``bgr=True``)."""
    image = cv2.imread(path, READ_FLAGS[channel])
    if image is None:
        raise FileNotFoundError(f"cannot read the {channel} image {path!r} (missing or not an image)")
    return image


def region_box(region: object, trax: ModuleType) -> Box:
    """A TraX region as a top-left ``x, y, w, h`` box: a rectangle as it is, a polygon as its bounding box."""
    if region.type == trax.Region.RECTANGLE:
        return tuple(float(v) for v in region.bounds())  # type: ignore[return-value]
    if region.type == trax.Region.POLYGON:
        xs, ys = zip(*region)
        return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    raise ValueError(f"unsupported initialisation region of type {region.type!r}: give a rectangle or a polygon")


def open_server(trax: ModuleType, channels: tuple[str, str], *, multiobject: bool = False) -> object:
    """Handshake with the toolkit: rectangles or polygons in, images by path, the given channels."""
    formats = [trax.Region.RECTANGLE, trax.Region.POLYGON]
    return trax.Server(formats, [trax.Image.PATH], list(channels), tracker_name="sdstrack", multiobject=multiobject)


def serve(server: object, tracker: MultiTracker, channels: tuple[str, str], trax: ModuleType) -> None:
    """Answer the toolkit's requests until it quits; any error propagates."""
    while (request := server.wait()).type != trax.TraxStatus.QUIT:
        rgb, x = (read_image(request.image[channel].path(), channel) for channel in channels)
        results: list[TrackResult]
        if request.type == trax.TraxStatus.INITIALIZE:
            results = tracker.init(rgb, x, [region_box(region, trax) for region, _ in request.objects])
        elif request.objects:
            raise ValueError(
                f"{len(request.objects)} new object(s) after the first frame: the server only tracks the objects of "
                "the initialisation; run it without --multiobject so that the toolkit tracks each object alone"
            )
        else:
            results = tracker.update(rgb, x)
        server.status([(trax.Rectangle.create(*result.box), {"confidence": result.score}) for result in results])


def build_parser() -> argparse.ArgumentParser:
    """The server's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m sdstrack.evaluation.trax_server",
        description="TraX server running sdstrack for the VOT toolkit (RGB-D: color,depth; RGB-T: color,ir)",
    )
    parser.add_argument("--model", required=True, help="checkpoint folder or Hugging Face Hub repo id")
    parser.add_argument("--channels", type=parse_channels, default=("color", "depth"),
                        help="image channels to ask the toolkit for: color,depth (default) or color,ir")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--multiobject", action="store_true",
                        help="declare multi-object support: all of a sequence's objects in one batched pass")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server; 0 when the toolkit quits, 1 on any error. The error goes to stderr (the toolkit's tracker
    log), with its traceback when it happened while serving; then the TraX session ends with it as the reason."""
    args = build_parser().parse_args(argv)
    server = None
    try:
        trax = import_trax()
        tracker = MultiTracker.from_pretrained(args.model, device=args.device, bgr=True)
        expected = X_CHANNELS[args.channels[1]]
        if tracker.config.modality != expected:
            raise ValueError(
                f"--channels {','.join(args.channels)} needs a {expected} checkpoint, but {args.model} is a "
                f"{tracker.config.modality} one"
            )
        server = open_server(trax, args.channels, multiobject=args.multiobject)
        serve(server, tracker, args.channels, trax)
    except Exception as err:  # every failure must reach the toolkit's log and the exit status
        reason = f"{type(err).__name__}: {err}"
        if server is not None:  # an error in tracking; one before is a setup error, which the message says
            traceback.print_exc(file=sys.stderr)
        print(f"sdstrack TraX server: error: {reason}", file=sys.stderr, flush=True)
        if server is not None:
            with contextlib.suppress(trax.TraxException):  # the client may be gone already
                server.quit(reason=reason)
        return 1
    server.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
