"""sdstrack.evaluation.metrics against independent oracles and hand-worked cases.

* OTB: the ``got10k`` package's own ``rect_iou``, ``center_error`` and ``ExperimentOTB.report`` (which reads the
  result files this test writes) on 100 random result / ground-truth pairs, to 1e-9.
* LasHeR PR / SR / NPR and RGBT234 MPR / MSR: the ``rgbt`` package's metric classes on its shipped ground truth,
  every sequence of both benchmarks, perturbed ground truths as results, to 1e-6 overall and per sequence.
* VOT-RGBD / DepthTrack Pr / Re / F: hand-worked cases, and vot-toolkit's own code where it is installed (it is
  not a test dependency: the ``vot`` extra).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from got10k.experiments.otb import ExperimentOTB
from got10k.utils.metrics import center_error as got10k_center_error
from got10k.utils.metrics import rect_iou as got10k_rect_iou
from rgbt import RGBT234, LasHeR
from rgbt.metrics import MPR, MSR, NPR, PR_LasHeR, SR_LasHeR
from rgbt.utils import normalize_CLE

from sdstrack.datasets.sequence import Sequence
from sdstrack.evaluation.metrics import (
    centre_error,
    iou,
    lasher_scores,
    normalised_centre_error,
    otb_scores,
    otb_sequence_scores,
    paired_difference,
    rgbt234_scores,
    score_benchmark,
    vot_overlaps,
    vot_rgbd_scores,
    vot_thresholds,
)

matplotlib.use("Agg")  # got10k's report draws its plots


def _random_pairs(count: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Results and ground truths: noise of 1 to 100 px, 3 % NaN result rows, every third sequence whole pixels."""
    rng = np.random.default_rng(seed)
    results, groundtruths = {}, {}
    for i in range(count):
        n = int(rng.integers(2, 300))
        gt = np.column_stack([rng.uniform(0, 600, (n, 2)), rng.uniform(1, 150, (n, 2))])
        pred = gt + rng.normal(0, 1, (n, 4)) * rng.choice([1, 5, 20, 100], (n, 1))
        pred[rng.random(n) < 0.03] = np.nan
        if i % 3 == 0:
            pred, gt = np.round(pred), np.round(gt)
        results[f"seq{i:03d}"], groundtruths[f"seq{i:03d}"] = pred, gt
    return results, groundtruths


def _perturbed(groundtruths: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Ground truths moved by noise scaled to the box, 5 % jumps, every other sequence on a half-pixel grid (exact
    ties at the thresholds), 2 % boxes with a non-positive width and 1 % NaN rows."""
    rng = np.random.default_rng(seed)
    results = {}
    for k, (name, gt) in enumerate(groundtruths.items()):
        n = len(gt)
        size = np.maximum(gt[:, 2:], 1.0)
        pred = gt + np.concatenate([rng.normal(0, 0.15, (n, 2)), rng.normal(0, 0.1, (n, 2))], axis=1) * np.tile(size, 2)
        pred[rng.random(n) < 0.05] += rng.normal(0, 60, 4)
        if k % 2 == 0:
            pred = np.round(pred * 2) / 2
        degenerate = rng.random(n) < 0.02
        pred[degenerate, 2] = rng.choice([0.0, -3.0], int(degenerate.sum()))
        pred[rng.random(n) < 0.01] = np.nan
        results[name] = pred
    return results


def _rows(boxes: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Results as rgbt's loader gives them (a list of rows per sequence); fresh copies, since its metrics write
    the first row."""
    return {name: [row.copy() for row in value] for name, value in boxes.items()}


# Per-frame measures ---------------------------------------------------------------------------------------------
def test_per_frame_measures_by_hand():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [10, 20, 4, 2], [0, 0, 0.5, 0.25], [0, 0, 10, 10]], float)
    pred = np.array([[5, 0, 10, 10], [20, 0, 10, 10], [13, 21, 4, 2], [1, 1, 0.5, 0.25], [np.nan] * 4], float)
    np.testing.assert_allclose(iou(pred, gt), [50 / 150, 0, 1 / 15, 0, 0], atol=1e-12)
    np.testing.assert_allclose(centre_error(pred, gt), [5, 20, np.hypot(3, 1), np.sqrt(2), np.inf])
    # offsets over the ground truth's max(1, w), max(1, h)
    np.testing.assert_allclose(normalised_centre_error(pred, gt), [0.5, 2, np.hypot(0.75, 0.5), np.sqrt(2), np.inf])
    with pytest.raises(ValueError, match="3 predicted boxes for 5"):
        iou(pred[:3], gt)


