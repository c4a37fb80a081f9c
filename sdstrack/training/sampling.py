"""Training pairs as the original samples them: a template and a search crop from one sequence.

For sample ``index`` (deterministic: its random draws come from ``(seed, index)`` alone, so a run that
resumes, or splits its batch over processes, sees the same samples):

1. a source by weight, a sequence uniformly within it, a template frame uniformly among the frames with
   the target visible, and a search frame uniformly among the visible frames after it, less than
   ``max_gap`` frames later (the original's "causal" mode; a template frame with none is drawn again);
2. the template crop: the original tracker's square crop (``template_factor``, no jitter) around the
   ground-truth box, through the same :class:`sdstrack.preprocessing.FramePair` path as tracking (X
   rendered exactly as the tracker renders it);
3. the search crop around a jittered box: its size scaled by ``exp(scale_jitter * N(0, 1))`` per side,
   its centre moved by ``(U(0, 1) - 0.5) * center_jitter * sqrt(w' h')`` per axis (w', h' the jittered
   size), cropped with ``search_factor``; the target box in the crop follows from the crop's geometry
   as the original computes it (like the original, a target the jitter moves out of the crop is kept:
   the loss clamps its corners);
4. augmentations as the original's: a horizontal flip with probability 0.5 applied to the template and
   the search crop together; then, per crop, a brightness factor U(0.8, 1.2) on all six channels and
   another horizontal flip with probability 0.5. (The original also lists grayscale with probability
   0.05, but on its 6-channel images that transform raises and the sample is drawn again, so it never
   applies; ``grayscale_probability`` > 0 turns a real RGB-only grayscale on.)

Not in the original: with ``x_noise_probability`` > 0, the search frame's X image is, with that probability,
replaced by uniform noise before cropping (:func:`sdstrack.evaluation.protocols.corrupt_frame`, the
``corrupt="x", corruption="noise"`` sensor failure), so that the network learns to fall back on RGB when
the X sensor sends garbage it is not told about. Its draws come from a random stream of their own: every
other draw, and so every crop but that X image, is the same whatever the probability.

Not in the original either: with ``absent_probability`` > 0, a sample is, with that probability, a *target-absent*
pair: a source by weight, a sequence uniformly among its sequences that mark the target absent (fully hidden by
an occluder, out of view) on some frame after a visible one, such a frame uniformly as the search frame, and a
template frame uniformly among the visible frames before it, less than ``max_gap`` frames earlier. Its search
crop is taken around the jittered box of the last frame before it with the target visible, where a tracker
that had followed the target so far would look. Its target box is NaN: the loss then asks for a
score map that is zero everywhere (:func:`sdstrack.training.objective.tracking_loss`), so the network learns
that whatever hides the target, e.g. the occluder in its place, is not the target. Which samples are absent
comes from a random stream of its own; the samples that are not are the same whatever the probability.

Not in the original either: with ``zoom_out_probability`` > 0, a sample's jittered search box (step 3) is, with
that probability, also grown by a factor drawn log-uniformly in ``[1, zoom_out_max]`` (both sides alike, before
its centre is moved, so the target may still sit anywhere the original's jitter puts it): the target then shows
up to ``zoom_out_max`` times smaller in the crop than the original's jitter ever makes it (its per-side
``exp(0.25 N)`` changes the target's size in the crop by about 18 % for one standard deviation). That is the
crop a tracker takes after its box has grown onto a larger occluder while the target was hidden (on the demo
recipe the network learned to find the target in such crops, but kept no more of those tracks: the model card's
"Zoomed-out samples"). The zoom draws come from a random stream of their own: the other draws of every sample
are the same whatever the probability.

Not in the original either: with ``distractor_probability`` > 0, a sample is, with that probability, a
*distractor-centred* pair: a source by weight, a sequence uniformly among its sequences with other objects' boxes
(:attr:`sdstrack.datasets.Sequence.distractors`: an occluder, a look-alike, as synthetic sequences record them)
on a frame where the target is visible, such a frame uniformly as the search frame, one of the objects in view
there uniformly, and a template frame uniformly among the visible frames before it, less than ``max_gap`` frames
earlier. Its search crop is taken around that object's jittered box (step 3), where a tracker looks after its box
has moved onto the object: the target then lies elsewhere in the crop, where the network must find it rather than
the object in the centre, or out of the crop, where its box is NaN (the loss asks for a score map that is zero
everywhere, as for target-absent pairs); on the demo recipe a quarter of such samples did not keep more tracks
(the model card's "Crops centred on the occluder or a look-alike"). Which samples are distractor-centred comes
from a random stream of its own; the samples that are not are the same whatever the probability.

Boxes are top-left ``x, y, w, h`` in pixels in sequences; the training target is ``cx, cy, w, h`` as
fractions of the search crop, what the network predicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..config import SDSTrackConfig
from ..datasets import DatasetError, Sequence
from ..datasets._common import invalid_boxes
from ..evaluation.protocols import corrupt_frame
from ..preprocessing import FramePair, TargetCrop, normalise

MAX_DRAWS = 20
NOISE_STREAM = 1  # third seed word of the X-noise draws of a sample
ABSENT_STREAM = 2  # third seed word of the draw that makes a sample target-absent
ZOOM_STREAM = 3  # third seed word of the draws that zoom a sample's search crop out
DISTRACTOR_STREAM = 4  # third seed word of the draw that centres a sample's search crop on another object


@dataclass(frozen=True)
class SamplingOptions:
    """The original's sampling and augmentation settings (DESIGN.md section 9)."""

    max_gap: int = 200
    center_jitter: float = 3.0
    scale_jitter: float = 0.25
    grayscale_probability: float = 0.0
    flip_probability: float = 0.5
    brightness_jitter: float = 0.2
    x_noise_probability: float = 0.0
    absent_probability: float = 0.0
    zoom_out_probability: float = 0.0
    zoom_out_max: float = 3.0
    distractor_probability: float = 0.0

    def __post_init__(self) -> None:
        for name in ("grayscale_probability", "flip_probability", "x_noise_probability", "absent_probability",
                     "zoom_out_probability", "distractor_probability"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name}={value!r} must lie in [0, 1]")
        if not isinstance(self.zoom_out_max, (int, float)) or not 1 <= self.zoom_out_max < math.inf:
            raise ValueError(f"zoom_out_max={self.zoom_out_max!r} must be a finite factor of at least 1 "
                             "(1 = no zoom)")


