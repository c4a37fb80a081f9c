"""The example scripts run as users run them, on a clip made by examples/make_demo_clip.py."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from .conftest import DEMO_FRAMES, REPO

EXAMPLES = REPO / "examples"


def _run(*args, cwd):
    done = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_track_folder(demo_clip, tmp_path):
    lines = _run(EXAMPLES / "track_folder.py", demo_clip, cwd=tmp_path)  # not run from the checkout
    assert len(lines) == DEMO_FRAMES and "score" in lines[-1]


def test_missing_sensor_demo(demo_clip, tmp_path):
    lines = _run(EXAMPLES / "missing_sensor_demo.py", demo_clip, cwd=tmp_path)
    notes = {note for note in ("depth camera dropped", "RGB camera dropped", "left half of depth missing")
             if any(note in line for line in lines)}
    assert len(lines) == DEMO_FRAMES and len(notes) == 3


def test_multi_target(demo_clip, tmp_path):
    lines = _run(EXAMPLES / "multi_target.py", demo_clip, "40,150,70,60", "300,40,50,80", cwd=tmp_path)
    assert len(lines) == DEMO_FRAMES and "#1:" in lines[-1]


def test_track_video_pair(demo_clip, tmp_path):
    videos = []
    for name in ("color", "depth"):
        frames = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((demo_clip / name).iterdir())[:5]]
        frames = [cv2.applyColorMap((f // 40).astype(np.uint8), cv2.COLORMAP_JET) if f.ndim == 2 else f
                  for f in frames]
        video = tmp_path / f"{name}.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (480, 360))
        for frame in frames:
            writer.write(frame)
        writer.release()
        videos.append(video)
    lines = _run(EXAMPLES / "track_video_pair.py", *videos, "40,150,70,60", cwd=tmp_path)
    assert len(lines) == 5 and "score" in lines[-1]


def test_examples_outside_the_checkout_use_the_bundled_default_model(demo_clip, tmp_path):
    script = tmp_path / "track_folder.py"  # a copy outside the checkout: the default model is package data
    script.write_text((EXAMPLES / "track_folder.py").read_text())
    lines = _run(script, demo_clip, cwd=tmp_path)
    assert len(lines) == DEMO_FRAMES and "score" in lines[-1]


def test_robustness_table(tmp_path):
    from sdstrack.evaluation.robustness import CONDITIONS

    lines = _run(EXAMPLES / "robustness_table.py", tmp_path, "tiny=sdstrack-tiny-random", "--sequences", "2",
                 "--length", "12", "--size", "96x72", "--device", "cpu", "--opencv-python", sys.executable,
                 "--opencv-tracker", "mil", "--margin", "tiny", "tiny", cwd=tmp_path)
    margins = lines[lines.index("| condition | tiny - tiny | standard error |") + 2:]
    # a model against its own runs: every condition present, no difference and no spread
    assert [line.split(" | ")[0].lstrip("| ") for line in margins] == list(CONDITIONS)
    assert all(line.endswith(" | +0.000 | 0.000 |") for line in margins)
    table = lines[lines.index("| condition | tiny | OpenCV MIL |"):lines.index(margins[0]) - 2]
    rows = [line.split(" | ")[0].lstrip("| ") for line in table[2:]]
    assert rows[:len(CONDITIONS)] == list(CONDITIONS) and all(row.startswith("X decides") for row in rows[6:])
    assert all(line.count(" | ") == 2 and " - " not in line for line in table[2:])
    # Conditions that leave RGB alone share the RGB-only baseline's clean run; the RGB ones got their own.
    assert sorted(p.name for p in (tmp_path / "runs" / "mil").iterdir()) == [
        "3-rgb-dropped-on-50--of-frames", "4-rgb-blinded--low-light", "rgb-clean"]


def test_robustness_table_benchmarks_the_models_sensor_and_keeps_its_workdir_to_one_benchmark(tmp_path):
    from sdstrack import SDSTrack, SDSTrackConfig

    from .conftest import SMALL_MODEL

    for modality in ("thermal", "depth"):
        SDSTrack(SDSTrackConfig(modality=modality, **SMALL_MODEL)).save_pretrained(tmp_path / modality)
    table = [EXAMPLES / "robustness_table.py", tmp_path / "work", f"tiny={tmp_path / 'thermal'}", "--sequences", "1",
             "--size", "64x48", "--device", "cpu", "--conditions", "both sensors"]
    lines = _run(*table, "--length", "6", cwd=tmp_path)
    assert lines[:2] == ["| condition | tiny |", "|---|---:|"] and lines[2].startswith("| both sensors | ")
    sequence = tmp_path / "work" / "benchmark" / "synthetic-thermal-0000"
    assert len(list((sequence / "thermal").iterdir())) == 6  # a thermal model gets thermal sequences

    def refused(*args):
        done = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode != 0
        return done.stderr

    # asked for other sequences, the WORKDIR's benchmark is not silently re-used
    message = refused(*table, "--length", "7")
    assert "'length': (6, 7)" in message and "another WORKDIR" in message
    assert "different X sensors" in refused(*table[:3], f"depth={tmp_path / 'depth'}", *table[3:], "--length", "6")
    assert "'seed': (2, 3)" in refused(*table, "--length", "6", "--seed", "3")
    # another held-out set goes into its own WORKDIR and holds other sequences; the training data's seeds are refused
    other = [table[0], tmp_path / "other", *table[2:], "--length", "6", "--seed", "3"]
    assert _run(*other, cwd=tmp_path)[2].startswith("| both sensors | ")
    assert (tmp_path / "other" / "benchmark" / "synthetic-thermal-0000" / "groundtruth.txt").read_text() != \
        (sequence / "groundtruth.txt").read_text()
    for seed, data in ((0, "training"), (1, "validation")):
        assert f"draws the {data} sequences" in refused(*other[:-1], str(seed))


def test_opencv_baseline_results_are_scored_by_sdstrack(tmp_path):
    from sdstrack.datasets.synthetic import write_synthetic
    from sdstrack.evaluation import score_raw_results

    write_synthetic(tmp_path / "bench", sequences=2, length=10, size=(96, 72), seed=4)
    lines = _run(EXAMPLES / "opencv_baseline.py", tmp_path / "bench", tmp_path / "mil", "--tracker", "mil",
                 cwd=tmp_path)
    assert lines[-1].startswith("mil: 20 frames at ")
    scores = score_raw_results("folder", tmp_path / "bench", tmp_path / "mil")
    assert 0 <= scores["overall"]["success_auc"] <= 1 and len(scores["per_sequence"]) == 2


def test_opencv_baseline_holds_its_box_on_dropped_rgb_frames(tmp_path):
    from sdstrack.datasets.synthetic import write_synthetic
    from sdstrack.evaluation import score_raw_results
    from sdstrack.evaluation.protocols import write_degraded_benchmark
    from sdstrack.evaluation.robustness import CONDITIONS

    if not hasattr(cv2, "TrackerMIL_create"):
        pytest.skip(f"this OpenCV ({cv2.__version__}) has no TrackerMIL_create")
    write_synthetic(tmp_path / "bench", sequences=2, length=12, size=(64, 48), seed=3)
    write_degraded_benchmark("folder", tmp_path / "bench", tmp_path / "degraded",
                             CONDITIONS["RGB dropped on 50% of frames"])
    lines = _run(EXAMPLES / "opencv_baseline.py", tmp_path / "degraded", tmp_path / "mil", "--tracker", "mil",
                 cwd=tmp_path)
    held = 0
    for folder in sorted((tmp_path / "degraded").iterdir()):
        dropped = np.loadtxt(folder / "rgb_dropped.tag", dtype=int).astype(bool)
        boxes = np.genfromtxt(tmp_path / "mil" / f"{folder.name}.txt", delimiter=",", ndmin=2)
        for index in np.flatnonzero(dropped):
            assert np.array_equal(boxes[index], boxes[index - 1], equal_nan=True)
        held += dropped.sum()
    assert held > 0 and lines[-1].startswith(f"mil: {24 - held} frames at ")
    assert f"({held} dropped RGB frames held the previous box)" in lines[-1]
    for root in ("bench", "degraded"):  # the original benchmark and the degraded copy: same ground truth
        scores = score_raw_results("folder", tmp_path / root, tmp_path / "mil")
        assert 0 <= scores["overall"]["success_auc"] <= 1 and len(scores["per_sequence"]) == 2


def test_sensor_reliance_shows_the_bundled_model_still_leans_on_depth(tmp_path):
    from sdstrack.datasets.synthetic import write_synthetic

    write_synthetic(tmp_path / "bench", sequences=3, length=30, seed=11)
    lines = _run(EXAMPLES / "sensor_reliance.py", tmp_path / "bench", "sdstrack-demo", "--pairs", "64", cwd=tmp_path)
    both, without_x, without_rgb = (float(v) for v in lines[-1].split(": ")[1].split(" / "))
    # the shipped model locates the target from depth alone nearly as well as from both, from RGB alone far
    # worse (0.803 / 0.458 / 0.753 measured here when it was bundled; model card, "Which sensor it needs")
    assert lines[-1].startswith("sdstrack-demo: ") and both >= 0.5 and without_rgb >= both - 0.15
    assert without_x <= both - 0.2


def _train_demo_stages(workdir, *options) -> list[dict]:
    """The stage configs that ``examples/train_demo.py WORKDIR OPTIONS`` (the documented command) trains."""
    spec = importlib.util.spec_from_file_location("train_demo", EXAMPLES / "train_demo.py")
    train_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_demo)
    args = train_demo.argument_parser().parse_args([str(workdir), *options])
    return train_demo.stage_configs(workdir, args.steps, args.more_steps, args.precision, not args.no_distillation,
                                    args.seed, args.workers, args.modality, args.init,
                                    {option: getattr(args, option) for option in train_demo.EXPERIMENTS})


def _without_paths(config: dict) -> dict:
    """A training config without the folders of the machine it ran on (output, start, data roots)."""
    data = {key: [{k: v for k, v in source.items() if k != "root"} for source in config[key]]
            for key in ("train_data", "val_data")}
    return {**{k: v for k, v in config.items() if k not in ("output_dir", "init", *data)}, **data}


def _is_recorded_run(stage: dict, record: str) -> bool:
    """Whether a stage config that train_demo.py builds is the one recorded in weights/RECORD/config.json, paths
    aside (the folders of the machine it ran on)."""
    from sdstrack.training import TrainConfig

    recorded = json.loads((REPO / "weights" / record / "config.json").read_text())
    return _without_paths(TrainConfig.from_dict(stage).to_dict()) == _without_paths(recorded)


STAGE4 = ["--more-steps", "3000", "4000", "6000"]  # the recipe without its stages 5 and 6
SEVEN = ["--more-steps", "3000", "4000", "6000", "4000", "4000", "4000"]  # the recipe and one more stage


@pytest.mark.parametrize("options, record", [
    ([], "sdstrack-demo/training/"),
    # the run-to-run spread's second draw, and the ablation's second draw (model card; both all six stages)
    (["--seed", "1"], "sdstrack-demo/training/seed-1/"),
    (["--no-distillation", "--seed", "1"], "sdstrack-demo/training/no-distillation-seed-1/"),
    # the ablation's first draw, trained through stage 4
    (["--no-distillation", *STAGE4], "sdstrack-demo/training/no-distillation/"),
    # the RGB-T sibling (its model card), and the first model bundled under that name (from scratch)
    (["--modality", "thermal", "--init", "sdstrack-demo", "--steps", "4000", "--more-steps"],
     "sdstrack-demo-thermal/training/"),
    (["--modality", "thermal", "--more-steps", "3000", "4000"], "sdstrack-demo-thermal/training/from-scratch/"),
])
def test_train_demo_runs_the_recipe_the_bundled_models_were_trained_with(tmp_path, options, record):
    from sdstrack.training import TrainConfig

    ours = [TrainConfig.from_dict(stage).to_dict() for stage in _train_demo_stages(tmp_path, *options)]
    for before, after in zip(ours, ours[1:]):  # each stage goes on from the one before
        assert after["init"] == str(Path(before["output_dir"]) / "model")
    assert not (REPO / "weights" / record / f"stage{len(ours) + 1}").exists()  # it trains every recorded stage
    for number, config in enumerate(ours, start=1):
        assert _is_recorded_run(config, f"{record}stage{number}")


def test_train_demo_trains_target_absent_samples_only_when_asked_and_beside_the_plain_stages(tmp_path):
    stages = _train_demo_stages(tmp_path)
    assert all("absent_probability" not in stage["sampling"] for stage in stages)  # the bundled recipe has none
    experiment = _train_demo_stages(tmp_path, "--absent-probability", "0.1")
    assert experiment[:4] == stages[:4]  # the same stages 1-4: both stage 5s start from the same weights
    assert Path(experiment[4]["output_dir"]) == tmp_path / "run" / "stage5-absent0.1"
    assert experiment[4]["init"] == stages[4]["init"] == str(tmp_path / "run" / "stage4" / "model")
    assert Path(experiment[5]["output_dir"]) == tmp_path / "run" / "stage6-absent0.1"  # goes on from its own stage 5
    assert experiment[5]["init"] == str(tmp_path / "run" / "stage5-absent0.1" / "model")
    ignored = ("output_dir", "init", "sampling")
    for ours, plain in zip(experiment[4:], stages[4:], strict=True):
        assert {k: v for k, v in ours.items() if k not in ignored} == \
            {k: v for k, v in plain.items() if k not in ignored}
        assert ours["sampling"] == {**plain["sampling"], "absent_probability": 0.1}
    # the experiment of the model card is this command's stage 5 (paths aside: it started from stage 4's weights,
    # bundled as sdstrack-demo then)
    assert _is_recorded_run(experiment[4], "sdstrack-demo/training/stage5-absent0.1")


def test_the_seventh_stage_experiment_is_one_more_number_after_more_steps(tmp_path):
    six = _train_demo_stages(tmp_path)
    seven = _train_demo_stages(tmp_path, *SEVEN)
    assert seven[:6] == six  # the bundled model's stages, untouched: stage 7 goes on from its weights
    assert seven[6]["init"] == str(tmp_path / "run" / "stage6" / "model") and seven[6]["seed"] == six[5]["seed"] + 2
    # the model card's experiment is this stage (paths aside: it started from the bundled stage 6's weights)
    assert _is_recorded_run(seven[6], "sdstrack-demo/training/stage7-experiment")


# the seventh-stage experiments of the model card that add one sampling option: zoomed-out search crops, crops
# centred on an occluder or a look-alike
@pytest.mark.parametrize("option, folder", [("zoom_out_probability", "stage7-zoom0.25"),
                                            ("distractor_probability", "stage7-distractor0.25")])
def test_a_sampling_experiment_is_the_seventh_stage_with_that_option(tmp_path, option, folder):
    plain = _train_demo_stages(tmp_path, *SEVEN)
    assert all(option not in stage["sampling"] for stage in plain)  # the bundled recipe has none
    tried = _train_demo_stages(tmp_path, *SEVEN, "--" + option.replace("_", "-"), "0.25")
    assert tried[:6] == plain[:6]  # from the bundled model's six stages, like the plain seventh stage
    assert Path(tried[6]["output_dir"]) == tmp_path / "run" / folder
    assert tried[6]["sampling"] == {**plain[6]["sampling"], option: 0.25}
    assert {**tried[6], "output_dir": None, "sampling": None} == {**plain[6], "output_dir": None, "sampling": None}
    # the model card's experiment is this stage (paths aside: it started from the bundled stage 6's weights)
    assert _is_recorded_run(tried[6], f"sdstrack-demo/training/{folder}")


def test_the_more_data_experiment_is_the_seventh_stage_with_a_second_training_source(tmp_path):
    seven = _train_demo_stages(tmp_path, *SEVEN)[6]
    (source,) = seven["train_data"]
    # the model card's experiment: 300 more sequences of an unused synthetic seed, every sequence equally likely
    fresh = {**source, "root": str(tmp_path / "fresh"), "synthetic": {**source["synthetic"], "sequences": 300,
                                                                      "seed": 5}, "weight": 1.0}
    more_data = {**seven, "train_data": [{**source, "weight": 2.0}, fresh]}
    assert _is_recorded_run(more_data, "sdstrack-demo/training/stage7-moredata")
    assert not _is_recorded_run(seven, "sdstrack-demo/training/stage7-moredata")


def test_train_demo_init_fine_tunes_a_trained_model_the_papers_way(tmp_path):
    from sdstrack.training import TrainConfig

    (stage,) = _train_demo_stages(tmp_path, "--modality", "thermal", "--init", "sdstrack-demo", "--steps", "4000",
                                  "--more-steps")
    TrainConfig.from_dict(stage)
    assert stage["init"] == "sdstrack-demo" and stage["policy"] == "paper"
    assert stage["model"]["modality"] == "thermal" and stage["steps"] == 4000 and stage["lr_drop_step"] == 3200
    assert (stage["ce_start_epoch"], stage["ce_warmup_epochs"]) == (1, 0)  # the start's keep ratio throughout
    assert Path(stage["output_dir"]) == tmp_path / "run-thermal-from-sdstrack-demo" / "stage1"
    scratch = _train_demo_stages(tmp_path, "--modality", "thermal", "--more-steps")[0]
    assert "init" not in scratch and scratch["policy"] == "scratch" and scratch["lr"] == 5e-4  # random weights


@pytest.mark.parametrize("modality", ["thermal", "event"])
def test_train_demo_trains_the_same_recipe_for_another_sensor(tmp_path, modality):
    from sdstrack.training import TrainConfig

    for options in ([], ["--no-distillation", "--seed", "1"]):
        depth = _train_demo_stages(tmp_path, *options)
        other = _train_demo_stages(tmp_path, *options, "--modality", modality)
        assert len(other) == len(depth) == 6
        for d, o in zip(depth, other):
            TrainConfig.from_dict(o)  # a valid training config
            # the model and the data are for the other sensor, in folders of their own...
            assert o["model"] == {**d["model"], "modality": modality}
            for key in ("train_data", "val_data"):
                (ds,), (os_,) = d[key], o[key]
                assert os_["synthetic"] == {**ds["synthetic"], "x_format": modality}
                assert os_["root"] == ds["root"].replace("synthetic-", f"synthetic-{modality}-")
            run = Path(d["output_dir"]).parent.name
            assert Path(o["output_dir"]).parent.name == run.replace("run", f"run-{modality}", 1)
            # ...and everything else is the depth recipe
            ignored = ("model", "train_data", "val_data", "output_dir", "init")
            assert {k: v for k, v in o.items() if k not in ignored} == {k: v for k, v in d.items() if k not in ignored}
    with pytest.raises(SystemExit):
        _train_demo_stages(tmp_path, "--modality", "rgb")