def test_normalised_centre_error_matches_rgbt_where_sides_are_at_least_one():
    rng = np.random.default_rng(3)
    gt = np.column_stack([rng.uniform(0, 500, (500, 2)), rng.uniform(1, 200, (500, 2))])
    pred = gt + rng.normal(0, 20, gt.shape)
    oracle = np.array([normalize_CLE(p, g) for p, g in zip(pred, gt)])  # divides by w + 1e-8 instead of max(1, w)
    np.testing.assert_allclose(normalised_centre_error(pred, gt), oracle, rtol=1e-7)


# OTB against got10k ---------------------------------------------------------------------------------------------
class _Annotations:
    """The part of a got10k dataset ``ExperimentOTB.report`` reads: names and ``(frames, anno)`` pairs."""

    def __init__(self, groundtruths: dict[str, np.ndarray]):
        self.groundtruths = groundtruths
        self.seq_names = list(groundtruths)

    def __len__(self) -> int:
        return len(self.groundtruths)

    def __iter__(self):
        return iter([(None, anno) for anno in self.groundtruths.values()])


def test_otb_matches_got10k(tmp_path: Path):
    results, groundtruths = _random_pairs(100, seed=0)
    (tmp_path / "results" / "tracker").mkdir(parents=True)
    for name, boxes in results.items():
        np.savetxt(tmp_path / "results" / "tracker" / f"{name}.txt", boxes, delimiter=",")  # exact repr, nan kept
    experiment = ExperimentOTB.__new__(ExperimentOTB)  # __init__ would download OTB: set what it sets
    experiment.dataset = _Annotations(groundtruths)
    experiment.result_dir, experiment.report_dir = str(tmp_path / "results"), str(tmp_path / "reports")
    experiment.nbins_iou, experiment.nbins_ce = 21, 51
    oracle = experiment.report(["tracker"])["tracker"]

    ours = otb_scores(results, groundtruths)
    assert ours["overall"]["success_auc"] == pytest.approx(oracle["overall"]["success_score"], abs=1e-9)
    assert ours["overall"]["precision"] == pytest.approx(oracle["overall"]["precision_score"], abs=1e-9)
    np.testing.assert_allclose(ours["curves"]["success"]["values"], oracle["overall"]["success_curve"], atol=1e-9)
    np.testing.assert_allclose(ours["curves"]["precision"]["values"], oracle["overall"]["precision_curve"], atol=1e-9)
    for name in groundtruths:
        seq_oracle = oracle["seq_wise"][name]
        assert ours["per_sequence"][name]["success_auc"] == pytest.approx(seq_oracle["success_score"], abs=1e-9)
        assert ours["per_sequence"][name]["precision"] == pytest.approx(seq_oracle["precision_score"], abs=1e-9)
        single = otb_sequence_scores(results[name], groundtruths[name])
        np.testing.assert_allclose(single["success_curve"], seq_oracle["success_curve"], atol=1e-9)
        np.testing.assert_allclose(single["precision_curve"], seq_oracle["precision_curve"], atol=1e-9)
        pred = results[name].copy()
        pred[0] = groundtruths[name][0]
        # got10k gives NaN where a box has one, a miss in its curves as our 0 / inf are
        np.testing.assert_allclose(iou(pred, groundtruths[name]),
                                   np.nan_to_num(got10k_rect_iou(pred, groundtruths[name]), nan=0.0), atol=1e-9)
        np.testing.assert_allclose(centre_error(pred, groundtruths[name]),
                                   np.nan_to_num(got10k_center_error(pred, groundtruths[name]), nan=np.inf), atol=1e-9)


