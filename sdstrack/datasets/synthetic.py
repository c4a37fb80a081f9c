"""Synthetic RGB + X tracking sequences generated from a seed: train and evaluate without downloads.

A sequence shows one textured target (a random ellipse, rectangle or star-shaped polygon) moving smoothly,
scaling and rotating a little, over a cluttered textured background seen by a jittering, panning camera.
Foreground clutter crosses the scene and occludes the target; look-alike distractors differ from it in X
only (farther and cold) and X-alike distractors differ in RGB only (same depth, hot). Stretches of low
light, glare and X sensor drop-out degrade one modality at a time. Everything comes from
``numpy.random.default_rng([seed, crc32(name)])``: the same arguments give identical arrays and files.

Conventions:

- RGB frames: H x W x 3 uint8 in RGB order (:func:`write_synthetic` writes them as BGR PNGs, as
  ``cv2.imwrite`` expects, so readers get BGR back).
- X frames: ``depth`` H x W uint16 millimetres, 0 where the sensor gives no value (holes, drop-out);
  ``thermal`` H x W x 3 uint8, the same grey in every channel, brighter is hotter; ``event`` H x W x 3 uint8
  RGB polarity frames: red (255, 0, 0) where the log brightness rose by more than ``event_threshold`` since
  the previous frame, blue (0, 0, 255) where it fell, the background colour elsewhere (frame 0 has none).
  A drop-out frame is all zeros.
- Ground truth: (N, 4) float64 top-left ``x, y, w, h`` in pixels, the integer extent of the target's
  visible pixels (not the parts behind occluders); NaN rows where the target is absent (visible area below
  ``min_visible`` of its unoccluded area). Frame 0 is always clean with the target fully visible.
- Attributes: per-frame (N,) bool arrays named :data:`ATTRIBUTES`: ``occlusion`` (some of the target hidden
  by a nearer object), ``low_light``, ``glare``, ``rgb_distractor`` / ``x_distractor`` (one is in view),
  ``x_dropout`` (the X frame is all zeros).
- Other objects: per kind in :data:`OTHER_KINDS` (``occluder``, ``rgb_distractor``, ``x_distractor``), (N, 4)
  float64 ``x, y, w, h`` boxes: the integer extent of the pixels in the frame of the object of that kind
  nearest the target (parts hidden by nearer objects included); NaN rows where none of that kind is in view.
  Training draws search crops centred on them (``distractor_probability`` in
  :mod:`sdstrack.training.sampling`).

:func:`write_synthetic` writes the plain folder layout ``load_dataset("folder", root)`` reads::

    ROOT/NAME/color/%08d.png       RGB frames (BGR PNG)
    ROOT/NAME/depth|thermal|event/%08d.png
    ROOT/NAME/groundtruth.txt      x,y,w,h a line, nan,nan,nan,nan where absent
    ROOT/NAME/ATTRIBUTE.tag        one 0/1 line per frame for each of ATTRIBUTES
    ROOT/NAME/KIND.box             x,y,w,h a line, nan,nan,nan,nan where none, for each of OTHER_KINDS
"""

from __future__ import annotations

import json
import math
import multiprocessing
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from ._common import OTHER_BOXES_SUFFIX, write_flags
from .sequence import DatasetError

X_FORMATS = ("depth", "thermal", "event")
ATTRIBUTES = ("occlusion", "low_light", "glare", "rgb_distractor", "x_distractor", "x_dropout")
OTHER_KINDS = ("occluder", "rgb_distractor", "x_distractor")
_RED, _BLUE = (255, 0, 0), (0, 0, 255)
_EVENT_BACKGROUNDS = {"white": 255, "black": 0}
_OCCLUDED = 0.97  # visible fraction of the target below which a frame has the occlusion attribute


