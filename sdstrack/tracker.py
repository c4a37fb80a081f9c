"""The frame-level trackers: RGB + X frames and a box in, a box and a confidence per frame out.

Read top to bottom, one frame goes: check the frames -> render X -> crop around the previous box ->
normalise -> network (with masked tokens for missing or invalid sensor data) -> Hann window ->
decode -> map back to image pixels -> clip. Every step reproduces the original SDSTrack tracker, so
the published checkpoints give the published scores.

Conventions: frames are H x W x 3 ``uint8`` **RGB** arrays (``bgr=True`` accepts OpenCV's BGR);
boxes are top-left ``x, y, w, h`` in pixels; X frames are described in :mod:`sdstrack.modalities`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from . import checkpoint
from .config import SDSTrackConfig
from .frames import Box, check_box, check_not_empty, check_rgb_frame, check_same_size, crop_square, patch_valid_fraction
from .modalities import X_FORMATS, depth_validity, render_x
from .model import SDSTrack, decode_boxes

if TYPE_CHECKING:
    from .export import OnnxRuntimeNetwork

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MARGIN = 10  # px: a tracked box keeps at least this much of itself inside the image
DEFAULT_MIN_VALID_FRACTION = 0.5


@dataclass(frozen=True)
class TrackResult:
    """One target in one frame.

    Attributes:
        box: top-left ``x, y, w, h`` in pixels (float).
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


@dataclass
class _FramePair:
    """A checked, rendered frame pair: the 6-channel image the network crops from, and what is known
    about missing or invalid data in each modality (``*_valid`` None = every pixel valid)."""

    image: np.ndarray
    rgb_missing: bool
    x_missing: bool
    rgb_valid: np.ndarray | None
    x_valid: np.ndarray | None


def hann_window(size: int) -> torch.Tensor:
    """(1, 1, size, size) centred Hann window, ``0.5 * (1 - cos(2 pi k / (size + 1)))``, k = 1..size."""
    k = torch.arange(1, size + 1, dtype=torch.float32)
    hann = 0.5 * (1 - torch.cos((2 * math.pi / (size + 1)) * k))
    return hann.view(1, 1, -1, 1) * hann.view(1, 1, 1, -1)


def clip_box(box: Sequence[float], width: int, height: int, margin: int = CLIP_MARGIN) -> Box:
    """Keep a box inside the image with at least ``margin`` px of it visible, and sides >= ``margin``."""
    x, y, w, h = box
    x2, y2 = x + w, y + h
    x1 = min(max(0, x), width - margin)
    x2 = min(max(margin, x2), width)
    y1 = min(max(0, y), height - margin)
    y2 = min(max(margin, y2), height)
    return (x1, y1, max(margin, x2 - x1), max(margin, y2 - y1))