def test_otb_normalised_precision_and_valid_frames_by_hand():
    gt = np.array([[0, 0, 10, 10]] * 5, float)
    pred = np.array([[99, 99, 1, 1], [2, 0, 10, 10], [3, 0, 10, 10], [0, 0, 10, 10], [50, 50, 10, 10]], float)
    scores = otb_sequence_scores(pred, gt)  # frame 0 becomes the ground truth; offsets 0, .2, .3, 0, 7.1
    assert scores["normalised_precision"] == pytest.approx(3 / 5)  # error <= 0.2
    assert scores["precision"] == pytest.approx(4 / 5)
    # IoU 1, 8/12, 7/13, 1, 0: the success AUC is the mean over the 21 thresholds of mean(IoU > t)
    ious = np.array([1, 8 / 12, 7 / 13, 1, 0])
    assert scores["success_auc"] == pytest.approx(np.mean([np.mean(ious > t) for t in np.linspace(0, 1, 21)]))
    kept = otb_sequence_scores(pred, gt, valid=[True, True, True, True, False])
    assert kept["precision"] == 1.0 and kept["normalised_precision"] == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="no frame"):
        otb_sequence_scores(pred, gt, valid=[False] * 5)


# LasHeR and RGBT234 against rgbt --------------------------------------------------------------------------------
def test_lasher_matches_rgbt_on_every_sequence():
    dataset = LasHeR()
    names = list(dataset.seqs_name)
    groundtruths = {name: np.asarray(dataset[name], dtype=np.float64) for name in names}  # integral: exact
    results = _perturbed(groundtruths, seed=1)
    ours = lasher_scores(results, groundtruths)
    # rgbt's loader keeps the ground truth in float32, which its NPR then divides in single precision: its NPR is
    # given the same (integral, exact) values as float64; PR and SR run on the dataset object as loaded.
    for metric, oracle, truth, read in (("PR", PR_LasHeR(), dataset, lambda c: c[:, 20]),
                                        ("SR", SR_LasHeR(), dataset, lambda c: c.mean(axis=1)),
                                        ("NPR", NPR(), groundtruths, lambda c: c[:, 20])):
        value, curves = oracle(truth, _rows(results), names)
        assert ours["overall"][metric] == pytest.approx(value, abs=1e-6), metric
        per_sequence = read(curves)
        for i, name in enumerate(names):
            assert ours["per_sequence"][name][metric] == pytest.approx(per_sequence[i], abs=1e-6), (metric, name)
        curve = {"PR": "precision", "SR": "success", "NPR": "normalised_precision"}[metric]
        np.testing.assert_allclose(ours["curves"][curve]["values"], curves.mean(axis=0), atol=1e-6)


def test_rgbt234_matches_rgbt_on_every_sequence():
    dataset = RGBT234()
    names = list(dataset.seqs_name)
    visible = {name: np.asarray(dataset[name]["visible"], dtype=np.float64) for name in names}
    infrared = {name: np.asarray(dataset[name]["infrared"], dtype=np.float64) for name in names}
    results = _perturbed(visible, seed=2)
    ours = rgbt234_scores(results, visible, infrared)
    for metric, oracle, read in (("MPR", MPR(), lambda c: c[:, 20]), ("MSR", MSR(), lambda c: c.mean(axis=1))):
        value, curves = oracle(dataset, _rows(results), names)
        assert ours["overall"][metric] == pytest.approx(value, abs=1e-6), metric
        per_sequence = read(curves)
        for i, name in enumerate(names):
            assert ours["per_sequence"][name][metric] == pytest.approx(per_sequence[i], abs=1e-6), (metric, name)