@dataclass(frozen=True)
class SyntheticOptions:
    """What a synthetic sequence shows; every field is a keyword option of :func:`generate_sequence`.

    Sizes are fractions of ``min(W, H)`` unless stated; speeds are pixels per frame; probabilities decide
    once per sequence whether a stretch of that kind happens.

    Attributes:
        target_size: range of the target's base size (its geometric-mean side), fraction of ``min(W, H)``.
        shapes: target and clutter shapes to draw from: ``"ellipse"``, ``"rectangle"``, ``"polygon"``.
        speed: the target's mean speed, px/frame (heading and speed drift smoothly; it bounces off borders).
        scale: the apparent scale varies smoothly within ``[1 / (1 + scale), 1 + scale]``; the target's
            depth varies inversely with it.
        rotation: the target turns smoothly within ``+-rotation`` degrees.
        camera_jitter: standard deviation of the camera's frame-to-frame shake, px (moves everything).
        camera_pan: the background's mean panning speed, px/frame.
        clutter: number of textured shapes on the background (each a plane at its own depth and heat).
        occlusion_rate: expected number of foreground objects crossing the target per 100 frames.
        full_occlusion: probability that such an occluder is large enough to hide the target fully.
        min_visible: the target is absent on frames where less than this fraction of it is visible.
        rgb_distractors: look-alikes of the target (same texture and shape, slightly changed) at another
            depth and cold; each is in view for one stretch of 30-70 % of the sequence.
        x_distractors: objects of another texture and shape at the target's depth and as hot; same stretches.
        low_light, glare, x_dropout: probabilities of one stretch of dark noisy RGB, of RGB blinded by a
            bright glare, of all-zero X frames.
        stretch: range of a degradation stretch's length, fraction of the sequence.
        rgb_noise: standard deviation of the RGB sensor noise, 8-bit grey levels (low light adds more).
        target_depth: range of the target's depth at scale 1, mm.
        background_depth: range of the background's depth (a tilted ramp, far at the top), mm.
        depth_noise: standard deviation of depth noise at 1 m, mm (grows with the square of depth).
        depth_holes: fraction of pixels that are random clustered holes (0) in each depth frame; depth
            edges add thin holes on top.
        target_heat: range of the target's mean thermal grey level (hot).
        background_heat: range of the background's, the clutter's, the occluders' and the cold
            distractors' grey levels.
        event_threshold: change in natural-log brightness that fires an event.
        event_noise: fraction of pixels with a spurious event of random polarity per frame.
        event_background: ``"white"`` (VisEvent style) or ``"black"``.
    """

    target_size: tuple[float, float] = (0.15, 0.3)
    shapes: tuple[str, ...] = ("ellipse", "rectangle", "polygon")
    speed: float = 2.0
    scale: float = 0.3
    rotation: float = 15.0
    camera_jitter: float = 0.4
    camera_pan: float = 0.3
    clutter: int = 12
    occlusion_rate: float = 2.0
    full_occlusion: float = 0.5
    min_visible: float = 0.05
    rgb_distractors: int = 1
    x_distractors: int = 1
    low_light: float = 0.3
    glare: float = 0.3
    x_dropout: float = 0.2
    stretch: tuple[float, float] = (0.08, 0.2)
    rgb_noise: float = 2.0
    target_depth: tuple[float, float] = (1200.0, 3500.0)
    background_depth: tuple[float, float] = (4500.0, 9000.0)
    depth_noise: float = 2.0
    depth_holes: float = 0.02
    target_heat: tuple[float, float] = (190.0, 235.0)
    background_heat: tuple[float, float] = (30.0, 110.0)
    event_threshold: float = 0.15
    event_noise: float = 0.0005
    event_background: str = "white"

    def __post_init__(self) -> None:
        unknown = set(self.shapes) - {"ellipse", "rectangle", "polygon"}
        if unknown or not self.shapes:
            raise ValueError(f"shapes must be some of ellipse, rectangle, polygon, got {self.shapes!r}")
        if self.event_background not in _EVENT_BACKGROUNDS:
            raise ValueError(f"event_background must be 'white' or 'black', got {self.event_background!r}")


@dataclass
class _Object:
    """A textured shape in the scene: ``patch`` is an S x S x 4 uint8 RGBA image (alpha = shape, antialiased)
    centred on the object's centre; per frame its centre (px), scale, angle (degrees) and depth (mm)."""

    kind: str
    patch: np.ndarray
    heat: np.ndarray
    centre: np.ndarray
    scale: np.ndarray
    angle: np.ndarray
    depth: np.ndarray
    shown: np.ndarray