@dataclass
class TrainingBatch:
    """Network inputs and targets of a batch.

    Attributes:
        template, search: (B, 6, size, size) float32 normalised crops (RGB channels 0-2, X 3-5).
        boxes: (B, 4) float32 target ``cx, cy, w, h`` as fractions of the search crop; NaN rows for
            target-absent samples.
    """

    template: torch.Tensor
    search: torch.Tensor
    boxes: torch.Tensor


class PairSampler:
    """Deterministic template/search pairs from weighted lists of :class:`Sequence`.

    Args:
        sources: ``[(sequences, weight), ...]``: e.g. a benchmark's training split and a synthetic set.
        config: the model's configuration (crop factors, sizes, normalisation).
        options: sampling and augmentation settings.
        seed: with the sample index, the only source of randomness.
    """

    def __init__(self, sources: list[tuple[list[Sequence], float]], config: SDSTrackConfig,
                 options: SamplingOptions | None = None, seed: int = 0) -> None:
        self.config, self.options, self.seed = config, options or SamplingOptions(), seed
        self.sources: list[tuple[list[Sequence], list[np.ndarray]]] = []
        # per source: its sequences with an absent frame after a visible one, those frames, their visible frames
        self.absent_sources: list[tuple[list[Sequence], list[np.ndarray], list[np.ndarray]]] = []
        # per source: its sequences with another object's box on a visible frame, those frames, their visible frames
        self.distractor_sources: list[tuple[list[Sequence], list[np.ndarray], list[np.ndarray]]] = []
        weights, absent_weights, distractor_weights = [], [], []
        for sequences, weight in sources:
            if not sequences:
                raise DatasetError("a training source holds no sequences; check its root and sequence list")
            if not weight > 0:
                raise ValueError(f"source weights must be positive, got {weight}")
            formats = {s.x_format for s in sequences}
            if formats != {config.modality}:
                raise DatasetError(f"the model is a {config.modality} model but a source's X frames are "
                                   f"{', '.join(sorted(formats))}")
            visible = []
            for sequence in sequences:
                frames = np.flatnonzero(~sequence.absent)
                if frames.size == 0:
                    raise DatasetError(f"sequence {sequence.name} has no frame with a valid target box: remove it "
                                       "from the training data or fix its ground truth")
                visible.append(frames)
            self.sources.append((sequences, visible))
            weights.append(weight)
            hidden = _frames_after_the_first_visible(sequences, visible, lambda s: s.absent)
            if hidden:
                self.absent_sources.append(hidden)
                absent_weights.append(weight)
            crowded = _frames_after_the_first_visible(sequences, visible, lambda s: ~s.absent & _others_in_view(s))
            if crowded:
                self.distractor_sources.append(crowded)
                distractor_weights.append(weight)
        self.weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)
        if self.options.absent_probability > 0 and not self.absent_sources:
            raise DatasetError(f"absent_probability={self.options.absent_probability} asks for target-absent "
                               "samples, but no training sequence marks the target absent after a frame where "
                               "it is visible: set absent_probability to 0 or add such sequences")
        self.absent_weights = np.asarray(absent_weights, dtype=np.float64) / np.sum(absent_weights)  # [] when none
        if self.options.distractor_probability > 0 and not self.distractor_sources:
            raise DatasetError(f"distractor_probability={self.options.distractor_probability} asks for search crops "
                               "centred on other objects, but no training sequence has other objects' boxes "
                               "(Sequence.distractors, the KIND.box files that sdstrack's synthetic sequences "
                               "hold) on a frame with the target visible: set distractor_probability to 0, or "
                               "write the synthetic sequences again with this version of sdstrack")
        self.distractor_weights = np.asarray(distractor_weights, dtype=np.float64) / np.sum(distractor_weights)

    def sample(self, index: int) -> tuple[TargetCrop, TargetCrop, np.ndarray]:
        """Sample ``index``: the template crop, the search crop (uint8, augmented) and the target box."""
        rng = np.random.default_rng([self.seed, index])
        cfg, opt = self.config, self.options
        noise = None  # the noise generator when this sample's X is noise: a random stream of its own, so the
        if opt.x_noise_probability > 0:  # other draws do not depend on x_noise_probability
            stream = np.random.default_rng([self.seed, index, NOISE_STREAM])
            noise = stream if stream.random() < opt.x_noise_probability else None
        if opt.absent_probability > 0 and np.random.default_rng([self.seed, index, ABSENT_STREAM]).random() < \
                opt.absent_probability:
            return self._absent_sample(rng, noise)
        if opt.distractor_probability > 0 and np.random.default_rng(
                [self.seed, index, DISTRACTOR_STREAM]).random() < opt.distractor_probability:
            return self._distractor_sample(rng, noise)
        zoom = 1.0
        if opt.zoom_out_probability > 0:  # a stream of its own, as the noise draws
            stream = np.random.default_rng([self.seed, index, ZOOM_STREAM])
            if stream.random() < opt.zoom_out_probability:
                zoom = math.exp(stream.uniform(0.0, math.log(opt.zoom_out_max)))
        for _ in range(MAX_DRAWS):
            sequences, visible = self.sources[rng.choice(len(self.sources), p=self.weights)]
            which = int(rng.integers(len(sequences)))
            sequence, frames = sequences[which], visible[which]
            template_index = int(frames[rng.integers(frames.size)])
            later = frames[(frames > template_index) & (frames < template_index + opt.max_gap)]
            if later.size == 0:
                continue
            search_index = int(later[rng.integers(later.size)])
            search_box = sequence.groundtruth[search_index]
            jittered = _jitter(search_box, rng, opt, zoom)
            if jittered is None:
                continue
            template, search = self._crop_pair(sequence, template_index, search_index, jittered, noise)
            target = _box_in_crop(search_box, jittered, search.resize_factor, cfg.search_size)
            return _augment(template, search, target, rng, opt)
        raise DatasetError(f"sample {index}: no template frame with a visible search frame after it in {MAX_DRAWS} "
                           "draws: the sequences need at least two frames with the target visible")

    def _search_and_template(self, rng: np.random.Generator,
                             sources: list[tuple[list[Sequence], list[np.ndarray], list[np.ndarray]]],
                             weights: np.ndarray) -> tuple[Sequence, int, int, int] | None:
        """A source by weight, a sequence and one of its listed frames uniformly as the search frame, a template
        frame uniformly among the visible frames before it, less than ``max_gap`` earlier: ``(sequence,
        search_index, template_index, last visible frame before the search frame)``; None when there is none
        that near."""
        sequences, frames, visible = sources[rng.choice(len(sources), p=weights)]
        which = int(rng.integers(len(sequences)))
        sequence, search_index = sequences[which], int(frames[which][rng.integers(frames[which].size)])
        before = visible[which][visible[which] < search_index]  # never empty: listed frames follow a visible one
        earlier = before[before > search_index - self.options.max_gap]
        if earlier.size == 0:
            return None
        return sequence, search_index, int(earlier[rng.integers(earlier.size)]), int(before[-1])

    def _crop_pair(self, sequence: Sequence, template_index: int, search_index: int, search_box: np.ndarray,
                   noise: np.random.Generator | None) -> tuple[TargetCrop, TargetCrop]:
        """The template crop around the template frame's ground truth and the search crop around ``search_box``
        (jittered by the caller; its X image replaced by noise when ``noise`` is given)."""
        cfg = self.config
        template = _crop(sequence, template_index, sequence.groundtruth[template_index], cfg.template_factor,
                         cfg.template_size, cfg)
        return template, _crop(sequence, search_index, search_box, cfg.search_factor, cfg.search_size, cfg, noise)

    def _absent_sample(self, rng: np.random.Generator, noise: np.random.Generator | None
                       ) -> tuple[TargetCrop, TargetCrop, np.ndarray]:
        """A target-absent pair (module docstring): its target box is NaN."""
        opt = self.options
        for _ in range(MAX_DRAWS):
            drawn = self._search_and_template(rng, self.absent_sources, self.absent_weights)
            if drawn is None:
                continue
            sequence, search_index, template_index, last_visible = drawn
            jittered = _jitter(sequence.groundtruth[last_visible], rng, opt)
            if jittered is None:
                continue
            template, search = self._crop_pair(sequence, template_index, search_index, jittered, noise)
            return _augment(template, search, np.full(4, np.nan), rng, opt)
        raise DatasetError(f"no target-absent pair in {MAX_DRAWS} draws: the frames where the target is absent "
                           f"lie more than max_gap={opt.max_gap} frames after every visible one")

    def _distractor_sample(self, rng: np.random.Generator, noise: np.random.Generator | None
                           ) -> tuple[TargetCrop, TargetCrop, np.ndarray]:
        """A pair whose search crop is centred on another object (module docstring); NaN box when the target's
        centre lies outside the crop."""
        cfg, opt = self.config, self.options
        for _ in range(MAX_DRAWS):
            drawn = self._search_and_template(rng, self.distractor_sources, self.distractor_weights)
            if drawn is None:
                continue
            sequence, search_index, template_index, _ = drawn
            boxes = np.stack([kind_boxes[search_index] for _, kind_boxes in sorted(sequence.distractors.items())])
            in_view = boxes[~invalid_boxes(boxes)]
            jittered = _jitter(in_view[int(rng.integers(len(in_view)))], rng, opt)
            if jittered is None:
                continue
            template, search = self._crop_pair(sequence, template_index, search_index, jittered, noise)
            target = _box_in_crop(sequence.groundtruth[search_index], jittered, search.resize_factor, cfg.search_size)
            if not np.all((target[:2] >= 0) & (target[:2] <= 1)):
                target = np.full(4, np.nan)
            return _augment(template, search, target, rng, opt)
        raise DatasetError(f"no distractor-centred pair in {MAX_DRAWS} draws: the frames with another object in view "
                           f"lie more than max_gap={opt.max_gap} frames after every visible one")

    def batch(self, indices: list[int] | range, device: torch.device | str = "cpu") -> TrainingBatch:
        """The samples ``indices`` stacked into network inputs on ``device``."""
        samples = [self.sample(i) for i in indices]
        template = torch.from_numpy(normalise([s[0] for s in samples], self.config))
        search = torch.from_numpy(normalise([s[1] for s in samples], self.config))
        boxes = torch.from_numpy(np.stack([s[2] for s in samples]).astype(np.float32))
        return TrainingBatch(template.to(device), search.to(device), boxes.to(device))