def test_lasher_conventions_by_hand():
    gt = np.array([[10, 10, 10, 10], [0, 5, 10, 10], [10, 10, 10, 10], [10, 10, 0, 0], [10, 10, 10, 10]], float)
    pred = np.array([[80, 80, 5, 5], [60, 60, 10, 10], [10, 10, 10, 10], [70, 70, 10, 10], [10, 10, -1, 4],
                     [0, 0, 1, 1]], float)  # one row too many: cut off
    # frame 0 := gt; frames 1 and 3 have a ground-truth number <= 0 (x = 0; w = h = 0): hits for PR, misses for SR;
    # frame 4's width -1 repeats frame 3's box, 60 px off in x and y
    scores = lasher_scores({"s": pred}, {"s": gt})["per_sequence"]["s"]
    assert scores["PR"] == pytest.approx(4 / 5) and scores["NPR"] == pytest.approx(4 / 5)
    assert scores["SR"] == pytest.approx(2 / 5 * 20 / 21)  # IoU 1 > t for t < 1 on frames 0 and 2
    with pytest.raises(ValueError, match="4 predicted boxes for 5"):
        lasher_scores({"s": pred[:4]}, {"s": gt})


# VOT-RGBD / DepthTrack by hand ------------------------------------------------------------------------------------
NAN4 = [np.nan] * 4


def _vot_case() -> tuple[dict, dict, dict, dict]:
    """Sequence ``a``: frame 0 is the initialisation (an empty region: overlap 0, visible); frame 1 IoU 1, frame 2
    IoU 1/3, frame 3 a box where the target is absent (0), frame 4 nothing where it is absent (1), frame 5 nothing
    where it is visible (0); confidences tie at 0.5 and at 0. Sequence ``b``: the target is never visible."""
    gt_a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], NAN4, NAN4, [20, 20, 10, 10]], float)
    pred_a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [5, 0, 10, 10], [50, 50, 10, 10], NAN4, NAN4], float)
    gt_b = np.array([NAN4, NAN4, NAN4], float)
    pred_b = np.array([NAN4, [30, 30, 10, 10], NAN4], float)
    predictions = {"a": pred_a, "b": pred_b}
    confidences = {"a": np.array([1.0, 0.9, 0.5, 0.5, 0.0, 0.0]), "b": np.array([0.0, 0.8, 0.0])}
    groundtruths = {"a": gt_a, "b": gt_b}
    absent = {name: np.isnan(gt).any(axis=1) for name, gt in groundtruths.items()}
    return predictions, confidences, groundtruths, absent


def test_vot_precision_recall_by_hand():
    predictions, confidences, groundtruths, absent = _vot_case()
    scores = vot_rgbd_scores(predictions, confidences, {"a": groundtruths["a"]}, absent, {"a": (100, 100)})
    # thresholds inf, 1, .9, .5, .5, 0, 0, -inf; overlaps 0, 1, 1/3, 0, 1, 0 over 4 visible frames:
    # t = .9: Pr 1/2, Re 1/4, F 1/3; t = .5: Pr 1/3, Re 1/3, F 1/3; t = 0: Pr 7/18, Re 7/12, F 7/15 (best)
    assert scores["overall"] == pytest.approx({"precision": 7 / 18, "recall": 7 / 12, "f_score": 7 / 15})
    curve = scores["curves"]["precision_recall"]
    assert curve["thresholds"] == [None, 1.0, 0.9, 0.5, 0.5, 0.0, 0.0, None]
    np.testing.assert_allclose(curve["precision"], [1, 0, 1 / 2, 1 / 3, 1 / 3, 7 / 18, 7 / 18, 7 / 18])
    np.testing.assert_allclose(curve["recall"], [0, 0, 1 / 4, 1 / 3, 1 / 3, 7 / 12, 7 / 12, 7 / 12])