def generate_sequence(name: str, x_format: str, length: int = 100, size: tuple[int, int] = (320, 240),
                      seed: int = 0, **options: object) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray,
                                                                 np.ndarray, dict[str, np.ndarray],
                                                                 dict[str, np.ndarray]]:
    """One synthetic sequence of ``length`` frames of ``size`` (W, H) pixels; see the module docstring.

    ``options`` are fields of :class:`SyntheticOptions` (an unknown name raises ``TypeError``). Returns
    ``(frames_rgb, frames_x, groundtruth, absent, attributes, others)``: RGB uint8 frames, X frames in
    ``x_format``'s type, (N, 4) float64 boxes (NaN rows where absent), (N,) bool ``absent``, a dict of
    (N,) bool per-frame attributes named :data:`ATTRIBUTES` and a dict of the other objects' (N, 4) boxes
    named :data:`OTHER_KINDS`.
    """
    if x_format not in X_FORMATS:
        raise ValueError(f"x_format must be one of {', '.join(X_FORMATS)}, got {x_format!r}")
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    opts = SyntheticOptions(**options)  # type: ignore[arg-type]
    width, height = int(size[0]), int(size[1])
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    scene = _Scene(rng, opts, length, width, height)
    rgb_frames, x_frames = [], []
    boxes = np.full((length, 4), np.nan)
    attributes = {key: np.zeros(length, dtype=bool) for key in ATTRIBUTES}
    others = {kind: np.full((length, 4), np.nan) for kind in OTHER_KINDS}
    absent = np.zeros(length, dtype=bool)
    low_light = _stretch(rng, length, opts.low_light, opts.stretch)
    glare = _stretch(rng, length, opts.glare, opts.stretch)
    dropout = _stretch(rng, length, opts.x_dropout, opts.stretch)
    glare_centre = rng.uniform((0.0, 0.0), (width, height * 0.6))
    glare_radius = rng.uniform(0.3, 0.7) * width
    previous_log: np.ndarray | None = None
    for t in range(length):
        clean, depth, heat, visible, full, in_view = scene.render(t, with_heat=x_format == "thermal")
        for kind, box in in_view.items():
            others[kind][t] = box
        area = int(visible.sum())
        if area == 0 or area < opts.min_visible * full:
            absent[t] = True
        else:
            boxes[t] = _extent(visible)
        attributes["occlusion"][t] = area < _OCCLUDED * full
        attributes["rgb_distractor"][t] = "rgb_distractor" in in_view
        attributes["x_distractor"][t] = "x_distractor" in in_view
        rgb_frames.append(_degrade(rng, clean, opts, low_light[t], glare[t], glare_centre, glare_radius))
        if x_format == "event":
            log = np.log(cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY).astype(np.float32) + 10.0)
            x = _events(rng, log, previous_log, opts)
            previous_log = log
        elif x_format == "depth":
            x = _depth_frame(rng, depth, opts)
        else:
            x = _thermal_frame(rng, heat, opts)
        x_frames.append(np.zeros_like(x) if dropout[t] > 0 else x)
    attributes["low_light"] = low_light > 0
    attributes["glare"] = glare > 0
    attributes["x_dropout"] = dropout > 0
    return rgb_frames, x_frames, boxes, absent, attributes, others