def _crop(sequence: Sequence, index: int, box: np.ndarray, factor: float, size: int,
          config: SDSTrackConfig, noise: np.random.Generator | None = None) -> TargetCrop:
    """The crop of frame ``index``; with ``noise``, its X image replaced by uniform noise drawn from it."""
    rgb, x = sequence.frame(index)
    if noise is not None:
        x = corrupt_frame(x, "noise", noise)
    return FramePair(rgb, x, sequence.x_format, bgr=True).crop(tuple(box), factor, size, config.patch_size, 0.0)


def _frames_after_the_first_visible(sequences: list[Sequence], visible: list[np.ndarray], wanted
                                    ) -> tuple[list[Sequence], list[np.ndarray], list[np.ndarray]] | None:
    """``(sequences, frames, visible frames)`` of the sequences with frames where ``wanted(sequence)`` (an (N,)
    bool) holds after their first visible frame, and those frames; None when no sequence has any."""
    rows = [(s, np.flatnonzero(wanted(s) & (np.arange(len(s)) > frames[0])), frames)
            for s, frames in zip(sequences, visible)]
    rows = [row for row in rows if row[1].size]
    return tuple(list(column) for column in zip(*rows)) if rows else None


def _others_in_view(sequence: Sequence) -> np.ndarray:
    """(N,) bool: frames where the box of at least one other object is given."""
    in_view = np.zeros(len(sequence), dtype=bool)
    for boxes in sequence.distractors.values():
        in_view |= ~invalid_boxes(boxes)
    return in_view


