"""The frame-level trackers: RGB + X frames and a box in, a box and a confidence per frame out.

One frame goes, top to bottom in :meth:`_PairTracker._update_targets`:

1. preparation (:mod:`sdstrack.preprocessing`): check the frames, crop a square around each target's
   previous box, render X there, find missing or invalid patches, normalise;
2. the network call, through a backend (:mod:`sdstrack.backends`): PyTorch or ONNX Runtime;
3. decoding: Hann window, arg-max, box in crop units;
4. map-back to image pixels and clipping to the image.

Every step reproduces the original SDSTrack tracker, so the published checkpoints give the published
scores. Conventions: frames are H x W x 3 ``uint8`` **RGB** arrays (``bgr=True`` accepts OpenCV's
BGR); boxes are top-left ``x, y, w, h`` in pixels; X frames are described in :mod:`sdstrack.modalities`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from . import checkpoint
from .backends import NetworkBackend, backend_files, load_backend
from .backends.pytorch import TorchBackend
from .frames import Box, check_box
from .modalities import X_FORMATS
from .model import SDSTrack, decode_boxes
from .preprocessing import FramePair, TargetCrop, normalise

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .checkpoint import HubOptions

CLIP_MARGIN = 10  # px: a tracked box keeps at least this much of itself inside the image
DEFAULT_MIN_VALID_FRACTION = 0.5


class NonFiniteOutputError(FloatingPointError):
    """The network returned NaN or inf for a frame (float16 overflow, corrupted weights); the tracker's
    state is left as it was before the frame."""


@dataclass(frozen=True)
class TrackResult:
    """One target in one frame.

    Attributes:
        box: top-left ``x, y, w, h`` in pixels (floats).
        score: confidence in [0, 1]: the Hann-windowed peak of the score map, as the original
            tracker reports it (1.0 for the initial frame).
        frame_index: 0 for the frame given to ``init``, then 1, 2, ...
    """

    box: Box
    score: float
    frame_index: int

    @property
    def xyxy(self) -> Box:
        """``x1, y1, x2, y2`` corners in pixels."""
        x, y, w, h = self.box
        return (x, y, x + w, y + h)

    @property
    def cxcywh(self) -> Box:
        """Centre ``cx, cy`` and size ``w, h`` in pixels."""
        x, y, w, h = self.box
        return (x + w / 2, y + h / 2, w, h)


def hann_window(size: int) -> torch.Tensor:
    """(1, 1, size, size) centred Hann window, ``0.5 * (1 - cos(2 pi k / (size + 1)))``, k = 1..size."""
    k = torch.arange(1, size + 1, dtype=torch.float32)
    hann = 0.5 * (1 - torch.cos((2 * math.pi / (size + 1)) * k))
    return hann.view(1, 1, -1, 1) * hann.view(1, 1, 1, -1)


def map_back(crop_box: Sequence[float], previous: Box, search_size: int, resize_factor: float) -> Box:
    """A ``cx, cy, w, h`` box measured from the search crop's corner in image pixels (the decoded
    fractions times ``search_size / resize_factor``), found around ``previous`` -> image ``x, y, w, h``."""
    cx, cy, w, h = crop_box
    half_side = 0.5 * search_size / resize_factor
    cx += previous[0] + 0.5 * previous[2] - half_side
    cy += previous[1] + 0.5 * previous[3] - half_side
    return (cx - 0.5 * w, cy - 0.5 * h, w, h)


def clip_box(box: Sequence[float], width: int, height: int, margin: int = CLIP_MARGIN) -> Box:
    """Keep a box inside the image with at least ``margin`` px of it visible and sides of at least
    ``margin`` px (the margin shrinks to the image's side for images smaller than it)."""
    margin_x, margin_y = min(margin, width), min(margin, height)
    x, y, w, h = box
    x1 = min(max(0.0, x), width - margin_x)
    x2 = min(max(margin_x, x + w), width)
    y1 = min(max(0.0, y), height - margin_y)
    y2 = min(max(margin_y, y + h), height)
    return (float(x1), float(y1), float(max(margin_x, x2 - x1)), float(max(margin_y, y2 - y1)))


class _PairTracker:
    """What single- and multi-target tracking share: the backend, the pipeline and the targets' state."""

    def __init__(
        self,
        model: SDSTrack | NetworkBackend,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        compile: bool = False,
        bgr: bool = False,
        x_format: str | None = None,
        min_valid_fraction: float = DEFAULT_MIN_VALID_FRACTION,
    ) -> None:
        """
        Args:
            model: an :class:`SDSTrack` network, which the tracker never modifies (it runs its own copy
                in a :class:`~sdstrack.backends.pytorch.TorchBackend`), or a ready backend
                (:mod:`sdstrack.backends`), which is then used as it is.
            device: ``"cuda"``, ``"cpu"``, ``"mps"``...; default ``cuda`` when available, else ``cpu``.
            dtype: precision of the matrix products: ``torch.float32`` (default), ``torch.float16``
                (GPUs) or ``torch.bfloat16`` (GPUs, CPUs with AVX-512 BF16 or AMX); mixed precision,
                the residual stream and pre- and post-processing stay float32.
            compile: run the network through ``torch.compile`` (CUDA graphs on GPU). The first frames
                are slow while it compiles.
            bgr: frames are in OpenCV's BGR order (as ``cv2.imread`` returns them): every 3-channel
                input frame, RGB and X, is read as BGR.
            x_format: how X frames come in: ``None`` (the model's modality), that same modality
                name, or ``"rendered"`` (3-channel images already rendered as the model expects).
                A different modality is refused: the weights only understand their own sensor.
            min_valid_fraction: a patch whose fraction of valid pixels is below this is masked (its
                token replaced by zeros): for depth holes and user-given validity masks.

        ``device``, ``dtype`` and ``compile`` configure the PyTorch backend; with a ready backend they
        must be left out.
        """
        if isinstance(model, SDSTrack):
            model = TorchBackend(model, device=device, dtype=dtype, compile=compile)
        elif isinstance(model, NetworkBackend):
            if device is not None or dtype is not None or compile:
                raise ValueError(
                    f"device, dtype and compile configure the PyTorch backend; {type(model).__name__} is already "
                    "configured: drop them"
                )
        else:
            raise TypeError(
                f"model must be an sdstrack.SDSTrack or a backend from sdstrack.backends, got {type(model).__name__}"
            )
        config = model.config
        if x_format is not None and x_format not in X_FORMATS:
            raise ValueError(f"x_format must be one of {X_FORMATS} or None, got {x_format!r}")
        if x_format not in (None, "rendered", config.modality):
            raise ValueError(
                f"this checkpoint was trained for {config.modality} frames but x_format={x_format!r} was asked "
                f"for; load a {x_format} checkpoint, or pass x_format=None to render {config.modality} frames"
            )
        if not 0.0 <= min_valid_fraction <= 1.0:
            raise ValueError(f"min_valid_fraction must lie in [0, 1], got {min_valid_fraction}")
        self.backend = model
        self.config = config
        self.x_format = x_format or config.modality
        self.bgr = bgr
        self.min_valid_fraction = min_valid_fraction
        self._window = hann_window(config.search_grid).to(self.device)
        self.reset()

    @property
    def device(self) -> torch.device:
        return self.backend.device

    @property
    def dtype(self) -> torch.dtype:
        return self.backend.dtype

    @property
    def model(self) -> SDSTrack | None:
        """The PyTorch network the tracker runs (its own copy), or None for other backends."""
        return self.backend.model if isinstance(self.backend, TorchBackend) else None

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path = checkpoint.DEFAULT_MODEL,
        *,
        backend: str = "torch",
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        compile: bool = False,
        bgr: bool = False,
        x_format: str | None = None,
        min_valid_fraction: float = DEFAULT_MIN_VALID_FRACTION,
        **hub: Unpack[HubOptions],
    ):
        """Load ``config.json`` + ``model.safetensors``: a bundled model's short name (the default,
        :data:`sdstrack.checkpoint.DEFAULT_MODEL`; never the network), a local folder or a Hub repo id.

        ``backend="onnxruntime"`` runs the folder's ``model.onnx`` (written by ``sdstrack export-onnx``)
        instead. ``hub`` takes the download options of :class:`sdstrack.checkpoint.HubOptions`
        (``revision``, ``cache_dir``, ``local_files_only``, ``token``; ``HF_HUB_OFFLINE`` is honoured).
        The other arguments are the constructor's.
        """
        folder = checkpoint.resolve(name_or_path, filenames=backend_files(backend), **hub)
        network = load_backend(backend, folder, device=device, dtype=dtype, compile=compile)
        return cls(network, bgr=bgr, x_format=x_format, min_valid_fraction=min_valid_fraction)

    def reset(self) -> None:
        """Forget the targets; the next call must be ``init``."""
        self._templates: torch.Tensor | None = None
        self._template_masks: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
        self._boxes: list[Box] = []
        self._frame_size: tuple[int, int] | None = None
        self._frame_index = -1

    # One frame, top to bottom ---------------------------------------------------------------------
    def _init_targets(self, rgb, x, boxes: Sequence[object], rgb_valid, x_valid) -> list[TrackResult]:
        if len(boxes) == 0:
            raise ValueError("no box given: init needs at least one target box (x, y, w, h in pixels)")
        pair = FramePair(rgb, x, self.x_format, bgr=self.bgr, rgb_valid=rgb_valid, x_valid=x_valid)
        checked = [check_box(box, pair.width, pair.height) for box in boxes]
        cfg = self.config
        crops = [self._crop(pair, box, cfg.template_factor, cfg.template_size) for box in checked]
        templates, rgb_masks, x_masks = self._batch(crops)
        # Everything is checked: only now replace the running track (a rejected call changes nothing).
        self._templates, self._template_masks = templates, (rgb_masks, x_masks)
        self._boxes, self._frame_size, self._frame_index = checked, pair.size, 0
        return [TrackResult(box, 1.0, 0) for box in checked]

    @torch.inference_mode()
    def _update_targets(self, rgb, x, rgb_valid, x_valid) -> list[TrackResult]:
        if self._templates is None:
            raise RuntimeError("update() was called before init(); start the tracker with init(rgb, x, box)")
        # 1. preparation
        pair = FramePair(rgb, x, self.x_format, bgr=self.bgr, rgb_valid=rgb_valid, x_valid=x_valid)
        if pair.size != self._frame_size:
            (h0, w0), (h1, w1) = self._frame_size, pair.size
            raise ValueError(
                f"frame size changed from {w0}x{h0} at init to {w1}x{h1}; call init again for a new stream"
            )
        cfg = self.config
        crops = [self._crop(pair, box, cfg.search_factor, cfg.search_size) for box in self._boxes]
        search, rgb_search_masks, x_search_masks = self._batch(crops)
        rgb_mask = self._network_mask(self._template_masks[0], rgb_search_masks, pair.rgb is None)
        x_mask = self._network_mask(self._template_masks[1], x_search_masks, pair.x is None)
        # 2. network
        out = self.backend(self._templates, search, rgb_mask=rgb_mask, x_mask=x_mask)
        # 3. decoding
        crop_boxes, peaks = decode_boxes(out.score_map * self._window, out.size_map, out.offset_map)
        if not (torch.isfinite(crop_boxes).all() and torch.isfinite(peaks).all()):
            bad = sorted(set(torch.nonzero(~torch.isfinite(torch.cat([crop_boxes, peaks[:, None]], 1)))[:, 0].tolist()))
            raise NonFiniteOutputError(
                f"the network returned NaN or inf for target(s) {bad} in frame {self._frame_index + 1}; the track "
                "is unchanged. Typical causes: float16 overflow on a GPU (use dtype=torch.bfloat16 or float32) "
                "or corrupted weights."
            )
        # 4. map-back (scaled in float32, as the original) and clipping
        factors = torch.tensor([crop.resize_factor for crop in crops], dtype=torch.float32, device=self.device)
        scaled = (crop_boxes * cfg.search_size / factors[:, None]).tolist()
        boxes = [
            clip_box(map_back(box, previous, cfg.search_size, crop.resize_factor), pair.width, pair.height)
            for box, previous, crop in zip(scaled, self._boxes, crops)
        ]
        self._boxes, self._frame_index = boxes, self._frame_index + 1
        return [TrackResult(box, float(peak), self._frame_index) for box, peak in zip(boxes, peaks.tolist())]

    # Helpers ----------------------------------------------------------------------------------------
    def _crop(self, pair: FramePair, box: Box, factor: float, size: int) -> TargetCrop:
        return pair.crop(box, factor, size, self.config.patch_size, self.min_valid_fraction)

    def _batch(self, crops: list[TargetCrop]) -> tuple[torch.Tensor, np.ndarray | None, np.ndarray | None]:
        """Normalised (N, 6, size, size) network input on the backend's device, and the (N, tokens)
        token masks of each modality (None when no target masks anything)."""
        network_input = torch.from_numpy(normalise(crops, self.config)).to(self.device)
        return network_input, _stack_masks([c.rgb_mask for c in crops]), _stack_masks([c.x_mask for c in crops])

    def _network_mask(self, template: np.ndarray | None, search: np.ndarray | None, missing: bool):
        """The network's (N, T + S) token mask of one modality, or None when nothing is masked.

        A modality missing in this frame is masked everywhere, template tokens included: the network
        then sees that modality exactly as the paper's masked distillation trains it to.
        """
        cfg, batch = self.config, len(self._boxes)
        if missing:
            return torch.ones(batch, cfg.num_template_tokens + cfg.num_search_tokens, dtype=torch.bool,
                              device=self.device)
        if template is None and search is None:
            return None
        template = template if template is not None else np.zeros((batch, cfg.num_template_tokens), dtype=bool)
        search = search if search is not None else np.zeros((batch, cfg.num_search_tokens), dtype=bool)
        return torch.from_numpy(np.concatenate([template, search], axis=1)).to(self.device)