def test_vot_sequence_never_visible_counts_in_precision_only():
    predictions, confidences, groundtruths, absent = _vot_case()
    scores = vot_rgbd_scores(predictions, confidences, groundtruths, absent)
    # b's overlaps: 1 (two empty regions), 0, 1; thresholds inf, 1, .9, .8, .5, .5, 0 x 4, -inf. At t = 0:
    # Pr = mean(7/18, 2/3) = 19/36, Re = a's 7/12, F = 133/240 (the best: .375 at t = .9, .25 at .8, 2/9 at .5)
    assert scores["overall"] == pytest.approx({"precision": 19 / 36, "recall": 7 / 12, "f_score": 133 / 240})
    assert scores["per_sequence"]["b"] == {}
    assert scores["per_sequence"]["a"] == pytest.approx({"precision": 7 / 18, "recall": 7 / 12, "f_score": 7 / 15})
    with pytest.raises(ValueError, match="no sequence"):
        vot_rgbd_scores(predictions, confidences, {"b": groundtruths["b"]}, absent)


def test_vot_no_reported_frame_gives_the_toolkit_figures():
    gt = np.array([[0, 0, 10, 10]] * 4, float)
    # every prediction empty with confidence 0: at t = 0 the frames are selected with overlap 0, so F = 0 everywhere
    # and the first threshold (+inf: nothing selected, Pr 1, Re 0) is reported
    scores = vot_rgbd_scores({"s": np.full((4, 4), np.nan)}, {"s": np.zeros(4)}, {"s": gt}, {"s": np.zeros(4, bool)})
    assert scores["overall"] == {"precision": 1.0, "recall": 0.0, "f_score": 0.0}


def test_vot_overlaps_round_clip_and_special_rules():
    gt = np.array([[0, 0, 10, 10], [0, 0, 5, 10], [0, 0, 10, 10], [0, 0, 10, 10], NAN4, NAN4, [105, 0, 10, 10]], float)
    pred = np.array([[2.5, 0, 10, 10],  # x rounds half to even: 2 -> IoU 80 / 120
                     [-5, 0, 10, 10],  # clipped to the image: identical to the ground truth
                     [0.5, 0.4, 9.6, 10.4],  # rounds to the ground truth
                     NAN4,  # nothing where the target is visible
                     NAN4,  # nothing where it is absent: two empty regions
                     [0, 0, 1, 5],  # a one-pixel-wide box against an empty region: the toolkit's "identical"
                     [100, 0, 10, 10]], float)  # both outside the 100 px wide image
    pred_empty, gt_empty = np.isnan(pred).any(axis=1), np.isnan(gt).any(axis=1)
    np.testing.assert_allclose(vot_overlaps(pred, gt, pred_empty, gt_empty, (100, 100)), [2 / 3, 1, 1, 0, 1, 1, 0])
    unbounded = vot_overlaps(pred, gt, pred_empty, gt_empty)
    assert unbounded[1] == pytest.approx(0.5) and unbounded[6] == pytest.approx(5 / 15)


def test_vot_thresholds():
    thresholds = vot_thresholds(np.arange(196.0))  # 196 scores > 98: thinned with delta = 2
    assert len(thresholds) == 100 and thresholds[0] == np.inf and thresholds[-1] == -np.inf
    assert thresholds[1] == 193 and thresholds[-2] == 1
    np.testing.assert_array_equal(vot_thresholds([0.5, np.nan, 0.7, 0.5]), [np.inf, 0.7, 0.5, 0.5, -np.inf])


