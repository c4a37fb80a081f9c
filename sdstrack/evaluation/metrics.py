"""The published single-object tracking metrics, computed as each benchmark's own toolkit computes them.

Boxes are ``(N, 4)`` float arrays of top-left ``x, y`` and width, height ``w, h`` in pixels, one row per frame.
A prediction row holding a NaN is a frame where the tracker reported nothing; unless a toolkit rule below says
otherwise it is a miss (IoU 0, infinite centre error). Centres follow the toolkits' 1-based pixel convention
``x + (w - 1) / 2`` (offsets between centres equal those of ``x + w / 2``).

Sources, each followed to the comparison operator:

* OTB / GOT-10k style (VisEvent, folders, and the OTB figures of DepthTrack / VOT-RGBD): the ``got10k`` toolkit,
  PyPI 0.1.3 — ``got10k/utils/metrics.py`` (``rect_iou``, ``center_error``) and
  ``got10k/experiments/otb.py`` (``report``, ``_calc_curves``). Success ``S(t) = mean(IoU > t)`` over
  ``t = linspace(0, 1, 21)``, AUC = mean of the curve; precision ``P(t) = mean(error <= t)`` over
  ``t = 0, 1, ..., 50`` px, score ``P(20)``; the first frame's prediction is replaced by the ground truth; a
  dataset's curves are the mean of the per-sequence curves and its scores are read off the mean curves.
  Normalised precision is not in 0.1.3: its per-frame error (centre offsets divided by ``max(1, w)``,
  ``max(1, h)`` of the ground truth) and curve (``mean(error <= t)``, ``t = linspace(0, 0.5, 51)``) come from
  the got-10k/toolkit GitHub master (``utils/metrics.py`` ``normalized_center_error``, ``experiments/lasot.py``);
  the score is the curve at 0.2 (as DESIGN.md section 6, LasHeR's NPR and pytracking report it; the GitHub
  LaSOT report instead averages the curve).
* LasHeR PR / SR / NPR and RGBT234 MPR / MSR: the ``rgbt`` package 1.0.1 (``rgbt/metrics/metrics.py`` classes
  ``PR_LasHeR``, ``SR_LasHeR``, ``NPR``, ``MPR``, ``MSR``; ``rgbt/utils.py`` ``CLE``, ``normalize_CLE``,
  ``IoU``), a port of the benchmarks' MATLAB toolkits. Its file loader rounds results to whole pixels and
  reads ground truth in single precision; the functions here take the boxes as given, in double precision.
* DepthTrack / VOT-RGBD Pr / Re / F: vot-toolkit 0.9.0, the analyses the ``vot2020/rgbd`` and ``vot2021/rgbd``
  stacks run (``vot/analysis/longterm.py``: ``determine_thresholds``, ``compute_tpr_curves``,
  ``PrecisionRecallCurve``, ``FScoreCurve``, ``PrecisionRecall``; ``vot/region/raster.py``:
  ``calculate_overlap``).

Every ``*_scores`` function returns ``{"overall": {metric: float}, "per_sequence": {name: {metric: float}},
"curves": {...}}``; :func:`score_benchmark` adds ``"per_attribute"``. Everything is JSON-serialisable
(``json.dumps(..., allow_nan=False)`` accepts it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from sdstrack.datasets.sequence import Sequence

#: IoU thresholds of success curves (OTB, LasHeR SR, RGBT234 MSR); the AUC is the curve's mean.
SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)
#: Centre-error thresholds of precision curves, in pixels; the score is read at 20 px.
PRECISION_THRESHOLDS = np.linspace(0, 50, 51)
#: Normalised centre-error thresholds (fractions of the ground-truth size); the score is read at 0.2.
NORMALISED_PRECISION_THRESHOLDS = np.linspace(0, 0.5, 51)
#: Index of 20 px in :data:`PRECISION_THRESHOLDS` and of 0.2 in :data:`NORMALISED_PRECISION_THRESHOLDS`.
SCORE_INDEX = 20
#: Most confidence thresholds the VOT toolkit uses (its ``resolution``, the two infinite ends included).
VOT_RESOLUTION = 100
#: The benchmarks :func:`score_benchmark` knows.
BENCHMARKS = ("depthtrack", "vot-rgbd", "lasher", "rgbt234", "visevent", "folder")

_EPS = np.finfo(float).eps  # got10k's rect_iou adds it to the union
_RGBT_EPS = 1e-8  # rgbt's normalize_CLE adds it to the ground-truth width and height


# Per-frame measures ---------------------------------------------------------------------------------------------
def _boxes(boxes: ArrayLike, what: str) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{what}: expected an (N, 4) array of x, y, w, h boxes in pixels, got shape {array.shape}")
    return array


def _pair(pred: ArrayLike, gt: ArrayLike, what: str = "boxes") -> tuple[np.ndarray, np.ndarray]:
    pred, gt = _boxes(pred, f"{what} (prediction)"), _boxes(gt, f"{what} (ground truth)")
    if len(pred) != len(gt):
        raise ValueError(f"{what}: {len(pred)} predicted boxes for {len(gt)} ground-truth boxes")
    return pred, gt


def _centres(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, :2] + (boxes[:, 2:] - 1) / 2


def _centre_distance(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean centre distance in pixels; NaN where a box has a NaN."""
    return np.sqrt(np.sum(np.power(_centres(pred) - _centres(gt), 2), axis=-1))