def write_synthetic(root: str | Path, sequences: int = 4, length: int = 100, x_format: str = "depth",
                    size: tuple[int, int] = (320, 240), seed: int = 0, workers: int = 0,
                    **options: object) -> list[str]:
    """Write ``sequences`` synthetic sequences (named ``synthetic-{x_format}-{i:04d}``) into ``root`` in the
    plain folder layout (module docstring); returns their names. Same arguments, byte-identical files,
    whatever ``workers`` is: the number of processes writing sequences side by side (0: this process;
    more: fresh processes, so a script that calls this needs the ``if __name__ == "__main__":`` guard)."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ValueError(f"workers must be a whole number >= 0, got {workers!r}")
    SyntheticOptions(**options)  # type: ignore[arg-type]  # bad options fail here, not in a worker
    names = [f"synthetic-{x_format}-{index:04d}" for index in range(sequences)]
    write = partial(_write_sequence, Path(root), x_format=x_format, length=length, size=size, seed=seed,
                    options=options)
    if workers == 0:
        for name in names:
            write(name)
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(write, names))
    return names


def write_synthetic_once(root: str | Path, settings: dict, workers: int = 0) -> None:
    """``write_synthetic(root, **settings)`` unless ``root`` already holds a complete write with these settings
    (kept in ``root/.complete``, written last: a killed write starts over). A ``root`` written with other
    settings is a :class:`DatasetError` naming the differing ones (written, asked), never silently re-used."""
    marker = Path(root) / ".complete"
    if not marker.is_file():
        write_synthetic(root, **settings, workers=workers)
        marker.write_text(json.dumps(settings) + "\n")
        return
    written = json.loads(marker.read_text() or "{}")
    if written != settings:
        differ = {key: (written.get(key), settings.get(key)) for key in sorted({*written, *settings})
                  if written.get(key) != settings.get(key)}
        raise DatasetError(f"{root} holds synthetic sequences made with other settings (written, asked: {differ}); "
                           "use another root, or delete that folder to write them anew")


def _write_sequence(root: Path, name: str, *, x_format: str, length: int, size: tuple[int, int], seed: int,
                    options: dict) -> None:
    rgb, xs, boxes, _, attributes, others = generate_sequence(name, x_format, length, size, seed, **options)
    folder = root / name
    (folder / "color").mkdir(parents=True, exist_ok=True)
    (folder / x_format).mkdir(parents=True, exist_ok=True)
    for index, (colour, x) in enumerate(zip(rgb, xs)):
        file = f"{index + 1:08d}.png"
        cv2.imwrite(str(folder / "color" / file), cv2.cvtColor(colour, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(folder / x_format / file), x if x.ndim == 2 else cv2.cvtColor(x, cv2.COLOR_RGB2BGR))
    (folder / "groundtruth.txt").write_text(_box_lines(boxes))
    for key, flags in attributes.items():
        write_flags(folder / f"{key}.tag", flags)
    for kind, kind_boxes in others.items():
        (folder / f"{kind}{OTHER_BOXES_SUFFIX}").write_text(_box_lines(kind_boxes))


def _box_lines(boxes: np.ndarray) -> str:
    return "".join(",".join(f"{v:g}" for v in box) + "\n" for box in boxes)


class _Scene:
    """The background canvas (RGB, depth mm, heat) with a camera path over it, and the moving objects."""

    def __init__(self, rng: np.random.Generator, opts: SyntheticOptions, length: int, width: int,
                 height: int) -> None:
        self.width, self.height = width, height
        self.margin = max(8, int(0.1 * min(width, height)))
        cw, ch = width + 2 * self.margin, height + 2 * self.margin
        self.rgb, self.depth, self.heat = _background(rng, opts, cw, ch)
        pan = _trajectory(rng, length, np.array([2.0 * self.margin] * 2), np.zeros(2), opts.camera_pan)
        self.pan = np.rint(pan - self.margin).astype(int)
        self.jitter = rng.normal(0.0, opts.camera_jitter, (length, 2))
        self.objects = self._objects(rng, opts, length)

    def _objects(self, rng: np.random.Generator, opts: SyntheticOptions, length: int) -> list[_Object]:
        side = min(self.width, self.height)
        frame = np.array([self.width, self.height], dtype=float)
        base = rng.uniform(*opts.target_size) * side
        aspect = rng.uniform(0.5, 2.0)
        tw, th = base * math.sqrt(aspect), base / math.sqrt(aspect)
        shape = str(rng.choice(opts.shapes))
        texture = _texture(rng, int(math.ceil(math.hypot(tw, th))) + 2)
        mask = _shape_mask(rng, shape, texture.shape[0], tw, th)
        smax = 1.0 + opts.scale
        radius = 0.5 * math.hypot(tw, th) * smax
        scale = smax ** _smooth(rng, length)
        angle = opts.rotation * _smooth(rng, length)
        depth0 = rng.uniform(*opts.target_depth)
        slack = radius + 3.0 * opts.camera_jitter + 1.0
        centre = _trajectory(rng, length, frame, np.array([slack, slack]), opts.speed)
        hot = rng.uniform(*opts.target_heat)
        target = _Object("target", np.dstack([texture, mask]), _heat_patch(rng, texture.shape[0], hot, 18.0),
                         centre, scale, angle, depth0 / scale, np.ones(length, dtype=bool))
        objects = [target]
        for _ in range(opts.rgb_distractors):
            look = np.clip(texture.astype(np.float32) * rng.uniform(0.85, 1.15) + rng.uniform(-15, 15, 3), 0, 255)
            dscale = scale * rng.uniform(0.85, 1.15)
            path = _trajectory(rng, length, frame, np.array([slack, slack]), opts.speed)
            far = depth0 + rng.uniform(800.0, 2500.0)
            cold = rng.uniform(*opts.background_heat)
            objects.append(_Object("rgb_distractor", np.dstack([look.astype(np.uint8), mask]),
                                   _heat_patch(rng, texture.shape[0], cold, 6.0), path, dscale,
                                   opts.rotation * _smooth(rng, length), far / dscale,
                                   _window(rng, length)))
        for _ in range(opts.x_distractors):
            other = _texture(rng, texture.shape[0])
            other_mask = _shape_mask(rng, str(rng.choice(opts.shapes)), other.shape[0], tw * rng.uniform(0.8, 1.2),
                                     th * rng.uniform(0.8, 1.2))
            path = _trajectory(rng, length, frame, np.array([slack, slack]), opts.speed)
            objects.append(_Object("x_distractor", np.dstack([other, other_mask]),
                                   _heat_patch(rng, other.shape[0], rng.uniform(*opts.target_heat), 18.0), path,
                                   scale.copy(), opts.rotation * _smooth(rng, length), depth0 / scale,
                                   _window(rng, length)))
        count = int(rng.poisson(opts.occlusion_rate * length / 100.0))
        for index in range(count):
            middle = int(rng.integers(max(1, index * length // count), max(2, (index + 1) * length // count)))
            occluder = self._occluder(rng, opts, target, radius, tw, th, min(middle, length - 1))
            if occluder is not None:
                objects.append(occluder)
        return objects

    def _occluder(self, rng: np.random.Generator, opts: SyntheticOptions, target: _Object, radius: float,
                  tw: float, th: float, tm: int) -> _Object | None:
        """Foreground clutter moving in a straight line through the target's position at frame ``tm`` (the
        occlusions spread over the sequence); ``None`` when it would touch the target on frame 0 (kept clean
        for initialisation)."""
        length = len(target.centre)
        full = rng.random() < opts.full_occlusion
        if full:
            ow = oh = 2.3 * 0.5 * math.hypot(tw, th) * target.scale[tm]
            shape = "rectangle"
        else:
            ow, oh = tw * rng.uniform(0.4, 1.0), th * rng.uniform(0.4, 1.0)
            shape = str(rng.choice(opts.shapes))
        texture = _texture(rng, int(math.ceil(math.hypot(ow, oh))) + 2)
        mask = _shape_mask(rng, shape, texture.shape[0], ow, oh)
        heading = rng.uniform(0.0, 2.0 * math.pi)
        speed = opts.speed * rng.uniform(2.0, 4.0) + 2.0
        offset = np.zeros(2) if full else rng.uniform(-0.5, 0.5) * radius * np.array([-math.sin(heading),
                                                                                         math.cos(heading)])
        steps = np.arange(length, dtype=float)[:, None] - tm
        centre = target.centre[tm] + offset + speed * steps * np.array([math.cos(heading), math.sin(heading)])
        reach = radius + 0.5 * math.hypot(ow, oh) + 2.0
        if np.linalg.norm(centre[0] - target.centre[0]) < reach:
            return None
        near = target.depth[tm] - rng.uniform(300.0, 1000.0)
        return _Object("occluder", np.dstack([texture, mask]),
                       _heat_patch(rng, texture.shape[0], rng.uniform(*opts.background_heat), 6.0), centre,
                       np.ones(length), np.full(length, rng.uniform(-30.0, 30.0)), np.full(length, max(near, 300.0)),
                       np.ones(length, dtype=bool))

    def render(self, t: int, with_heat: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, int,
                                                       dict[str, np.ndarray]]:
        """Frame ``t``: clean RGB uint8, depth float32 mm, heat float32 (or None), the target's visible mask,
        its unoccluded area in pixels, and per kind of other object in view (:data:`OTHER_KINDS`) the box of
        the one nearest the target."""
        w, h, m = self.width, self.height, self.margin
        ox, oy = self.pan[t] + np.rint(self.jitter[t]).astype(int)
        ox, oy = int(np.clip(ox, -m, m)), int(np.clip(oy, -m, m))
        crop = np.s_[m + oy:m + oy + h, m + ox:m + ox + w]
        rgb = self.rgb[crop].astype(np.float32)
        depth = self.depth[crop].copy()
        heat = self.heat[crop].copy() if with_heat else None
        order = sorted((o for o in self.objects if o.shown[t]),
                       key=lambda o: (-o.depth[t], o.kind == "target"))
        target_mask = np.zeros((h, w), dtype=bool)
        cover = np.zeros((h, w), dtype=bool)
        drawn_target = False
        in_view: dict[str, np.ndarray] = {}
        nearest: dict[str, float] = {}
        target_centre = self.objects[0].centre[t]
        for obj in order:
            size = obj.patch.shape[0]
            matrix = cv2.getRotationMatrix2D((size / 2.0, size / 2.0), float(obj.angle[t]), float(obj.scale[t]))
            matrix[:, 2] += obj.centre[t] + self.jitter[t] - size / 2.0
            reach = 0.75 * size * obj.scale[t]
            cx, cy = obj.centre[t] + self.jitter[t]
            if cx < -reach or cy < -reach or cx > w + reach or cy > h + reach:
                continue
            warped = cv2.warpAffine(obj.patch, matrix, (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            alpha = warped[..., 3:].astype(np.float32) * (1.0 / 255.0)
            hard = warped[..., 3] > 127
            rgb += alpha * (warped[..., :3].astype(np.float32) - rgb)
            depth[hard] = obj.depth[t]
            if heat is not None:
                hwarp = cv2.warpAffine(obj.heat, matrix, (w, h), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                heat += alpha[..., 0] * (hwarp - heat)
            if obj.kind == "target":
                target_mask, drawn_target = hard, True
            elif drawn_target:
                cover |= hard
            if obj.kind in OTHER_KINDS and hard.any():
                distance = float(np.hypot(*(obj.centre[t] - target_centre)))
                if distance < nearest.get(obj.kind, math.inf):
                    in_view[obj.kind], nearest[obj.kind] = _extent(hard), distance
        visible = target_mask & ~cover
        return (np.clip(rgb + 0.5, 0, 255).astype(np.uint8), depth, heat, visible, int(target_mask.sum()), in_view)


def _extent(mask: np.ndarray) -> np.ndarray:
    """``x, y, w, h`` (float64, whole pixels) of the bounding box of a non-empty boolean mask's True pixels."""
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return np.array([xs[0], ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1], dtype=float)