def _vot_random_case(seed: int) -> tuple[dict, ...]:
    """Six sequences: absent frames (half NaN rows), boxes where the target is absent, NaN boxes, non-positive and
    one-pixel widths, half-pixel and out-of-image boxes, NaN confidences, ties (two-decimal confidences)."""
    rng = np.random.default_rng(seed)
    predictions, confidences, groundtruths, absent, sizes = {}, {}, {}, {}, {}
    for s in range(6):
        n, width, height = int(rng.integers(2, 400)), int(rng.integers(40, 300)), int(rng.integers(40, 300))
        gt = np.column_stack([rng.uniform(-10, width, n), rng.uniform(-10, height, n), rng.uniform(0.3, 80, (n, 2))])
        gt = np.where(rng.random((n, 1)) < 0.3, np.round(gt * 2) / 2, gt)
        gone = rng.random(n) < (0.9 if s == 0 else 0.15)
        gone[0] = False
        gt[gone & (rng.random(n) < 0.5)] = np.nan
        pred = gt + rng.normal(0, 1, (n, 4)) * rng.choice([0.5, 3, 20, 80], (n, 1))
        pred[gone] = np.column_stack([rng.uniform(0, width, gone.sum()), rng.uniform(0, height, gone.sum()),
                                      rng.uniform(1, 50, (gone.sum(), 2))])
        pred = np.where(rng.random((n, 1)) < 0.3, np.round(pred * 2) / 2, pred)
        pred[rng.random(n) < 0.05] = np.nan
        pred[rng.random(n) < 0.02, 2] = rng.choice([0.0, -2.0, 1.0])
        conf = np.round(rng.random(n), 2 if s % 2 else 6)
        conf[rng.random(n) < 0.02] = np.nan
        name = f"q{s}"
        predictions[name], confidences[name], groundtruths[name], absent[name] = pred, conf, gt, gone
        sizes[name] = (width, height)
    return predictions, confidences, groundtruths, absent, sizes


def test_vot_matches_the_toolkit_where_installed():
    """vot-toolkit's own overlap, threshold, curve and aggregation code on random sequences, to 1e-12."""
    try:
        from vot.analysis.longterm import (
            FScoreCurve,
            PrecisionRecall,
            PrecisionRecallCurve,
            compute_tpr_curves,
            determine_thresholds,
        )
        from vot.region import Special
        from vot.region.raster import calculate_overlaps
        from vot.region.shapes import Rectangle
        from vot.utilities.data import Grid
    except Exception as err:  # a wrong attributee breaks `import vot` with a TypeError
        pytest.skip(f'vot-toolkit not importable ({err!r}): pip install "sdstrack[vot]" to compare with it')

    class _Sequence:  # what compute_tpr_curves reads of a toolkit sequence
        def __init__(self, groundtruth: list, size: tuple[int, int]):
            self._groundtruth, self.size = groundtruth, size

        def groundtruth(self) -> list:
            return self._groundtruth

    for seed, resolution in ((0, 100), (1, 30)):
        predictions, confidences, groundtruths, absent, sizes = _vot_random_case(seed)
        thresholds = determine_thresholds(np.concatenate(list(confidences.values())), resolution)
        np.testing.assert_array_equal(vot_thresholds(np.concatenate(list(confidences.values())), resolution),
                                      thresholds)
        partials = []
        for name, gt in groundtruths.items():
            truth = [Special(0) if a or np.isnan(g).any() else Rectangle(*g) for g, a in zip(gt, absent[name])]
            trajectory = [Special(1)] + [Special(0) if np.isnan(p).any() else Rectangle(*p)
                                         for p in predictions[name][1:]]
            overlaps = calculate_overlaps(trajectory, truth, sizes[name])
            init = np.arange(len(gt)) == 0
            np.testing.assert_allclose(vot_overlaps(predictions[name], gt, init, absent[name], sizes[name]), overlaps,
                                       atol=1e-12)
            precision, recall = compute_tpr_curves(trajectory, list(confidences[name]), _Sequence(truth, sizes[name]),
                                                   thresholds)
            partials.append((list(zip(precision, recall)), thresholds))
        curve, _ = PrecisionRecallCurve().aggregate(None, None, partials)
        f_curves = FScoreCurve().compute(None, [None], None, [[(curve, thresholds)]])
        pr_curves = Grid(1, 1)
        pr_curves[0, 0] = (curve, thresholds)
        oracle = PrecisionRecall().compute(None, [None], None, [pr_curves, f_curves])[0, 0]
        ours = vot_rgbd_scores(predictions, confidences, groundtruths, absent, sizes, resolution)["overall"]
        np.testing.assert_allclose([ours["precision"], ours["recall"], ours["f_score"]], [float(v) for v in oracle],
                                   atol=1e-12)