def _jitter(box: np.ndarray, rng: np.random.Generator, options: SamplingOptions,
            zoom: float = 1.0) -> np.ndarray | None:
    """The original's jittered search box (x, y, w, h), its size times ``zoom``; None for a degenerate draw."""
    size = box[2:] * np.exp(rng.standard_normal(2) * options.scale_jitter) * zoom
    offset = math.sqrt(size[0] * size[1]) * options.center_jitter
    centre = box[:2] + 0.5 * box[2:] + offset * (rng.random(2) - 0.5)
    if not np.all(np.isfinite(size)) or np.any(size <= 0):
        return None
    return np.concatenate([centre - 0.5 * size, size])


def _box_in_crop(box: np.ndarray, crop_box: np.ndarray, resize_factor: float, size: int) -> np.ndarray:
    """``box`` (x, y, w, h pixels) in the crop taken around ``crop_box``, as ``cx, cy, w, h`` fractions:
    the original maps it relative to ``crop_box``'s exact centre (the crop's rounding is ignored)."""
    centre = size / 2 + (box[:2] + 0.5 * box[2:] - (crop_box[:2] + 0.5 * crop_box[2:])) * resize_factor
    return np.concatenate([centre, box[2:] * resize_factor]) / size


def _augment(template: TargetCrop, search: TargetCrop, target: np.ndarray, rng: np.random.Generator,
             options: SamplingOptions) -> tuple[TargetCrop, TargetCrop, np.ndarray]:
    gray = rng.random() < options.grayscale_probability
    joint_flip = rng.random() < options.flip_probability
    target = target.copy()
    crops = []
    for crop, is_search in ((template, False), (search, True)):
        rgb, x = crop.rgb, crop.x
        if gray:
            luminance = np.rint(rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
            rgb = np.repeat(luminance[..., None], 3, axis=2)
        flip = joint_flip != (rng.random() < options.flip_probability)
        brightness = rng.uniform(1 - options.brightness_jitter, 1 + options.brightness_jitter)
        rgb, x = (np.clip(np.rint(image * brightness), 0, 255).astype(np.uint8) for image in (rgb, x))
        if flip:
            rgb, x = np.ascontiguousarray(rgb[:, ::-1]), np.ascontiguousarray(x[:, ::-1])
            if is_search:
                target[0] = 1.0 - target[0]
        crops.append(TargetCrop(rgb, x, crop.resize_factor, None, None))
    return crops[0], crops[1], target