def _nan_to_inf(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), np.inf, values)


def iou(pred: ArrayLike, gt: ArrayLike) -> np.ndarray:
    """(N,) intersection over union of (N, 4) ``x, y, w, h`` boxes in pixels, as got10k's ``rect_iou``.

    Continuous boxes ``[x, x + w) x [y, y + h)``; ``IoU = inter / (union + eps)`` with ``eps`` the float64
    machine epsilon, clipped to ``[0, 1]``. A NaN in either box (a frame without prediction) gives 0.
    """
    pred, gt = _pair(pred, gt)
    width = np.maximum(np.minimum(pred[:, 0] + pred[:, 2], gt[:, 0] + gt[:, 2]) - np.maximum(pred[:, 0], gt[:, 0]), 0)
    height = np.maximum(np.minimum(pred[:, 1] + pred[:, 3], gt[:, 1] + gt[:, 3]) - np.maximum(pred[:, 1], gt[:, 1]), 0)
    inter = width * height
    union = pred[:, 2] * pred[:, 3] + gt[:, 2] * gt[:, 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        overlap = np.clip(inter / (union + _EPS), 0.0, 1.0)
    return np.where(np.isnan(overlap), 0.0, overlap)


def centre_error(pred: ArrayLike, gt: ArrayLike) -> np.ndarray:
    """(N,) distance in pixels between the centres ``x + (w - 1) / 2, y + (h - 1) / 2`` of (N, 4) boxes, as
    got10k's ``center_error``; infinite where a box has a NaN."""
    pred, gt = _pair(pred, gt)
    return _nan_to_inf(_centre_distance(pred, gt))


def normalised_centre_error(pred: ArrayLike, gt: ArrayLike) -> np.ndarray:
    """(N,) centre distance with the x and y offsets divided by the ground truth's ``max(1, w)`` and
    ``max(1, h)`` (unitless), as got-10k/toolkit's ``normalized_center_error``; infinite where a box has a NaN."""
    pred, gt = _pair(pred, gt)
    offsets = (_centres(pred) - _centres(gt)) / np.maximum(1.0, gt[:, 2:])
    return _nan_to_inf(np.sqrt(np.sum(np.power(offsets, 2), axis=-1)))


def _rgbt_iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """rgbt's ``IoU``, same arithmetic: boxes as inclusive pixel spans ``[x, x + w - 1]``, no epsilon; NaN
    where a box has a NaN or the union is 0 (both count as misses)."""
    right = np.minimum(gt[:, 2] + gt[:, 0] - 1, pred[:, 2] + pred[:, 0] - 1)
    bottom = np.minimum(gt[:, 3] + gt[:, 1] - 1, pred[:, 3] + pred[:, 1] - 1)
    width = np.maximum(0, right - np.maximum(gt[:, 0], pred[:, 0]) + 1)
    height = np.maximum(0, bottom - np.maximum(gt[:, 1], pred[:, 1]) + 1)
    inter = width * height
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (pred[:, 3] * pred[:, 2] + gt[:, 3] * gt[:, 2] - inter)


def _rgbt_normalised_distance(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """rgbt's ``normalize_CLE``: both centres divided by the ground truth's ``w + 1e-8``, ``h + 1e-8``."""
    scale = gt[:, 2:] + _RGBT_EPS
    return np.sqrt(np.sum(np.power(_centres(pred) / scale - _centres(gt) / scale, 2), axis=-1))


def _rate(values: np.ndarray, thresholds: np.ndarray,
          hit: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Fraction of frames whose value is a hit at each threshold (NaN never is)."""
    return np.mean(hit(values[:, None], thresholds[None, :]), axis=0)


def _curve(thresholds: np.ndarray, values: np.ndarray, summary: float) -> dict[str, Any]:
    """A curve for plots: its thresholds, values and the score read off it."""
    return {"thresholds": [float(t) for t in thresholds], "values": [float(v) for v in values], "summary": summary}


def _report(states: Mapping[str, Any], summarise: Callable[[list[Any]], tuple[dict, dict] | None]) -> dict:
    """``overall``, ``per_sequence`` and ``curves`` of one family of metrics from per-sequence states.

    ``summarise`` aggregates a list of states as the toolkit aggregates a dataset and returns ``(figures,
    curves)``, or None where the figures are undefined; a sequence's figures are its summary alone.
    """
    summary = summarise(list(states.values()))
    if summary is None:
        raise ValueError("no sequence has a frame these metrics can score")
    per_sequence = {}
    for name, state in states.items():
        alone = summarise([state])
        per_sequence[name] = alone[0] if alone is not None else {}
    return {"overall": summary[0], "per_sequence": per_sequence, "curves": summary[1]}


# OTB / GOT-10k --------------------------------------------------------------------------------------------------
_OtbState = tuple[np.ndarray, np.ndarray, np.ndarray] | None


def _otb_state(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None) -> _OtbState:
    if not len(gt):
        return None
    pred = pred.copy()
    pred[0] = gt[0]
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (len(gt),):
            raise ValueError(f"valid: expected ({len(gt)},) bools, got shape {valid.shape}")
        pred, gt = pred[valid], gt[valid]
    if not len(gt):
        return None
    return (_rate(iou(pred, gt), SUCCESS_THRESHOLDS, np.greater),
            _rate(centre_error(pred, gt), PRECISION_THRESHOLDS, np.less_equal),
            _rate(normalised_centre_error(pred, gt), NORMALISED_PRECISION_THRESHOLDS, np.less_equal))


def _otb_summary(states: list[_OtbState]) -> tuple[dict, dict] | None:
    scored = [s for s in states if s is not None]
    if not scored:
        return None
    success, precision, normalised = (np.mean([s[i] for s in scored], axis=0) for i in range(3))
    figures = {"success_auc": float(np.mean(success)), "precision": float(precision[SCORE_INDEX]),
               "normalised_precision": float(normalised[SCORE_INDEX])}
    curves = {"success": _curve(SUCCESS_THRESHOLDS, success, figures["success_auc"]),
              "precision": _curve(PRECISION_THRESHOLDS, precision, figures["precision"]),
              "normalised_precision": _curve(NORMALISED_PRECISION_THRESHOLDS, normalised,
                                             figures["normalised_precision"])}
    return figures, curves


def otb_sequence_scores(pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None) -> dict:
    """OTB success AUC, precision at 20 px and normalised precision at 0.2 of one sequence, as got10k does.

    Args:
        pred, gt: (N, 4) ``x, y, w, h`` boxes in pixels; ``pred[0]`` is replaced by ``gt[0]`` (the
            initialisation), NaN predictions are misses.
        valid: optional (N,) bools; frames where it is False are left out after that replacement, as got10k's
            LaSOT experiment leaves out frames with a NaN ground truth. None keeps every frame (got10k's OTB
            experiment: a NaN ground truth is then a miss).

    Returns:
        ``success_auc`` (mean of the success curve), ``precision`` (curve at 20 px), ``normalised_precision``
        (curve at 0.2) as floats in [0, 1], and the curves ``success_curve``, ``precision_curve``,
        ``normalised_precision_curve`` as arrays over :data:`SUCCESS_THRESHOLDS`,
        :data:`PRECISION_THRESHOLDS`, :data:`NORMALISED_PRECISION_THRESHOLDS`.
    """
    pred, gt = _pair(pred, gt)
    state = _otb_state(pred, gt, None if valid is None else np.asarray(valid))
    if state is None:
        raise ValueError("otb_sequence_scores: no frame to score (every frame is invalid)")
    figures = _otb_summary([state])[0]
    return {**figures, "success_curve": state[0], "precision_curve": state[1], "normalised_precision_curve": state[2]}


def _sequence_boxes(predictions: Mapping[str, ArrayLike], name: str, gt: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    if name not in predictions:
        raise ValueError(f"no prediction for sequence {name}")
    pred, gt = _pair(predictions[name], gt, f"sequence {name}")
    if not len(gt):
        raise ValueError(f"sequence {name} has no frame")
    return pred, gt


def otb_scores(predictions: Mapping[str, ArrayLike], groundtruths: Mapping[str, ArrayLike],
               valid: Mapping[str, ArrayLike] | None = None) -> dict:
    """OTB success / precision / normalised precision of a dataset, aggregated as got10k's ``report``.

    Each sequence (the keys of ``groundtruths``) is scored as :func:`otb_sequence_scores` does (``valid``
    optionally gives its (N,) frame mask); the dataset's curves are the means of the per-sequence curves and
    ``success_auc`` = mean of the mean success curve, ``precision`` = mean precision curve at 20 px,
    ``normalised_precision`` = mean normalised curve at 0.2. A sequence without a valid frame is left out
    (its ``per_sequence`` entry is empty).

    Returns:
        ``{"overall": {"success_auc", "precision", "normalised_precision"}, "per_sequence": {name: {...}},
        "curves": {"success" | "precision" | "normalised_precision": {"thresholds": [...], "values": [...],
        "summary": float}}}``.
    """
    states = {}
    for name, gt in groundtruths.items():
        pred, gt = _sequence_boxes(predictions, name, gt)
        states[name] = _otb_state(pred, gt, None if valid is None else np.asarray(valid[name]))
    return _report(states, _otb_summary)


# LasHeR ---------------------------------------------------------------------------------------------------------
def _lasher_state(pred: np.ndarray, gt: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not len(gt):
        raise ValueError(f"sequence {name} has no frame")
    if len(pred) < len(gt):
        raise ValueError(f"sequence {name}: {len(pred)} predicted boxes for {len(gt)} ground-truth boxes")
    pred = pred[: len(gt)].copy()
    pred[0] = gt[0]
    # a box with a non-positive side repeats the previous frame's (already repaired) box
    degenerate = (pred[:, 2] <= 0) | (pred[:, 3] <= 0)
    degenerate[0] = False
    pred = pred[np.maximum.accumulate(np.where(degenerate, 0, np.arange(len(pred))))]
    # a ground truth with any non-positive number (x, y, w or h) or a NaN: -1, a hit for PR / NPR, a miss for SR
    unscored = np.any(gt <= 0, axis=1) | np.isnan(gt).any(axis=1)
    distance, overlap, normalised = (np.where(unscored, -1.0, values) for values in (
        _centre_distance(pred, gt), _rgbt_iou(pred, gt), _rgbt_normalised_distance(pred, gt)))
    return (_rate(distance, PRECISION_THRESHOLDS, np.less_equal), _rate(overlap, SUCCESS_THRESHOLDS, np.greater),
            _rate(normalised, NORMALISED_PRECISION_THRESHOLDS, np.less_equal))


def _lasher_summary(states: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[dict, dict]:
    precision, success, normalised = (np.mean([s[i] for s in states], axis=0) for i in range(3))
    figures = {"PR": float(precision[SCORE_INDEX]), "SR": float(np.mean(success)),
               "NPR": float(normalised[SCORE_INDEX])}
    curves = {"success": _curve(SUCCESS_THRESHOLDS, success, figures["SR"]),
              "precision": _curve(PRECISION_THRESHOLDS, precision, figures["PR"]),
              "normalised_precision": _curve(NORMALISED_PRECISION_THRESHOLDS, normalised, figures["NPR"])}
    return figures, curves


def lasher_scores(predictions: Mapping[str, ArrayLike], groundtruths: Mapping[str, ArrayLike]) -> dict:
    """LasHeR precision rate PR, success rate SR and normalised precision rate NPR, as the ``rgbt`` package's
    ``PR_LasHeR``, ``SR_LasHeR`` and ``NPR`` compute them.

    Per sequence (the keys of ``groundtruths``; (N, 4) ``x, y, w, h`` pixel boxes): predictions beyond the
    ground truth's length are cut off; the first prediction is replaced by the ground truth; from the second
    frame on, a predicted box with ``w <= 0`` or ``h <= 0`` is replaced by the previous frame's (repaired) box.
    Centres are ``x + (w - 1) / 2``; IoU counts inclusive pixel spans ``[x, x + w - 1]`` (equal to the
    continuous IoU) with no epsilon; the normalised error divides both centres by the ground truth's
    ``w + 1e-8``, ``h + 1e-8``. A frame whose ground truth has any number ``<= 0`` — x or y as well as w or h,
    as the toolkit tests the whole row — or a NaN (read as the toolkit's 0,0,0,0 placeholder) scores -1: a hit
    for PR and NPR (``error <= t``), a miss for SR (``IoU > t``). A NaN prediction is a miss. Curves:
    PR over 0..50 px, SR over ``linspace(0, 1, 21)``, NPR over ``linspace(0, 0.5, 51)``; they are averaged over
    sequences, PR = mean curve at 20 px, SR = mean of the mean curve, NPR = mean curve at 0.2.

    Returns:
        ``{"overall": {"PR", "SR", "NPR"}, "per_sequence": {name: {...}}, "curves": {"success", "precision",
        "normalised_precision"}}``, floats in [0, 1].
    """
    states = {}
    for name, gt in groundtruths.items():
        if name not in predictions:
            raise ValueError(f"no prediction for sequence {name}")
        states[name] = _lasher_state(_boxes(predictions[name], f"sequence {name} (prediction)"),
                                     _boxes(gt, f"sequence {name} (ground truth)"), name)
    return _report(states, _lasher_summary)


# RGBT234 --------------------------------------------------------------------------------------------------------
def _rgbt234_state(pred: np.ndarray, visible: np.ndarray, infrared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distance = np.minimum(_centre_distance(pred, visible), _centre_distance(pred, infrared))
    overlap = np.maximum(_rgbt_iou(pred, visible), _rgbt_iou(pred, infrared))
    return _rate(distance, PRECISION_THRESHOLDS, np.less_equal), _rate(overlap, SUCCESS_THRESHOLDS, np.greater)


def _rgbt234_summary(states: list[tuple[np.ndarray, np.ndarray]]) -> tuple[dict, dict]:
    precision, success = (np.mean([s[i] for s in states], axis=0) for i in range(2))
    figures = {"MPR": float(precision[SCORE_INDEX]), "MSR": float(np.mean(success))}
    curves = {"success": _curve(SUCCESS_THRESHOLDS, success, figures["MSR"]),
              "precision": _curve(PRECISION_THRESHOLDS, precision, figures["MPR"])}
    return figures, curves


def rgbt234_scores(predictions: Mapping[str, ArrayLike], visible_gts: Mapping[str, ArrayLike],
                   infrared_gts: Mapping[str, ArrayLike]) -> dict:
    """RGBT234 maximum precision rate MPR and maximum success rate MSR, as the ``rgbt`` package's ``MPR`` and
    ``MSR`` compute them.

    Per frame, the centre error (``x + (w - 1) / 2`` centres, pixels) is the smaller of those to the visible
    and infrared ground truths and the IoU (inclusive pixel spans, no epsilon) the larger; every frame counts,
    the first one included with the tracker's own box (no replacement), and no ground-truth or prediction
    repair applies; a NaN on either side is a miss. MPR = mean over sequences of ``mean(error <= t)`` at
    t = 20 px (curve over 0..50 px); MSR = mean over sequences and ``t = linspace(0, 1, 21)`` of
    ``mean(IoU > t)``.

    Returns:
        ``{"overall": {"MPR", "MSR"}, "per_sequence": {name: {...}}, "curves": {"success", "precision"}}``.
    """
    states = {}
    for name, visible in visible_gts.items():
        pred, visible = _sequence_boxes(predictions, name, visible)
        if name not in infrared_gts:
            raise ValueError(f"no infrared ground truth for sequence {name}")
        _, infrared = _pair(pred, infrared_gts[name], f"sequence {name} (infrared)")
        states[name] = _rgbt234_state(pred, visible, infrared)
    return _report(states, _rgbt234_summary)


# DepthTrack / VOT-RGBD ------------------------------------------------------------------------------------------
_VotState = tuple[np.ndarray, np.ndarray, int]  # overlaps, confidences, visible frames


def _vot_extent(boxes: np.ndarray, empty: np.ndarray) -> tuple[np.ndarray, ...]:
    """Inclusive pixel bounds (left, top, right, bottom) of rounded rectangles; (0, 0, 0, 0) for empty regions."""
    rounded = np.round(np.where(empty[:, None], 0.0, boxes).astype(np.float32)).astype(np.float64)
    left, top = rounded[:, 0], rounded[:, 1]
    right, bottom = left + rounded[:, 2] - 1, top + rounded[:, 3] - 1
    return left, top, np.where(empty, 0.0, right), np.where(empty, 0.0, bottom)


def vot_overlaps(pred: ArrayLike, gt: ArrayLike, pred_empty: ArrayLike, gt_empty: ArrayLike,
                 image_size: tuple[int, int] | None = None) -> np.ndarray:
    """(N,) region overlaps as vot-toolkit's ``calculate_overlap`` rasterises them, for (N, 4) pixel boxes.

    Rectangles are stored in single precision and rounded to whole pixels (half to even), ``x, y, w, h``
    each; a rectangle covers pixels ``x .. x + w - 1``. Frames flagged in ``pred_empty`` / ``gt_empty``, and
    rows with a NaN, are special (empty) regions. With ``image_size = (width, height)`` both regions are
    clipped to the image, as the toolkit's ``bounded`` analyses do; without, nothing is clipped. The overlap is
    the pixel IoU, with the toolkit's two rules: when the bounding box of both regions is at most one pixel
    wide or tall (two empty regions, in particular) the overlap is 1; when its part inside the image is, 0.
    """
    pred, gt = _pair(pred, gt)
    pred_empty = np.asarray(pred_empty, dtype=bool) | np.isnan(pred).any(axis=1)
    gt_empty = np.asarray(gt_empty, dtype=bool) | np.isnan(gt).any(axis=1)
    p_left, p_top, p_right, p_bottom = _vot_extent(pred, pred_empty)
    g_left, g_top, g_right, g_bottom = _vot_extent(gt, gt_empty)
    span = [np.minimum(p_left, g_left), np.minimum(p_top, g_top),
            np.maximum(p_right, g_right), np.maximum(p_bottom, g_bottom)]
    identical = (span[0] >= span[2]) | (span[1] >= span[3])
    outside = np.zeros(len(gt), dtype=bool)
    if image_size is not None:
        width, height = image_size
        span = [np.maximum(0, span[0]), np.maximum(0, span[1]), np.minimum(width - 1, span[2]),
                np.minimum(height - 1, span[3])]
        outside = (span[0] >= span[2]) | (span[1] >= span[3])

    def pixels(lo: np.ndarray, hi: np.ndarray, empty: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.maximum(lo, span[axis]), np.minimum(hi, span[axis + 2])
        return np.where(empty, 1.0, lo), np.where(empty, 0.0, hi)  # empty regions: no pixel

    p_cols, p_rows = pixels(p_left, p_right, pred_empty, 0), pixels(p_top, p_bottom, pred_empty, 1)
    g_cols, g_rows = pixels(g_left, g_right, gt_empty, 0), pixels(g_top, g_bottom, gt_empty, 1)

    def count(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, hi - lo + 1)

    inter = (count(np.maximum(p_cols[0], g_cols[0]), np.minimum(p_cols[1], g_cols[1]))
             * count(np.maximum(p_rows[0], g_rows[0]), np.minimum(p_rows[1], g_rows[1])))
    union = count(*p_cols) * count(*p_rows) + count(*g_cols) * count(*g_rows) - inter
    overlap = np.divide(inter, union, out=np.zeros(len(gt)), where=union > 0)
    return np.where(identical, 1.0, np.where(outside, 0.0, overlap))


def _vot_state(pred: np.ndarray, confidence: ArrayLike, gt: np.ndarray, absent: ArrayLike,
               image_size: tuple[int, int] | None, name: str) -> _VotState:
    confidence = np.asarray(confidence, dtype=np.float64)
    absent = np.asarray(absent, dtype=bool)
    for what, array in (("confidences", confidence), ("absent", absent)):
        if array.shape != (len(gt),):
            raise ValueError(f"sequence {name}: expected ({len(gt)},) {what}, got shape {array.shape}")
    init = np.zeros(len(gt), dtype=bool)
    init[0] = True  # the toolkit stores the initialisation frame as a special region
    gt_empty = absent | np.isnan(gt).any(axis=1)
    overlaps = vot_overlaps(pred, gt, init, gt_empty, image_size)
    return overlaps, confidence, int(np.count_nonzero(~gt_empty))


def vot_thresholds(confidences: ArrayLike, resolution: int = VOT_RESOLUTION) -> np.ndarray:
    """Confidence thresholds as vot-toolkit's ``determine_thresholds``: the scores (NaN dropped) sorted in
    decreasing order, thinned to ``resolution - 2`` of them when there are more (``delta = floor(n /
    (resolution - 2))``, indices ``round(linspace(delta, n - delta, resolution - 2))``, ties kept as repeated
    thresholds), between ``+inf`` and ``-inf``."""
    scores = np.asarray(confidences, dtype=np.float64).ravel()
    scores = np.sort(scores[~np.isnan(scores)])[::-1]
    if len(scores) > resolution - 2:
        delta = math.floor(len(scores) / (resolution - 2))
        scores = scores[np.round(np.linspace(delta, len(scores) - delta, num=resolution - 2)).astype(int)]
    return np.concatenate([[np.inf], scores, [-np.inf]])


def _vot_curves(state: _VotState, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of one sequence at each threshold, as ``compute_tpr_curves``; the recall stays 0
    when the target is never visible (the caller leaves it out)."""
    overlaps, confidence, visible = state
    precision, recall = np.ones(len(thresholds)), np.zeros(len(thresholds))
    for i, threshold in enumerate(thresholds):
        selected = overlaps[confidence >= threshold]
        if len(selected):
            precision[i] = np.mean(selected)
            if visible:
                recall[i] = np.sum(selected) / visible
    return precision, recall


def _vot_summary(states: list[_VotState], resolution: int = VOT_RESOLUTION) -> tuple[dict, dict] | None:
    if not any(state[2] for state in states):
        return None
    thresholds = vot_thresholds(np.concatenate([state[1] for state in states]), resolution)
    curves = [_vot_curves(state, thresholds) for state in states]
    precision = np.mean([pr for pr, _ in curves], axis=0)
    recall = np.mean([re for (_, re), state in zip(curves, states) if state[2]], axis=0)
    total = precision + recall
    f_score = np.divide(2 * precision * recall, total, out=np.zeros(len(thresholds)), where=total > 0)
    best = int(np.argmax(f_score))
    figures = {"precision": float(precision[best]), "recall": float(recall[best]), "f_score": float(f_score[best])}
    curve = {"thresholds": [float(t) if np.isfinite(t) else None for t in thresholds],
             "precision": [float(v) for v in precision], "recall": [float(v) for v in recall],
             "f_score": [float(v) for v in f_score]}
    return figures, {"precision_recall": curve}


def vot_rgbd_scores(predictions: Mapping[str, ArrayLike], confidences: Mapping[str, ArrayLike],
                    groundtruths: Mapping[str, ArrayLike], absent: Mapping[str, ArrayLike],
                    image_sizes: Mapping[str, tuple[int, int]] | None = None,
                    resolution: int = VOT_RESOLUTION) -> dict:
    """DepthTrack / VOT-RGBD tracking precision Pr, recall Re and F-score, as vot-toolkit 0.9.0's long-term
    analyses (``average_tpr``) compute them.

    Per frame: the overlap of :func:`vot_overlaps` (whole-pixel rectangles, clipped to the image when
    ``image_sizes`` gives its ``(width, height)``). A NaN prediction is an empty region; frame 0 always is (the
    toolkit stores the initialisation as a special region, so it overlaps a visible target by 0) but keeps
    ``confidences[name][0]`` — the TraX confidence at initialisation, or 0 if none was reported. Frames where
    ``absent`` is True (or the ground truth has a NaN) are empty ground-truth regions: they are not visible, an
    empty prediction overlaps them by 1 (two empty regions are identical) and a box by 0.

    Thresholds: :func:`vot_thresholds` of all confidences of all sequences together. Per sequence and threshold
    ``t``: the frames with ``confidence >= t`` (a NaN confidence never is) give ``Pr(t)`` = their mean overlap
    (1 if there is none) and ``Re(t)`` = their overlap sum / the number of visible frames (0 if none). Pr and
    Re curves are averaged over sequences, ``F(t) = 2 Pr Re / (Pr + Re)`` (0 where both are 0), and
    Pr, Re, F are read at the first threshold maximising F. A sequence where the target is never visible has no
    recall (the toolkit divides by zero there): it counts in the Pr average only, and its own figures are
    undefined (an empty ``per_sequence`` entry). A sequence's own figures are those the toolkit reports for a
    dataset of that sequence alone (thresholds from its confidences).

    Returns:
        ``{"overall": {"precision", "recall", "f_score"}, "per_sequence": {name: {...}}, "curves": {"precision_recall":
        {"thresholds", "precision", "recall", "f_score"}}}`` (the infinite end thresholds as None).
    """
    states = {}
    for name, gt in groundtruths.items():
        pred, gt = _sequence_boxes(predictions, name, gt)
        for what, mapping in (("confidences", confidences), ("absent flags", absent)):
            if name not in mapping:
                raise ValueError(f"no {what} for sequence {name}")
        size = None if image_sizes is None else image_sizes[name]
        states[name] = _vot_state(pred, confidences[name], gt, absent[name], size, name)
    return _report(states, lambda group: _vot_summary(group, resolution))


# Benchmarks -----------------------------------------------------------------------------------------------------
def _prefixed(summarise: Callable[[list[Any]], tuple[dict, dict] | None],
              prefix: str) -> Callable[[list[Any]], tuple[dict, dict] | None]:
    """``summarise`` with ``prefix`` before its figures' names (its curves keep theirs)."""
    def prefixed(states: list[Any]) -> tuple[dict, dict] | None:
        summary = summarise(states)
        return None if summary is None else ({prefix + k: v for k, v in summary[0].items()}, summary[1])
    return prefixed


def _attribute_members(sequences: list[Sequence]) -> dict[str, list[str]]:
    """Sequence names by attribute: its per-sequence flag is True, or any frame of its per-frame (N,) flags."""
    members: dict[str, list[str]] = {}
    for sequence in sequences:
        for attribute, flags in sequence.attributes.items():
            if np.any(np.asarray(flags, dtype=bool)):
                members.setdefault(attribute, []).append(sequence.name)
    return members


def score_benchmark(benchmark: str, sequences: list[Sequence], predictions: Mapping[str, np.ndarray],
                    confidences: Mapping[str, np.ndarray],
                    image_sizes: Mapping[str, tuple[int, int]] | None = None) -> dict:
    """The published metrics of one benchmark for a tracker's results.

    Args:
        benchmark: one of :data:`BENCHMARKS`.
        sequences: the benchmark's sequences (ground truth, absent flags, attributes).
        predictions: (N, 4) ``x, y, w, h`` pixel boxes by sequence name, the first being the initial box; NaN
            rows where the tracker reported nothing.
        confidences: (N,) scores by sequence name; needed by ``depthtrack`` and ``vot-rgbd`` only (frame 0's is
            taken as reported at initialisation, see :func:`vot_rgbd_scores`).
        image_sizes: optional ``(width, height)`` by sequence name, for the VOT overlaps' clipping to the image
            (the toolkit's default); without it predictions reaching outside the image are not clipped.

    Metrics (float in [0, 1]):
        * ``depthtrack``, ``vot-rgbd``: ``precision``, ``recall``, ``f_score`` (Pr, Re, F of
          :func:`vot_rgbd_scores`) and the OTB figures of :func:`otb_scores` over the frames where the target is
          not absent, as ``otb_success_auc``, ``otb_precision``, ``otb_normalised_precision``.
        * ``lasher``: ``PR``, ``SR``, ``NPR`` (:func:`lasher_scores`, on ``groundtruth`` as read).
        * ``rgbt234``: ``MPR``, ``MSR`` (:func:`rgbt234_scores`, on ``extra_groundtruth["visible"]`` and
          ``["infrared"]``, each falling back to ``groundtruth``).
        * ``visevent``, ``folder``: the OTB ``success_auc``, ``precision``, ``normalised_precision`` over the frames
          where the target is not absent (got10k's LaSOT experiment leaves out unlabelled frames likewise).

    Returns:
        ``{"overall": {metric: float}, "per_sequence": {name: {metric: float}}, "per_attribute": {attribute:
        {metric: float}}, "curves": {...}}`` (``curves`` as the functions above give them). An attribute's
        figures are the benchmark's metrics over the sequences having it, aggregated as over the whole benchmark
        (for VOT, with thresholds from those sequences' confidences). A sequence has an attribute when its
        per-sequence flag is True or, for a per-frame (N,) array, when any of its frames has it — the LasHeR and
        RGBT234 toolkits flag attributes per sequence, and the VOT toolkit's Pr / Re / F have no per-frame
        breakdown. Attributes no sequence has are left out. ``per_attribute_frames`` (all but LasHeR and
        RGBT234): for each per-frame attribute, the OTB figures over only the frames that have it (each
        sequence's curve over those frames, averaged over the sequences having any), e.g. the frames where
        RGB is dark or a look-alike that differs only in X is in view.
    """
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}: choose one of {', '.join(BENCHMARKS)}")
    names = [s.name for s in sequences]
    if not sequences:
        raise ValueError("no sequence to score")
    if len(set(names)) != len(names):
        raise ValueError("sequence names must be unique")
    boxes = {s.name: _sequence_boxes(predictions, s.name, s.groundtruth)[0] for s in sequences}
    families: list[tuple[dict[str, Any], Callable[[list[Any]], tuple[dict, dict] | None]]] = []
    if benchmark == "lasher":
        families.append(({s.name: _lasher_state(boxes[s.name], s.groundtruth, s.name) for s in sequences},
                         _lasher_summary))
    elif benchmark == "rgbt234":
        states = {}
        for s in sequences:
            visible = _pair(boxes[s.name], s.extra_groundtruth.get("visible", s.groundtruth), s.name)[1]
            infrared = _pair(boxes[s.name], s.extra_groundtruth.get("infrared", s.groundtruth), s.name)[1]
            states[s.name] = _rgbt234_state(boxes[s.name], visible, infrared)
        families.append((states, _rgbt234_summary))
    else:
        otb_summary = _otb_summary
        if benchmark in ("depthtrack", "vot-rgbd"):
            vot = {}
            for s in sequences:
                if s.name not in confidences:
                    raise ValueError(f"no confidences for sequence {s.name}: {benchmark} needs one score per frame")
                size = None if image_sizes is None else image_sizes[s.name]
                vot[s.name] = _vot_state(boxes[s.name], confidences[s.name], s.groundtruth, s.absent, size, s.name)
            families.append((vot, _vot_summary))
            otb_summary = _prefixed(_otb_summary, "otb_")  # "precision" is the VOT one there
        otb = {s.name: _otb_state(boxes[s.name], s.groundtruth, ~np.asarray(s.absent, dtype=bool)) for s in sequences}
        families.append((otb, otb_summary))

    reports = [_report(states, summarise) for states, summarise in families]
    per_attribute_frames = {}
    if benchmark not in ("lasher", "rgbt234"):
        for attribute in sorted({a for s in sequences for a, f in s.attributes.items() if np.ndim(f) == 1}):
            states = []
            for sequence in sequences:
                flags = sequence.attributes.get(attribute)
                if np.ndim(flags) != 1:
                    continue
                frames = ~np.asarray(sequence.absent, dtype=bool) & np.asarray(flags, dtype=bool)
                if frames.any():
                    states.append(_otb_state(boxes[sequence.name], sequence.groundtruth, frames))
            summary = otb_summary(states) if states else None
            if summary is not None:
                per_attribute_frames[attribute] = summary[0]
    per_attribute = {}
    for attribute, members in _attribute_members(sequences).items():
        figures: dict[str, float] = {}
        for states, summarise in families:
            summary = summarise([states[name] for name in members])
            figures.update(summary[0] if summary is not None else {})
        per_attribute[attribute] = figures
    return {"overall": {k: v for r in reports for k, v in r["overall"].items()},
            "per_sequence": {name: {k: v for r in reports for k, v in r["per_sequence"][name].items()}
                             for name in names},
            "per_attribute": per_attribute,
            "per_attribute_frames": per_attribute_frames,
            "curves": {k: v for r in reports for k, v in r["curves"].items()}}


# Comparing two runs ---------------------------------------------------------------------------------------------
def paired_difference(scores: Mapping[str, Any], reference: Mapping[str, Any], metric: str = "success_auc",
                      samples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """How much better one run is than another on the same sequences, and how sure that is.

    ``scores`` and ``reference`` are two score reports of one benchmark (what :func:`score_benchmark`,
    :func:`sdstrack.evaluation.evaluate` and :func:`sdstrack.evaluation.score_raw_results` return, or a
    ``scores.json``). Returns ``(difference, standard_error)``: the mean over sequences of the per-sequence
    difference ``scores - reference`` of ``metric`` (for the OTB figures, whose overall value is the mean over
    sequences, exactly the difference of the overall values), and the standard deviation of that mean over
    ``samples`` bootstrap resamplings of the sequences (pairs kept together; ``seed`` fixes the draws). It
    measures how much the benchmark's choice of sequences moves the difference, not the spread between
    training runs.
    """
    ours, theirs = scores.get("per_sequence", {}), reference.get("per_sequence", {})
    if set(ours) != set(theirs) or not ours:
        raise ValueError(
            "the two runs must score the same non-empty set of sequences: only in the first "
            f"{sorted(set(ours) - set(theirs))}, only in the reference {sorted(set(theirs) - set(ours))}"
        )
    names = sorted(ours)
    missing = [name for name in names if metric not in ours[name] or metric not in theirs[name]]
    if missing:
        raise ValueError(f"no per-sequence {metric!r} for sequences {missing}: pick a metric both runs report "
                         f"per sequence, e.g. {sorted(ours[names[0]])}")
    differences = np.array([ours[name][metric] - theirs[name][metric] for name in names], dtype=np.float64)
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    draws = np.random.default_rng(seed).integers(0, differences.size, (samples, differences.size))
    return float(differences.mean()), float(differences[draws].mean(axis=1).std())