class _PairTracker:
    """What single- and multi-target tracking share: the model, the pipeline and the targets' state."""

    def __init__(
        self,
        model: SDSTrack | OnnxRuntimeNetwork,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        compile: bool = False,
        bgr: bool = False,
        x_format: str | None = None,
        min_valid_fraction: float = DEFAULT_MIN_VALID_FRACTION,
    ) -> None:
        """
        Args:
            model: an :class:`SDSTrack` network (for example ``SDSTrack.from_pretrained(...)``), or an
                :class:`sdstrack.export.OnnxRuntimeNetwork` (CPU, float32).
            device: ``"cuda"``, ``"cpu"``, ``"mps"``...; defaults to ``"cuda"`` when available, else ``"cpu"``.
            dtype: the precision of the network's matrix products, default the model's own
                (``torch.float32`` unless :meth:`SDSTrack.set_precision` was called);
                ``torch.float16`` or ``torch.bfloat16`` on GPUs, ``torch.bfloat16`` on CPUs with
                AVX-512 BF16 or AMX (mixed precision, see :meth:`SDSTrack.set_precision`; the residual
                stream, pre- and post-processing stay float32).
            compile: run the network through ``torch.compile`` (on CUDA with
                ``mode="reduce-overhead"``, i.e. CUDA graphs: every shape in the network is static).
                The first frames are slow while it compiles.
            bgr: frames are in OpenCV's BGR order (as ``cv2.imread`` returns them): every 3-channel
                input frame, RGB and X, is converted to RGB first.
            x_format: how X frames come in: ``None`` (the model's modality), that same modality
                name, or ``"rendered"`` (3-channel images already rendered as the model expects).
                A different modality is refused: the weights only understand their own sensor.
            min_valid_fraction: a patch whose fraction of valid pixels is below this is masked (its
                token replaced by zeros) — for depth holes and user-given validity masks.
        """
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
        if isinstance(model, SDSTrack):
            self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
            self.dtype = dtype or model.compute_dtype
            self.model = model.to(device=self.device).eval()
            self.model.set_precision(self.dtype)
            mode = "reduce-overhead" if self.device.type == "cuda" else None
            self._network = torch.compile(self.model, mode=mode) if compile else self.model
        else:
            if (device not in (None, "cpu")) or (dtype not in (None, torch.float32)) or compile:
                raise ValueError("the ONNX Runtime backend runs on the CPU in float32; drop device, dtype and compile")
            self.device, self.dtype = torch.device("cpu"), torch.float32
            self.model = self._network = model
        self.config = config
        self.x_format = x_format or config.modality
        self.bgr = bgr
        self.min_valid_fraction = min_valid_fraction
        self._mean = torch.tensor(IMAGENET_MEAN * 2, device=self.device).view(1, 6, 1, 1)
        self._std = torch.tensor(IMAGENET_STD * 2, device=self.device).view(1, 6, 1, 1)
        self._window = hann_window(config.search_grid).to(self.device)
        self.reset()

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        backend: str = "torch",
        **options,
    ):
        """Load ``config.json`` + ``model.safetensors`` from a local folder or a Hugging Face Hub repo id.

        Hub downloads honour ``HF_HUB_OFFLINE``, ``revision`` (branch, tag or commit), ``cache_dir``,
        ``local_files_only`` and ``token``. ``backend="onnxruntime"`` runs the folder's ``model.onnx``
        (written by ``sdstrack export-onnx``) instead. Other keyword options go to the constructor.
        """
        if backend == "onnxruntime":
            from .export import ONNX_NAME, OnnxRuntimeNetwork

            folder = checkpoint.resolve(name_or_path, revision=revision, cache_dir=cache_dir,
                                        local_files_only=local_files_only, token=token,
                                        filenames=(checkpoint.CONFIG_NAME, ONNX_NAME))
            config = SDSTrackConfig.load(folder / checkpoint.CONFIG_NAME)
            return cls(OnnxRuntimeNetwork(folder / ONNX_NAME, config), device=device, dtype=dtype, **options)
        if backend != "torch":
            raise ValueError(f"backend must be 'torch' or 'onnxruntime', got {backend!r}")
        model = SDSTrack.from_pretrained(
            name_or_path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token
        )
        return cls(model, device=device, dtype=dtype, **options)

    def reset(self) -> None:
        """Forget the targets; the next call must be ``init``."""
        self._templates: torch.Tensor | None = None
        self._template_masks: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
        self._boxes: list[Box] = []
        self._frame_size: tuple[int, int] | None = None
        self._frame_index = -1

    # Frames --------------------------------------------------------------------------------------
    def _prepare(self, rgb, x, rgb_valid, x_valid) -> _FramePair:
        if rgb is None and x is None:
            raise ValueError("both the RGB and the X frame are missing; at least one sensor must deliver a frame")
        if x is not None:
            if not isinstance(x, np.ndarray):
                raise TypeError(f"x frame must be a NumPy array, got {type(x).__name__}")
            check_not_empty(x, "x")
            if x_valid is None and self.x_format == "depth" and x.ndim == 2:
                x_valid = depth_validity(x)
            if self.bgr and x.ndim == 3 and x.shape[2] == 3:
                x = cv2.cvtColor(np.ascontiguousarray(x), cv2.COLOR_BGR2RGB)
            x = np.ascontiguousarray(render_x(x, self.x_format))
        if rgb is not None:
            rgb = check_rgb_frame(rgb)
            if self.bgr:
                rgb = cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB)
        if rgb is not None and x is not None:
            check_same_size(rgb, x, "rgb", "x")
        present = rgb if rgb is not None else x
        if self._frame_size is not None and present.shape[:2] != self._frame_size:
            raise ValueError(
                f"frame size changed from {self._frame_size[1]}x{self._frame_size[0]} at init to "
                f"{present.shape[1]}x{present.shape[0]}; call init again for a new stream"
            )
        for name, valid in (("rgb_valid", rgb_valid), ("x_valid", x_valid)):
            if valid is not None and (not isinstance(valid, np.ndarray) or valid.shape != present.shape[:2]
                                      or valid.dtype != np.bool_):
                got = f"{valid.dtype} {valid.shape}" if isinstance(valid, np.ndarray) else type(valid).__name__
                raise ValueError(f"{name} must be an H x W bool array matching the frames {present.shape[:2]}, got {got}")
        zeros = np.zeros_like(present)
        image = np.concatenate([rgb if rgb is not None else zeros, x if x is not None else zeros], axis=2)
        return _FramePair(image, rgb is None, x is None, rgb_valid, x_valid)

    def _token_mask(self, missing: bool, valid: np.ndarray | None, box: Box, factor: float, size: int):
        """(tokens,) bool mask of one modality in one crop, or None when nothing is masked."""
        if missing:
            return np.ones((size // self.config.patch_size) ** 2, dtype=bool)
        if valid is None:
            return None
        masked = patch_valid_fraction(valid, box, factor, size, self.config.patch_size) < self.min_valid_fraction
        return masked if masked.any() else None

    def _crops(self, pair: _FramePair, boxes: Sequence[Box], factor: float, size: int):
        """Normalised (N, 6, size, size) crops around ``boxes``, their resize factors and token masks."""
        crops, factors, rgb_masks, x_masks = [], [], [], []
        for box in boxes:
            crop, resize_factor = crop_square(pair.image, box, factor, size)
            crops.append(crop)
            factors.append(resize_factor)
            rgb_masks.append(self._token_mask(pair.rgb_missing, pair.rgb_valid, box, factor, size))
            x_masks.append(self._token_mask(pair.x_missing, pair.x_valid, box, factor, size))
        pixels = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2).float()
        normalised = ((pixels / 255.0) - self._mean) / self._std
        return normalised, factors, _stack_masks(rgb_masks), _stack_masks(x_masks)

    # Tracking ------------------------------------------------------------------------------------
    def _init_targets(self, rgb, x, boxes: Sequence[Sequence[float]], rgb_valid, x_valid) -> list[TrackResult]:
        self.reset()
        if len(boxes) == 0:
            raise ValueError("no box given: init needs at least one target box (x, y, w, h in pixels)")
        pair = self._prepare(rgb, x, rgb_valid, x_valid)
        height, width = pair.image.shape[:2]
        checked = [check_box(box, width, height) for box in boxes]
        cfg = self.config
        templates, _, rgb_masks, x_masks = self._crops(pair, checked, cfg.template_factor, cfg.template_size)
        self._templates = templates
        self._template_masks = (rgb_masks, x_masks)
        self._boxes = checked
        self._frame_size = (height, width)
        self._frame_index = 0
        return [TrackResult(box, 1.0, 0) for box in checked]

    @torch.inference_mode()
    def _update_targets(self, rgb, x, rgb_valid, x_valid) -> list[TrackResult]:
        if self._templates is None:
            raise RuntimeError("update() was called before init(); start the tracker with init(rgb, x, box)")
        pair = self._prepare(rgb, x, rgb_valid, x_valid)
        height, width = pair.image.shape[:2]
        cfg = self.config
        search, factors, rgb_search_mask, x_search_mask = self._crops(
            pair, self._boxes, cfg.search_factor, cfg.search_size
        )
        rgb_mask = self._network_mask(self._template_masks[0], rgb_search_mask, pair.rgb_missing)
        x_mask = self._network_mask(self._template_masks[1], x_search_mask, pair.x_missing)
        out = self._network(self._templates, search, rgb_mask=rgb_mask, x_mask=x_mask)
        response = out.score_map * self._window
        boxes, peaks = decode_boxes(response, out.size_map, out.offset_map)
        factor_tensor = torch.tensor(factors, dtype=torch.float32, device=self.device).unsqueeze(1)
        crop_boxes = (boxes * cfg.search_size / factor_tensor).tolist()
        self._frame_index += 1
        results = []
        for i, (crop_box, resize_factor) in enumerate(zip(crop_boxes, factors)):
            image_box = self._map_back(crop_box, self._boxes[i], resize_factor)
            self._boxes[i] = clip_box(image_box, width, height)
            results.append(TrackResult(self._boxes[i], float(peaks[i]), self._frame_index))
        return results

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

    def _map_back(self, crop_box: Sequence[float], previous: Box, resize_factor: float) -> Box:
        """A ``cx, cy, w, h`` box in search-crop pixels (scaled to image units) -> image ``x, y, w, h``."""
        previous_cx = previous[0] + 0.5 * previous[2]
        previous_cy = previous[1] + 0.5 * previous[3]
        half_side = 0.5 * self.config.search_size / resize_factor
        cx, cy, w, h = crop_box
        cx = cx + (previous_cx - half_side)
        cy = cy + (previous_cy - half_side)
        return (cx - 0.5 * w, cy - 0.5 * h, w, h)


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
    """

    def init(self, rgb: np.ndarray | None, x: np.ndarray | None, box: Sequence[float], *,
             rgb_valid: np.ndarray | None = None, x_valid: np.ndarray | None = None) -> TrackResult:
        """Start tracking the target in ``box`` (top-left x, y, w, h in pixels) of this frame pair.

        ``x=None`` starts without the X sensor: the template's X tokens then stay masked.
        """
        return self._init_targets(rgb, x, [box], rgb_valid, x_valid)[0]

    def update(self, rgb: np.ndarray | None, x: np.ndarray | None, *,
               rgb_valid: np.ndarray | None = None, x_valid: np.ndarray | None = None) -> TrackResult:
        """Locate the target in the next frame pair."""
        return self._update_targets(rgb, x, rgb_valid, x_valid)[0]


class MultiTracker(_PairTracker):
    """Track several targets in the same stream with one batched network call per frame.

    Each target keeps its own template and search region; the results equal those of one
    :class:`Tracker` per target (up to float rounding of batched kernels).
    """

    def init(self, rgb: np.ndarray | None, x: np.ndarray | None, boxes: Sequence[Sequence[float]], *,
             rgb_valid: np.ndarray | None = None, x_valid: np.ndarray | None = None) -> list[TrackResult]:
        """Start tracking one target per box (top-left x, y, w, h in pixels); results in box order."""
        return self._init_targets(rgb, x, list(boxes), rgb_valid, x_valid)

    def update(self, rgb: np.ndarray | None, x: np.ndarray | None, *,
               rgb_valid: np.ndarray | None = None, x_valid: np.ndarray | None = None) -> list[TrackResult]:
        """Locate every target in the next frame pair; results in the order of the ``init`` boxes."""
        return self._update_targets(rgb, x, rgb_valid, x_valid)
