"""`sdstrack eval` end to end on generated benchmark folders: every layout, resuming, shards, bad frames."""

import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

from sdstrack import SDSTrack, SDSTrackConfig
from sdstrack.cli import main
from sdstrack.evaluation.protocols import SensorFailure
from sdstrack.evaluation.runner import EvaluationError, evaluate, merge

from .benchmark_layouts import write_benchmark
from .conftest import SMALL_MODEL

MODALITY = {"depthtrack": "depth", "vot-rgbd": "depth", "lasher": "thermal", "rgbt234": "thermal",
            "visevent": "event", "folder": "depth"}
EXPECTED_METRICS = {
    "depthtrack": {"precision", "recall", "f_score"},
    "vot-rgbd": {"precision", "recall", "f_score"},
    "lasher": {"PR", "SR", "NPR"},
    "rgbt234": {"MPR", "MSR"},
    "visevent": {"success_auc", "precision", "normalised_precision"},
    "folder": {"success_auc", "precision", "normalised_precision"},
}


def small_config(modality):
    return SDSTrackConfig(modality=modality, **SMALL_MODEL)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folders = {}
    for modality in ("depth", "thermal", "event"):
        folder = tmp_path_factory.mktemp(f"model-{modality}")
        SDSTrack(small_config(modality)).save_pretrained(folder)
        folders[modality] = folder
    return folders


@pytest.fixture(scope="module")
def depthtrack(tmp_path_factory):
    root = tmp_path_factory.mktemp("depthtrack")
    write_benchmark("depthtrack", root)
    return root


@pytest.mark.parametrize("layout", sorted(MODALITY))
def test_every_layout_runs_end_to_end(layout, models, tmp_path):
    root = tmp_path / "bench"
    truths = write_benchmark(layout, root)
    report = evaluate(models[MODALITY[layout]], layout, root, tmp_path / "out", progress=False)
    assert not report.failed and not report.missing and set(report.results) == set(truths)
    overall = report.scores["overall"]
    assert EXPECTED_METRICS[layout] <= set(overall) and all(0 <= v <= 1 for v in overall.values())
    assert set(report.scores["per_sequence"]) == set(truths)
    for name, truth in truths.items():
        result = report.results[name]
        assert result.boxes.shape == (len(truth), 4) and np.allclose(result.boxes[0], truth[0])
    written = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert written["overall"] == pytest.approx(overall) and written["run"]["dataset"] == layout
    raw = list((tmp_path / "out" / "raw" / "sdstrack").rglob("*.txt"))
    assert len(raw) == len(truths)


def test_raw_vot_results_have_the_init_marker_and_confidences(models, depthtrack, tmp_path):
    report = evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "out", progress=False)
    name, result = next(iter(report.results.items()))
    folder = tmp_path / "out" / "raw" / "sdstrack" / "rgbd-unsupervised" / name
    lines = (folder / f"{name}_001.txt").read_text().splitlines()
    confidences = (folder / f"{name}_001_confidence.value").read_text().splitlines()
    assert lines[0] == "1" and len(lines) == len(result.boxes)
    assert float(confidences[0]) == 1.0 and np.allclose([float(c) for c in confidences], result.scores, atol=1e-6)
    assert np.allclose([[float(v) for v in line.split(",")] for line in lines[1:]], result.boxes[1:], atol=1e-4)


def test_interrupted_run_resumes_to_the_uninterrupted_result(models, depthtrack, tmp_path, monkeypatch):
    import sdstrack.evaluation.runner as runner

    real, calls = runner.track_sequence, []

    def interrupted_on_the_third(tracker, sequence, failure, on_frame=None):
        calls.append(sequence.name)
        if len(calls) == 3:  # killed while the third sequence is in flight
            raise KeyboardInterrupt
        return real(tracker, sequence, failure, on_frame)

    monkeypatch.setattr(runner, "track_sequence", interrupted_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "killed", progress=False)
    monkeypatch.setattr(runner, "track_sequence", real)
    assert {p.stem for p in (tmp_path / "killed" / "sequences").glob("*.json")} == set(calls[:2])
    resumed = evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "killed", progress=False)
    whole = evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "whole", progress=False)
    assert set(resumed.results) == set(whole.results)
    for name in whole.results:
        assert np.array_equal(resumed.results[name].boxes, whole.results[name].boxes)
        assert np.array_equal(resumed.results[name].scores, whole.results[name].scores)
    assert resumed.scores["overall"] == whole.scores["overall"]


def test_two_shards_merged_equal_one_run(models, depthtrack, tmp_path):
    parts = [evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / f"shard{k}", shard=(k, 2), progress=False)
             for k in (1, 2)]
    assert all(part.scores is None and part.missing for part in parts)
    merged = merge([tmp_path / "shard1", tmp_path / "shard2"], tmp_path / "merged")
    whole = evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "whole", progress=False)
    assert merged.scores["overall"] == whole.scores["overall"]
    assert merged.scores["per_sequence"] == whole.scores["per_sequence"]
    same_folder = [evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "one", shard=(k, 2), progress=False)
                   for k in (1, 2)]
    assert same_folder[1].scores["overall"] == whole.scores["overall"]


def test_workers_give_the_same_results(models, depthtrack, tmp_path):
    two = evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "two", workers=2, progress=False)
    one = evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "one", progress=False)
    for name in one.results:
        assert np.allclose(two.results[name].boxes, one.results[name].boxes, atol=1e-4)