def _stack_masks(masks: list[np.ndarray | None]) -> np.ndarray | None:
    """(N, tokens) bool, or None when no target masks anything."""
    if all(m is None for m in masks):
        return None
    tokens = next(m for m in masks if m is not None).shape[0]
    return np.stack([m if m is not None else np.zeros(tokens, dtype=bool) for m in masks])


class Tracker(_PairTracker):
    """Track one target through a stream of RGB + X frame pairs.

    >>> tracker = Tracker.from_pretrained("weights/sdstrack-rgbd")      # doctest: +SKIP
    >>> tracker.init(rgb, depth, (x, y, w, h))                          # doctest: +SKIP
    >>> result = tracker.update(rgb, depth)   # result.box, result.score  doctest: +SKIP

    Frames are H x W x 3 ``uint8`` **RGB** (pass ``bgr=True`` for OpenCV's BGR). Either frame of
    ``update`` may be ``None`` when its sensor dropped out: that modality's tokens are then masked,
    the input the paper's masked self-distillation trains the network for. ``rgb_valid`` / ``x_valid``
    (H x W bool) mask only patches with too few valid pixels; depth holes are found automatically.
    A call that raises leaves the tracker as it was.
    """

    def init(self, rgb: np.ndarray | None, x: np.ndarray | None, box: Sequence[float], *,
             rgb_valid: np.ndarray | None = None, x_valid: np.ndarray | None = None) -> TrackResult:
        """Start tracking the target in ``box`` (top-left x, y, w, h in pixels) of this frame pair.

        ``x=None`` starts without the X sensor: the template's X tokens then stay masked.
        """
        return self._init_targets(rgb, x, [box], rgb_valid, x_valid)[0]

    def update(self, rgb: np.ndarray | None, x: np.ndarray | None, *,
               rgb_valid: np.ndarray | None = None, x_valid: np.ndarray | None = None) -> TrackResult:
        """Locate the target in the next frame pair.

        Raises :class:`NonFiniteOutputError` (state unchanged) if the network returns NaN or inf.
        """
        return self._update_targets(rgb, x, rgb_valid, x_valid)[0]


class MultiTracker(_PairTracker):
    """Track several targets in the same stream with one batched network call per frame.

    Each target keeps its own template and search region; the results equal those of one
    :class:`Tracker` per target (up to float rounding of batched kernels).
    """

    def init(self, rgb: np.ndarray | None, x: np.ndarray | None, boxes: Sequence[Sequence[float]], *,
             rgb_valid: np.ndarray | None = None, x_valid: np.ndarray | None = None) -> list[TrackResult]:
        """Start tracking one target per box (top-left x, y, w, h in pixels); results in box order."""
        if isinstance(boxes, (str, bytes)) or not isinstance(boxes, (Sequence, np.ndarray)):
            raise ValueError(f"boxes must be a list of x, y, w, h boxes, got {boxes!r}")
        return self._init_targets(rgb, x, list(boxes), rgb_valid, x_valid)

    def update(self, rgb: np.ndarray | None, x: np.ndarray | None, *,
               rgb_valid: np.ndarray | None = None, x_valid: np.ndarray | None = None) -> list[TrackResult]:
        """Locate every target in the next frame pair; results in the order of the ``init`` boxes."""
        return self._update_targets(rgb, x, rgb_valid, x_valid)