def _smooth(rng: np.random.Generator, length: int) -> np.ndarray:
    """(length,) smooth signal in [-1, 1]: two sinusoids of random periods (0.5-2 sequence lengths) and phases."""
    t = np.arange(length, dtype=float)
    periods = rng.uniform(0.5, 2.0, 2) * max(length, 20)
    phases = rng.uniform(0.0, 2.0 * math.pi, 2)
    signal = 0.6 * np.sin(2 * math.pi * t / periods[0] + phases[0]) + 0.4 * np.sin(2 * math.pi * t / periods[1]
                                                                                  + phases[1])
    return np.clip(signal, -1.0, 1.0)


def _trajectory(rng: np.random.Generator, length: int, frame: np.ndarray, slack: np.ndarray,
                speed: float) -> np.ndarray:
    """(length, 2) positions in ``[slack, frame - slack]`` moving at about ``speed`` px/frame with a smoothly
    drifting heading and speed, reflected at the bounds."""
    lo = np.minimum(slack, frame / 2.0)
    hi = np.maximum(frame - slack, frame / 2.0)
    pos = rng.uniform(lo, hi)
    heading = rng.uniform(0.0, 2.0 * math.pi)
    current = speed * rng.uniform(0.5, 1.5)
    turns = rng.normal(0.0, 0.12, length)
    pushes = rng.normal(0.0, 0.1 * speed, length)
    out = np.empty((length, 2))
    for t in range(length):
        out[t] = pos
        heading += turns[t]
        current = float(np.clip(current + pushes[t], 0.0, 2.0 * speed))
        velocity = current * np.array([math.cos(heading), math.sin(heading)])
        pos = pos + velocity
        for axis in range(2):
            if hi[axis] - lo[axis] <= 0:
                pos[axis] = lo[axis]
            elif pos[axis] < lo[axis] or pos[axis] > hi[axis]:
                bound = lo[axis] if pos[axis] < lo[axis] else hi[axis]
                pos[axis] = float(np.clip(2 * bound - pos[axis], lo[axis], hi[axis]))
                velocity[axis] = -velocity[axis]
                heading = math.atan2(velocity[1], velocity[0])
    return out