def test_a_corrupted_frame_is_named_and_the_others_finish(models, tmp_path, capsys):
    root = tmp_path / "bench"
    truths = write_benchmark("depthtrack", root)
    broken = sorted(truths)[0]
    frame = sorted((root / broken / "color").iterdir())[2]
    frame.write_bytes(b"not an image")
    code = main(["eval", "--model", str(models["depth"]), "--dataset", "depthtrack", "--root", str(root),
                 "--out", str(tmp_path / "out"), "--no-plots"])
    error = capsys.readouterr().err
    assert code == 1 and f"sequence {broken}, frame 3" in error and frame.name in error
    finished = {p.stem for p in (tmp_path / "out" / "sequences").glob("*.json")}
    assert finished == set(truths) - {broken}


def test_failure_protocol_is_recorded_and_replayed(models, depthtrack, tmp_path):
    failure = SensorFailure(drop="x", drop_rate=0.5, seed=7)
    first = evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "a", failure=failure, progress=False)
    again = evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "b", failure=failure, progress=False)
    assert first.scores["run"]["protocol"] == failure.to_dict()
    assert first.scores["run"]["x_missing_frames"] > 0 and first.scores["overall"] == again.scores["overall"]
    with pytest.raises(EvaluationError, match="differs in: protocol"):
        evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "a", progress=False)


def test_a_folder_resumes_only_with_the_same_weights(models, depthtrack, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(models["depth"], folder)
    first = evaluate(folder, "depthtrack", depthtrack, tmp_path / "out", progress=False)
    assert first.scores["run"]["checkpoint_sha256"]["model.safetensors"] == hashlib.sha256(
        (folder / "model.safetensors").read_bytes()).hexdigest()
    model = SDSTrack.from_pretrained(folder)
    with torch.no_grad():
        model.head.score[4].bias.add_(1.0)
    model.save_pretrained(folder)  # same name, other weights: its results must not be reused
    with pytest.raises(EvaluationError, match="differs in: checkpoint_sha256"):
        evaluate(folder, "depthtrack", depthtrack, tmp_path / "out", progress=False)


def test_model_of_another_sensor_is_refused(models, depthtrack, tmp_path):
    with pytest.raises(EvaluationError, match="is a thermal model but the benchmark's X frames are depth"):
        evaluate(models["thermal"], "depthtrack", depthtrack, tmp_path / "out", progress=False)


def test_robustness_table_runs_every_condition_and_formats_it(models, depthtrack, tmp_path):
    from sdstrack.evaluation.robustness import CONDITIONS, format_table, robustness_table

    conditions = {name: CONDITIONS[name] for name in ("both sensors", "X dropped on 50% of frames")}
    table = robustness_table({"tiny": models["depth"]}, "depthtrack", depthtrack, tmp_path / "table",
                             conditions=conditions, progress=False)
    direct = evaluate(models["depth"], "depthtrack", depthtrack, tmp_path / "direct",
                      failure=conditions["X dropped on 50% of frames"], progress=False)
    assert table["tiny"]["X dropped on 50% of frames"] == direct.scores["overall"]
    text = format_table(table, "f_score").splitlines()
    assert text[0] == "| condition | tiny |" and len(text) == 4
    assert text[3] == f"| X dropped on 50% of frames | {direct.scores['overall']['f_score']:.3f} |"


def test_robustness_table_frame_rows_and_a_baseline_column(models, tmp_path):
    from sdstrack.datasets.synthetic import write_synthetic
    from sdstrack.evaluation.robustness import CONDITIONS, baseline_column, format_table, robustness_table

    root = tmp_path / "bench"
    write_synthetic(root, sequences=3, length=30, size=(96, 72), seed=5, rgb_distractors=1, low_light=1.0)
    conditions = {name: CONDITIONS[name] for name in ("both sensors", "RGB dropped on 50% of frames")}
    table = robustness_table({"tiny": models["depth"]}, "folder", root, tmp_path / "table", conditions=conditions,
                             progress=False)
    direct = evaluate(models["depth"], "folder", root, tmp_path / "direct", progress=False)
    frames = direct.scores["per_attribute_frames"]
    assert table["tiny"]["X decides: RGB in low light (frames)"] == frames["low_light"]
    assert table["tiny"]["X decides: RGB look-alike in view (frames)"] == frames["rgb_distractor"]
    # The same tracker's raw results scored as a baseline give its own column back (to the raw files' 4 decimals).
    runs = tmp_path / "table" / "tiny"
    column = baseline_column("folder", root, {"both sensors": runs / "0-both-sensors" / "raw" / "sdstrack"})
    for row in ("both sensors", "X decides: RGB in low light (frames)"):
        assert abs(column[row]["success_auc"] - table["tiny"][row]["success_auc"]) <= 1e-3
    text = format_table({"tiny": table["tiny"], "other": column}).splitlines()
    assert len(text) == 2 + 4 and text[3].startswith("| RGB dropped on 50% of frames | ") and text[3].endswith(" | - |")


def test_raw_results_score_like_the_run_that_wrote_them(models, tmp_path):
    from sdstrack.evaluation import score_raw_results

    root = tmp_path / "bench"
    write_benchmark("folder", root)
    report = evaluate(models["depth"], "folder", root, tmp_path / "out", progress=False)
    rescored = score_raw_results("folder", root, tmp_path / "out" / "raw" / "sdstrack")
    for name, value in report.scores["overall"].items():
        assert abs(rescored["overall"][name] - value) <= 1e-3  # raw files keep 4 decimals
    (tmp_path / "out" / "raw" / "sdstrack" / "alpha.txt").unlink()
    with pytest.raises(EvaluationError, match="alpha.txt is missing"):
        score_raw_results("folder", root, tmp_path / "out" / "raw" / "sdstrack")