# score_benchmark --------------------------------------------------------------------------------------------------
def _sequence(name: str, gt: np.ndarray, attributes: dict | None = None, extra: dict | None = None) -> Sequence:
    files = [Path(f"{name}/{i:08d}.jpg") for i in range(len(gt))]
    absent = np.isnan(gt).any(axis=1) | (gt[:, 2] <= 0) | (gt[:, 3] <= 0)
    return Sequence(name, "thermal", files, files, gt, absent, attributes or {}, extra or {})


def _benchmark_case(seed: int = 5) -> tuple[list[Sequence], dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    sequences, predictions, confidences = [], {}, {}
    for i in range(4):
        n = 30 + 10 * i
        gt = np.column_stack([rng.uniform(0, 200, (n, 2)), rng.uniform(5, 50, (n, 2))])
        gt[rng.random(n) < 0.1] = np.nan
        gt[0] = [50, 50, 20, 20]
        frame_flags = np.zeros(n, bool)
        frame_flags[-1] = i == 2
        sequences.append(_sequence(f"s{i}", gt, {"night": i % 2 == 1, "occlusion": frame_flags, "never": False}))
        predictions[f"s{i}"] = np.nan_to_num(gt, nan=10.0) + rng.normal(0, 4, gt.shape)
        confidences[f"s{i}"] = rng.random(n)
    return sequences, predictions, confidences


def test_score_benchmark_families_and_attributes():
    sequences, predictions, confidences = _benchmark_case()
    gts = {s.name: s.groundtruth for s in sequences}
    valid = {s.name: ~s.absent for s in sequences}
    absent = {s.name: s.absent for s in sequences}
    expected = {
        "lasher": lasher_scores(predictions, gts),
        "rgbt234": rgbt234_scores(predictions, gts, gts),  # no extra ground truth: both fall back to groundtruth
        "visevent": otb_scores(predictions, gts, valid),
        "folder": otb_scores(predictions, gts, valid),
    }
    vot = vot_rgbd_scores(predictions, confidences, gts, absent)
    for benchmark in ("depthtrack", "vot-rgbd", "lasher", "rgbt234", "visevent", "folder"):
        result = score_benchmark(benchmark, sequences, predictions, confidences)
        json.dumps(result, allow_nan=False)
        assert set(result) == {"overall", "per_sequence", "per_attribute", "per_attribute_frames", "curves"}
        parts = [("", vot), ("otb_", expected["folder"])] if benchmark in ("depthtrack", "vot-rgbd") else [
            ("", expected[benchmark])]
        assert result["overall"] == {prefix + k: v for prefix, part in parts for k, v in part["overall"].items()}
        assert result["per_sequence"]["s1"] == {prefix + k: v for prefix, part in parts
                                                for k, v in part["per_sequence"]["s1"].items()}
        # per-sequence flag: s1 and s3; per-frame flags: s2 only (one frame has it); "never": no sequence
        assert set(result["per_attribute"]) == {"night", "occlusion"}
        assert result["per_attribute"]["occlusion"] == result["per_sequence"]["s2"]
        subset = [s for s in sequences if s.name in ("s1", "s3")]
        assert result["per_attribute"]["night"] == score_benchmark(benchmark, subset, predictions,
                                                                   confidences)["overall"]
    depthtrack = score_benchmark("depthtrack", sequences, predictions, confidences)
    assert set(depthtrack["overall"]) == {"precision", "recall", "f_score", "otb_success_auc", "otb_precision",
                                          "otb_normalised_precision"}
    assert set(depthtrack["curves"]) == {"precision_recall", "success", "precision", "normalised_precision"}
    assert depthtrack["curves"]["success"]["summary"] == depthtrack["overall"]["otb_success_auc"]


def test_score_benchmark_rgbt234_takes_the_better_ground_truth():
    gt = np.array([[0, 0, 10, 10]] * 3, float)
    infrared = gt + [[0, 0, 0, 0], [30, 0, 0, 0], [30, 0, 0, 0]]
    sequence = _sequence("s", gt, extra={"visible": gt, "infrared": infrared})
    pred = infrared.copy()  # exactly on the infrared box, 30 px from the visible one
    result = score_benchmark("rgbt234", [sequence], {"s": pred}, {})
    assert result["overall"] == {"MPR": 1.0, "MSR": pytest.approx(20 / 21)}


def test_score_benchmark_rejects_bad_input():
    sequences, predictions, confidences = _benchmark_case()
    with pytest.raises(ValueError, match="unknown benchmark"):
        score_benchmark("otb", sequences, predictions, confidences)
    with pytest.raises(ValueError, match="no confidences for sequence s0"):
        score_benchmark("depthtrack", sequences, predictions, {})
    with pytest.raises(ValueError, match="no prediction for sequence s3"):
        score_benchmark("folder", sequences, {k: v for k, v in predictions.items() if k != "s3"}, confidences)


def test_per_frame_attribute_figures_use_only_those_frames():
    from sdstrack.evaluation.metrics import otb_scores, score_benchmark

    rng = np.random.default_rng(11)
    sequences, predictions = [], {}
    for index in range(3):
        gt = np.column_stack([rng.uniform(0, 50, (20, 2)), rng.uniform(10, 40, (20, 2))])
        pred = gt + rng.normal(0, 6, gt.shape)
        dark = np.zeros(20, bool)
        dark[5 + index : 12 + index] = True
        sequences.append(Sequence(f"s{index}", "depth", [Path("x")] * 20, [Path("x")] * 20, gt, np.zeros(20, bool),
                                  {"dark": dark}))
        predictions[f"s{index}"] = pred
    scores = score_benchmark("folder", sequences, predictions, {})
    # Oracle: the OTB figures of the dark frames alone, through the public per-dataset function.
    expected = otb_scores(predictions, {s.name: s.groundtruth for s in sequences},
                          {s.name: s.attributes["dark"] for s in sequences})["overall"]
    assert scores["per_attribute_frames"]["dark"] == pytest.approx(expected, abs=1e-12)
    assert scores["per_attribute_frames"]["dark"] != scores["overall"]


def _report(values: dict[str, float]) -> dict:
    return {"overall": {"success_auc": float(np.mean(list(values.values())))},
            "per_sequence": {name: {"success_auc": value} for name, value in values.items()}}


def test_paired_difference_is_the_mean_gap_with_its_bootstrap_standard_error():
    rng = np.random.default_rng(1)
    reference = dict(zip([f"s{i}" for i in range(30)], rng.random(30)))
    gaps = rng.normal(0.1, 0.05, 30)
    better = {name: value + gap for (name, value), gap in zip(reference.items(), gaps)}
    difference, error = paired_difference(_report(better), _report(reference), samples=20_000)
    # the mean gap, equal to the difference of the overall AUCs (their mean over sequences)
    assert difference == pytest.approx(gaps.mean())
    assert difference == pytest.approx(_report(better)["overall"]["success_auc"] - np.mean(list(reference.values())))
    # the bootstrap standard error of a mean of n values: the population sd over sqrt(n), within Monte Carlo error
    assert error == pytest.approx(gaps.std() / np.sqrt(30), rel=0.03)
    # pairs stay together: a constant gap has no spread, however much the sequences differ
    shifted = {name: value + 0.2 for name, value in reference.items()}
    constant = paired_difference(_report(shifted), _report(reference))
    assert constant == (pytest.approx(0.2), pytest.approx(0.0, abs=1e-12))


def test_paired_difference_names_unmatched_sequences_and_metrics():
    a, b = _report({"s1": 0.5, "s2": 0.6}), _report({"s1": 0.4, "s3": 0.6})
    with pytest.raises(ValueError, match=r"only in the first \['s2'\], only in the reference \['s3'\]"):
        paired_difference(a, b)
    with pytest.raises(ValueError, match="no per-sequence 'f_score'"):
        paired_difference(a, a, metric="f_score")