def _noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """(height, width) float32 smooth noise in [0, 1] from a ``cells``-wide random grid, bicubically upsampled."""
    grid = rng.random((max(2, cells * height // max(width, 1)), cells)).astype(np.float32)
    return np.clip(cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _texture(rng: np.random.Generator, side: int, height: int | None = None, grain: float = 6.0) -> np.ndarray:
    """(height or side, side, 3) uint8 RGB random texture: two or three colours mixed by smooth noise,
    stripes, a checkerboard or blobs, with fine grain of standard deviation ``grain`` grey levels."""
    h, w = height or side, side
    colours = rng.uniform(0.0, 255.0, (3, 3)).astype(np.float32)
    kind = int(rng.integers(4))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:
        mix = _noise(rng, h, w, int(rng.integers(2, 7)))
    elif kind == 1:
        theta, period = rng.uniform(0.0, math.pi), rng.uniform(4.0, 16.0)
        mix = 0.5 + 0.5 * np.sin(2 * math.pi * (xs * math.cos(theta) + ys * math.sin(theta)) / period)
    elif kind == 2:
        cell = int(rng.integers(3, 12))
        mix = ((xs // cell + ys // cell) % 2).astype(np.float32)
    else:
        mix = (_noise(rng, h, w, int(rng.integers(3, 9))) > 0.5).astype(np.float32)
    image = colours[0] * (1.0 - mix[..., None]) + colours[1] * mix[..., None]
    shade = _noise(rng, h, w, int(rng.integers(2, 5)))[..., None]
    image += (colours[2] - image) * 0.35 * shade
    image += rng.normal(0.0, grain, (h, w, 1)).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _shape_mask(rng: np.random.Generator, shape: str, side: int, width: float, height: float) -> np.ndarray:
    """(side, side) uint8 antialiased mask (255 inside) of a ``width`` x ``height`` shape centred in the square."""
    mask = np.zeros((side, side), dtype=np.uint8)
    shift = 4
    centre = side / 2.0
    if shape == "ellipse":
        cv2.ellipse(mask, (round(centre * 16), round(centre * 16)), (round(width * 8), round(height * 8)), 0, 0, 360,
                    255, -1, cv2.LINE_AA, shift)
        return mask
    if shape == "rectangle":
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
    else:
        count = int(rng.integers(5, 9))
        angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, count))
        radii = rng.uniform(0.75, 1.0, count)
        corners = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    points = centre + corners * np.array([width / 2.0, height / 2.0])
    cv2.fillPoly(mask, [np.rint(points * 16).astype(np.int32)], 255, cv2.LINE_AA, shift)
    return mask


def _heat_patch(rng: np.random.Generator, side: int, level: float, spread: float) -> np.ndarray:
    """(side, side) float32 heat: ``level`` grey, hotter towards the centre, with smooth +-``spread`` variation."""
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    r = np.hypot(xs - side / 2.0, ys - side / 2.0) / (side / 2.0)
    return (level + spread * (0.5 - r) + spread * (_noise(rng, side, side, 3) - 0.5)).astype(np.float32)


def _background(rng: np.random.Generator, opts: SyntheticOptions, width: int,
                height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The background canvas: RGB uint8, depth float32 mm (a tilted ramp, far at the top, with clutter
    planes) and heat float32, with ``opts.clutter`` textured shapes painted far to near."""
    rgb = _texture(rng, width, height, grain=2.0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    near, far = sorted(rng.uniform(*opts.background_depth, 2))
    tilt = rng.uniform(-0.2, 0.2) * (far - near)
    depth = far + (near - far) * ys / height + tilt * (xs / width - 0.5)
    lo, hi = opts.background_heat
    heat = lo + (hi - lo) * (0.2 + 0.5 * _noise(rng, height, width, 4))
    side = min(width, height)
    clutter = []
    for _ in range(opts.clutter):
        cw, chh = rng.uniform(0.08, 0.4, 2) * side
        square = int(math.ceil(math.hypot(cw, chh))) + 2
        patch = _texture(rng, square)
        mask = _shape_mask(rng, str(rng.choice(opts.shapes)), square, cw, chh)
        x0, y0 = int(rng.integers(-square // 2, width - square // 2)), int(rng.integers(-square // 2,
                                                                                         height - square // 2))
        plane = rng.uniform(min(opts.target_depth[1] + 300.0, near), near)
        clutter.append((plane, x0, y0, patch, mask, rng.uniform(lo, hi)))
    for plane, x0, y0, patch, mask, warmth in sorted(clutter, key=lambda c: -c[0]):
        sy, sx = slice(max(y0, 0), min(y0 + patch.shape[0], height)), slice(max(x0, 0), min(x0 + patch.shape[1],
                                                                                            width))
        py, px = slice(sy.start - y0, sy.stop - y0), slice(sx.start - x0, sx.stop - x0)
        alpha = mask[py, px].astype(np.float32)[..., None] / 255.0
        region = rgb[sy, sx].astype(np.float32)
        rgb[sy, sx] = np.clip(region + alpha * (patch[py, px] - region) + 0.5, 0, 255).astype(np.uint8)
        depth[sy, sx][mask[py, px] > 127] = plane
        heat[sy, sx] += alpha[..., 0] * (warmth - heat[sy, sx])
    return rgb, depth.astype(np.float32), heat.astype(np.float32)


def _window(rng: np.random.Generator, length: int) -> np.ndarray:
    """(length,) bool: one stretch of 30-70 % of the sequence."""
    count = max(1, round(rng.uniform(0.3, 0.7) * length))
    start = int(rng.integers(0, max(1, length - count + 1)))
    shown = np.zeros(length, dtype=bool)
    shown[start:start + count] = True
    return shown


def _stretch(rng: np.random.Generator, length: int, probability: float, span: tuple[float, float]) -> np.ndarray:
    """(length,) float strength in [0, 1] of a degradation: with ``probability``, one stretch (never on
    frame 0) of ``span`` of the sequence, ramping up and down over its first and last two frames."""
    happens, fraction = rng.random() < probability, rng.uniform(*span)
    strength = np.zeros(length)
    if not happens or length < 2:
        return strength
    count = min(length - 1, max(2, round(fraction * length)))
    start = int(rng.integers(1, length - count + 1))
    steps = np.arange(count, dtype=float)
    strength[start:start + count] = np.minimum(1.0, np.minimum(steps + 1, count - steps) / 3.0)
    return strength


def _degrade(rng: np.random.Generator, clean: np.ndarray, opts: SyntheticOptions, dark: float, glare: float,
             centre: np.ndarray, radius: float) -> np.ndarray:
    """The RGB sensor's frame: ``clean`` darkened (gain down to 0.12, extra noise) by ``dark`` in [0, 1],
    washed out by a glare of strength ``glare`` around ``centre``, plus sensor noise."""
    image = clean.astype(np.float32)
    sigma = opts.rgb_noise
    h, w = clean.shape[:2]
    if dark > 0:
        image *= 1.0 - 0.88 * dark
        sigma += 5.0 * dark
    if glare > 0:
        ys, xs = np.ogrid[0:h, 0:w]
        bloom = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2.0 * radius ** 2)).astype(np.float32)
        image += glare * (255.0 * 1.6 * bloom[..., None] + 60.0)
    if sigma > 0:
        image += rng.normal(0.0, sigma, (h, w, 1)).astype(np.float32) + rng.normal(0.0, sigma * 0.5, (h, w, 3)
                                                                                   ).astype(np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _depth_frame(rng: np.random.Generator, depth: np.ndarray, opts: SyntheticOptions) -> np.ndarray:
    """uint16 mm: ``depth`` with noise growing with depth squared, thin holes at depth edges and clustered
    random holes (``opts.depth_holes`` of the pixels)."""
    h, w = depth.shape
    out = depth
    if opts.depth_noise > 0:
        out = depth + rng.normal(0.0, 1.0, depth.shape).astype(np.float32) * opts.depth_noise * (depth / 1000.0) ** 2
    holes = np.zeros((h, w), dtype=bool)
    holes[:, 1:] = np.abs(np.diff(depth, axis=1)) > 150.0
    if opts.depth_holes > 0:
        field = _noise(rng, h, w, max(2, w // 12)) + 0.25 * rng.random((h, w), dtype=np.float32)
        cut = np.partition(field.ravel(), int((1.0 - opts.depth_holes) * (field.size - 1)))[
            int((1.0 - opts.depth_holes) * (field.size - 1))]
        holes |= field > cut
    frame = np.clip(np.rint(out), 0, 65535).astype(np.uint16)
    frame[holes] = 0
    return frame


def _thermal_frame(rng: np.random.Generator, heat: np.ndarray, opts: SyntheticOptions) -> np.ndarray:
    """(H, W, 3) uint8 grey thermal frame: ``heat`` blurred like a low-resolution microbolometer, with noise."""
    blurred = cv2.GaussianBlur(heat, (0, 0), 1.2)
    grey = np.clip(blurred + rng.normal(0.0, 1.5, heat.shape).astype(np.float32) + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _events(rng: np.random.Generator, log: np.ndarray, previous: np.ndarray | None,
            opts: SyntheticOptions) -> np.ndarray:
    """(H, W, 3) uint8 RGB polarity frame from the log-brightness change since ``previous`` (none on frame 0)."""
    h, w = log.shape
    frame = np.full((h, w, 3), _EVENT_BACKGROUNDS[opts.event_background], dtype=np.uint8)
    if previous is None:
        return frame
    change = log - previous
    positive, negative = change > opts.event_threshold, change < -opts.event_threshold
    if opts.event_noise > 0:
        spurious = rng.random((h, w)) < opts.event_noise
        sign = rng.random((h, w)) < 0.5
        positive |= spurious & sign
        negative |= spurious & ~sign & ~positive
    frame[positive] = _RED
    frame[negative & ~positive] = _BLUE
    return frame


__all__ = ["ATTRIBUTES", "OTHER_KINDS", "X_FORMATS", "SyntheticOptions", "generate_sequence", "write_synthetic"]
