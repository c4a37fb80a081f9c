"""The training loop: a tiny model on generated sequences; exact resume, the paper's policy, DDP, bad input."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sdstrack import SDSTrack, SDSTrackConfig, Tracker
from sdstrack.datasets import DatasetError, load_dataset
from sdstrack.preprocessing import FramePair
from sdstrack.training import PairSampler, SamplingOptions, parameter_role, train, validate
from sdstrack.training.trainer import sample_masks

from .benchmark_layouts import write_benchmark
from .conftest import SMALL_MODEL

TINY = {k: list(v) if isinstance(v, tuple) else v for k, v in SMALL_MODEL.items()}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-data")
    write_benchmark("folder", root, {"a": 12, "b": 10, "c": 9}, size=(160, 120))
    return root


def config(data, out, **overrides):
    values = {"output_dir": str(out), "train_data": [{"dataset": "folder", "root": str(data)}], "model": TINY,
              "steps": 4, "batch_size": 4, "lr": 1e-3, "checkpoint_every": 2, "log_every": 1, "policy": "scratch"}
    values.update(overrides)
    return values


def test_sampler_crops_match_the_target_geometry(data):
    sequences = load_dataset("folder", data)
    sampler = PairSampler([(sequences, 1.0)], SDSTrackConfig(**TINY), SamplingOptions(center_jitter=0,
                          scale_jitter=0, grayscale_probability=0, flip_probability=0, brightness_jitter=0))
    for index in range(8):
        template, search, box = sampler.sample(index)
        # Without jitter the target sits at the search crop's centre, at 1 / search factor of its side
        # (the box's geometric mean side is sqrt(w h); the crop side is 4 sqrt(w h)).
        assert np.allclose(box[:2], 0.5) and np.isclose(np.sqrt(box[2] * box[3]), 0.25, atol=0.01)
        assert template.rgb.shape == (64, 64, 3) and search.x.shape == (128, 128, 3)
    batch = sampler.batch(range(3))
    assert batch.template.shape == (3, 6, 64, 64) and batch.search.shape == (3, 6, 128, 128)
    again = sampler.batch(range(3))
    assert torch.equal(batch.search, again.search) and torch.equal(batch.boxes, again.boxes)


def test_x_noise_replaces_only_the_search_x_image(data):
    sequences = load_dataset("folder", data)
    model = SDSTrackConfig(**TINY)

    def sampler(probability):
        return PairSampler([(sequences, 1.0)], model, SamplingOptions(x_noise_probability=probability))

    plain, never, always = sampler(0.0), PairSampler([(sequences, 1.0)], model), sampler(1.0)
    for index in range(6):
        (t0, s0, b0), (t1, s1, b1), (t2, s2, b2) = plain.sample(index), never.sample(index), always.sample(index)
        # 0 = the original's samples
        assert np.array_equal(t0.x, t1.x) and np.array_equal(s0.x, s1.x) and np.array_equal(b0, b1)
        assert np.array_equal(t0.x, t2.x) and np.array_equal(t0.rgb, t2.rgb) and np.array_equal(s0.rgb, s2.rgb)
        # the X crop is another image (the crop's part outside the frame stays zero padding)
        assert np.array_equal(b0, b2) and (s0.x != s2.x).any(-1).mean() > 0.25
    with pytest.raises(ValueError, match=r"x_noise_probability=1.5 must lie in \[0, 1\]"):
        SamplingOptions(x_noise_probability=1.5)


@pytest.mark.parametrize("every, points", [(2, [2, 4]), (3, [3, 4])])
def test_validation_is_logged_once_per_point_and_a_finished_run_is_left_alone(data, tmp_path, every, points):
    run = config(data, tmp_path / "run", val_data=[{"dataset": "folder", "root": str(data)}], validate_every=every)
    model_dir = train(run, progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    validations = [r for r in log if "validation" in r]
    assert [r["step"] for r in validations] == points
    # the last one scores the saved model: tracking the validation sequences with it again gives the same
    expected = validate(SDSTrack.from_pretrained(model_dir), load_dataset("folder", data))
    assert validations[-1]["validation"] == pytest.approx(expected, abs=1e-9)
    # the same config again: the finished run is left as it is; another config is an error naming the field
    written = {path: path.stat().st_mtime_ns for path in (tmp_path / "run").rglob("*") if path.is_file()}
    assert train(run, progress=False) == model_dir
    assert {path: path.stat().st_mtime_ns for path in (tmp_path / "run").rglob("*") if path.is_file()} == written
    with pytest.raises(ValueError, match=r"differs in: steps"):
        train({**run, "steps": 6}, progress=False)


def test_training_lowers_the_loss_and_writes_a_model_the_tracker_loads(data, tmp_path):
    model_dir = train(config(data, tmp_path / "run", steps=12, batch_size=4, lr=2e-3), progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert len(losses) == 12 and np.mean(losses[-4:]) < np.mean(losses[:4])
    assert {"clean/iou", "masked/loss", "distillation", "keep_ratio", "samples_per_s"} <= set(log[0])
    tracker = Tracker.from_pretrained(model_dir, device="cpu")
    assert isinstance(tracker.model, SDSTrack) and tracker.config.embed_dim == 32


def logged(run) -> list[dict]:
    """The records of ``run``'s log.jsonl without the throughput (the one field that differs between runs)."""
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in record.items() if k != "samples_per_s"} for record in records]


def test_resume_is_bit_exact(data, tmp_path, monkeypatch):
    whole = train(config(data, tmp_path / "whole", steps=4), progress=False)
    real_batch = PairSampler.batch

    def stop_at_step_four(self, indices, device="cpu"):
        if indices[0] >= 3 * 4:  # the fourth step's samples: killed after step 3, its last checkpoint step 2
            raise KeyboardInterrupt
        return real_batch(self, indices, device)

    monkeypatch.setattr(PairSampler, "batch", stop_at_step_four)
    with pytest.raises(KeyboardInterrupt):
        train(config(data, tmp_path / "stopped", steps=4), progress=False)
    monkeypatch.setattr(PairSampler, "batch", real_batch)
    assert json.loads((tmp_path / "stopped" / "checkpoint" / "state.json").read_text())["step"] == 2
    with (tmp_path / "stopped" / "log.jsonl").open("a") as log:  # as if killed in the middle of a line
        log.write('{"step": 4, "lr": 0.0')
    with pytest.raises(ValueError, match=r"another training config \(differs in: lr\)"):
        train(config(data, tmp_path / "stopped", steps=4, lr=1e-2), progress=False)
    # resumed with sample-drawing workers (a machine setting, not part of what the run computes)
    resumed = train(config(data, tmp_path / "stopped", steps=4, workers=1), progress=False)
    a, b = load_file(str(whole / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    optimiser = torch.load(tmp_path / "stopped" / "checkpoint" / "optimizer.pt", weights_only=True)
    assert optimiser["scheduler"]["last_epoch"] == 4

    # the log holds each step once, with what the uninterrupted run logged (step 3 was logged before the stop
    # and again after the resume; only the throughput differs)
    assert [record["step"] for record in logged(tmp_path / "stopped")] == [1, 2, 3, 4]
    assert logged(tmp_path / "stopped") == logged(tmp_path / "whole")


def test_a_run_stopped_before_its_model_is_written_validates_its_last_step_once(data, tmp_path, monkeypatch):
    val = {"val_data": [{"dataset": "folder", "root": str(data)}], "validate_every": 3}
    train(config(data, tmp_path / "whole", **val), progress=False)  # validates step 3 in the loop, step 4 after
    real_save = SDSTrack.save_pretrained

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(SDSTrack, "save_pretrained", killed)  # stopped after step 4's checkpoint and validation
    with pytest.raises(KeyboardInterrupt):
        train(config(data, tmp_path / "stopped", **val), progress=False)
    monkeypatch.setattr(SDSTrack, "save_pretrained", real_save)
    log = tmp_path / "stopped" / "log.jsonl"
    assert json.loads(log.read_text().splitlines()[-1])["step"] == 4

    # a damaged line is named, with the way out, and the log is left as it was
    written = log.read_text()
    lines = written.splitlines(keepends=True)
    log.write_text("".join(lines[:1] + ["not json\n"] + lines[1:]))
    with pytest.raises(ValueError, match=r"log.jsonl, line 2, is not a training-log record .*'not json'.*delete"):
        train(config(data, tmp_path / "stopped", **val), progress=False)
    log.write_text(written)

    train(config(data, tmp_path / "stopped", **val), progress=False)

    assert [r["step"] for r in logged(tmp_path / "stopped") if "validation" in r] == [3, 4]
    assert logged(tmp_path / "stopped") == logged(tmp_path / "whole")


def test_sample_drawing_workers_train_the_same_model(data, tmp_path):
    alone = train(config(data, tmp_path / "alone", steps=3), progress=False)
    workers = train(config(data, tmp_path / "workers", steps=3, workers=2), progress=False)
    a, b = load_file(str(alone / "model.safetensors")), load_file(str(workers / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match=r"workers=-1 must be a whole number >= 0"):
        train(config(data, tmp_path / "bad", workers=-1), progress=False)


def test_paper_policy_changes_only_the_trainable_tensors(data, tmp_path):
    torch.manual_seed(0)
    start = SDSTrack(SDSTrackConfig(**TINY))
    start.save_pretrained(tmp_path / "start")
    model_dir = train(config(data, tmp_path / "run", steps=2, policy="paper", init=str(tmp_path / "start")),
                      progress=False)
    before = load_file(str(tmp_path / "start" / "model.safetensors"))
    after = load_file(str(model_dir / "model.safetensors"))
    for name, tensor in before.items():
        trainable = parameter_role(name, "paper") is not None
        assert torch.equal(tensor, after[name]) != trainable, name


def test_a_checkpoint_of_another_sensor_starts_a_run(tmp_path):
    """An RGB-D checkpoint initialises an RGB-T run: every tensor loads (at lr 0 the run's model is the
    checkpoint's weights, bit for bit) and the run's model is a thermal model; any other configuration
    difference is refused, naming the field."""
    thermal_data = tmp_path / "thermal-data"
    write_benchmark("folder", thermal_data, {"a": 8, "b": 8}, size=(160, 120), x_format="thermal")
    torch.manual_seed(123)  # not the run's seed, whose own random initialisation would look the same
    SDSTrack(SDSTrackConfig(**TINY)).save_pretrained(tmp_path / "depth-model")
    thermal = {**TINY, "modality": "thermal"}
    model_dir = train(config(thermal_data, tmp_path / "run", steps=1, lr=0.0, model=thermal,
                             init=str(tmp_path / "depth-model")), progress=False)
    before = load_file(str(tmp_path / "depth-model" / "model.safetensors"))
    after = load_file(str(model_dir / "model.safetensors"))
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert SDSTrack.from_pretrained(model_dir).config.modality == "thermal"
    wider = {**thermal, "embed_dim": 64, "head_channels": 32}
    with pytest.raises(ValueError, match=r"embed_dim 32 vs 64, head_channels 16 vs 32\); make `model`"):
        train(config(thermal_data, tmp_path / "bad", model=wider, init=str(tmp_path / "depth-model")),
              progress=False)


@pytest.mark.parametrize("change, message", [
    ({"stpes": 3}, r"unknown fields \['stpes'\]"),
    ({"train_data": [{"dataset": "folder", "root": "/no/such/root"}]}, "root /no/such/root does not exist"),
    ({"policy": "half"}, "policy='half' is not one of"),
    ({"model": {"embed_dim": "32"}}, "embed_dim"),
    ({"sampling": {"jitter": 1}}, "sampling"),
    ({"modality_drop": 2}, r"modality_drop=2 must lie in \[0, 1\]"),
    ({"modality_drop": 0.5, "distillation": False}, "modality_drop > 0 needs the masked pass"),
])
def test_bad_training_configs_are_named(data, tmp_path, change, message):
    with pytest.raises((ValueError, DatasetError), match=message):
        train(config(data, tmp_path / "run", **change), progress=False)


def test_masks_are_per_sample_so_a_split_batch_draws_the_same():
    model = SDSTrackConfig(**TINY)
    for modality_drop in (0.0, 0.5):
        whole = sample_masks(model, range(10, 50), 3, modality_drop)
        halves = [sample_masks(model, range(10, 30), 3, modality_drop),
                  sample_masks(model, range(30, 50), 3, modality_drop)]
        assert all(torch.equal(whole[m], torch.cat([h[m] for h in halves])) for m in (0, 1))
        hidden = int((whole[0].all(1) | whole[1].all(1)).sum())
        # 40 samples: none hidden whole without modality_drop; at 0.5, 20 expected (binomial sd 3.2)
        assert hidden == 0 if modality_drop == 0 else 8 <= hidden <= 32


def test_a_sequence_without_any_valid_box_is_named(tmp_path):
    root = tmp_path / "data"
    write_benchmark("folder", root, {"fine": 6, "empty": 6})
    (root / "empty" / "groundtruth.txt").write_text("nan,nan,nan,nan\n" * 6)
    with pytest.raises(DatasetError, match="sequence empty has no frame with a valid target box"):
        train(config(root, tmp_path / "run"), progress=False)


def test_torchrun_two_processes_equal_one_process(data, tmp_path):
    # drop_path 0: stochastic depth draws per process, so only deterministic training can agree exactly
    single = train(config(data, tmp_path / "one", steps=3, batch_size=4, drop_path=0.0), progress=False)
    settings = tmp_path / "two.json"
    settings.write_text(json.dumps(config(data, tmp_path / "two", steps=3, batch_size=4, drop_path=0.0)))
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           "29517", "-m", "sdstrack.cli", "train", str(settings)], env=environment,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    one = load_file(str(single / "model.safetensors"))
    two = load_file(str(tmp_path / "two" / "model" / "model.safetensors"))
    assert max((one[k] - two[k]).abs().max().item() for k in one) <= 1e-5


def test_drop_path_is_stochastic_depth_in_training_only():
    torch.manual_seed(0)
    model = SDSTrack(SDSTrackConfig(**TINY), drop_path_rate=0.5)
    assert [round(b.drop_path, 3) for b in model.backbone.blocks] == [0.0, 0.167, 0.333, 0.5]
    template, search = torch.randn(8, 6, 64, 64), torch.randn(8, 6, 128, 128)
    reference = SDSTrack(SDSTrackConfig(**TINY))
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(model.eval()(template, search).features, reference.eval()(template, search).features)
        trained = model.train()(template, search).features
    assert not torch.equal(trained, reference(template, search).features)


def test_synthetic_sources_are_written_once_and_read_back(tmp_path):
    settings = {"sequences": 2, "length": 8, "x_format": "depth", "seed": 3, "size": [96, 72]}
    source = {"dataset": "synthetic", "root": str(tmp_path / "syn"), "synthetic": settings}
    train(config(tmp_path, tmp_path / "run", train_data=[source], steps=1, batch_size=2), progress=False)
    names = sorted(p.name for p in (tmp_path / "syn").iterdir() if p.is_dir())
    assert names == ["synthetic-depth-0000", "synthetic-depth-0001"]
    other = dict(source, synthetic=dict(settings, seed=4))
    with pytest.raises(DatasetError, match="made with other settings"):
        train(config(tmp_path, tmp_path / "run2", train_data=[other], steps=1, batch_size=2), progress=False)


def test_the_fused_fusion_pass_draws_one_stochastic_depth_per_sample():
    from sdstrack.model.backbone import drop_path

    torch.manual_seed(0)
    update = torch.ones(2 * 64, 5, 3)
    dropped = drop_path(update, 0.5, True, paired_halves=True)
    kept = dropped[:, 0, 0] > 0
    assert torch.equal(kept[:64], kept[64:]) and 0 < kept[:64].sum() < 64
    assert torch.equal(drop_path(update, 0.5, False, paired_halves=True), update)


def test_target_absent_samples_crop_the_hidden_frame_where_the_target_was_last_seen(data):
    sequences = load_dataset("folder", data)  # the target is hidden (ground truth NaN) on frames 3 and 4 of each
    assert all(np.array_equal(np.flatnonzero(s.absent), [3, 4]) for s in sequences)
    model = SDSTrackConfig(**TINY)
    still = dict(center_jitter=0, scale_jitter=0, flip_probability=0, brightness_jitter=0)
    sampler = PairSampler([(sequences, 1.0)], model, SamplingOptions(absent_probability=0.5, **still))
    plain = PairSampler([(sequences, 1.0)], model, SamplingOptions(**still))
    absent = 0
    for index in range(24):
        template, search, box = sampler.sample(index)
        if not np.isnan(box).any():  # a sample with the target: the one drawn without absent samples
            t0, s0, b0 = plain.sample(index)
            assert np.array_equal(box, b0) and np.array_equal(search.rgb, s0.rgb) and np.array_equal(template.x, t0.x)
            continue
        absent += 1
        assert np.isnan(box).all()
        # the search crop: frame 3 or 4 of a sequence, around its frame-2 box (the last with the target visible)
        crops = [FramePair(*s.frame(i), "depth", bgr=True).crop(tuple(s.groundtruth[2]), model.search_factor,
                                                                model.search_size, model.patch_size, 0.0)
                 for s in sequences for i in (3, 4)]
        assert sum(np.array_equal(search.rgb, c.rgb) and np.array_equal(search.x, c.x) for c in crops) == 1
    assert 6 <= absent <= 18  # about half of 24
    assert torch.isnan(sampler.batch(range(24)).boxes).any(1).sum().item() == absent
    # sequences that never hide their target cannot give such samples
    shown = []
    for s in sequences:
        groundtruth = s.groundtruth.copy()
        groundtruth[3:5] = groundtruth[2]
        shown.append(dataclasses.replace(s, groundtruth=groundtruth, absent=np.zeros_like(s.absent)))
    with pytest.raises(DatasetError, match="absent_probability=0.5 asks for target-absent samples"):
        PairSampler([(shown, 1.0)], model, SamplingOptions(absent_probability=0.5))


def test_zoomed_out_samples_show_the_same_target_smaller_in_a_larger_crop(data):
    sequences = load_dataset("folder", data)
    model = SDSTrackConfig(**TINY)
    still = dict(center_jitter=0, scale_jitter=0, flip_probability=0, brightness_jitter=0)
    sampler = PairSampler([(sequences, 1.0)], model, SamplingOptions(zoom_out_probability=0.5, **still))
    plain = PairSampler([(sequences, 1.0)], model, SamplingOptions(**still))

    def crop(sequence, index, box):
        return FramePair(*sequence.frame(index), "depth", bgr=True).crop(tuple(box), model.search_factor,
                                                                          model.search_size, model.patch_size, 0.0)

    zooms = []
    for index in range(32):
        template, search, box = sampler.sample(index)
        t0, s0, b0 = plain.sample(index)  # the same sequence and frames: the zoom draws have a stream of their own
        assert np.array_equal(template.rgb, t0.rgb) and np.allclose(box[:2], 0.5)
        zoom = b0[2] / box[2]  # without jitter the crop side is search_factor * sqrt(w h) of the grown box
        assert np.isclose(b0[3] / box[3], zoom) and 1 - 1e-9 <= zoom <= 3 + 1e-9
        if zoom > 1 + 1e-9:
            zooms.append(zoom)
            # the plain sample's search frame (its crop is the tracker's crop around the ground truth) ...
            frame = next((s, i) for s in sequences for i in np.flatnonzero(~s.absent)
                         if np.array_equal(s0.rgb, crop(s, i, s.groundtruth[i]).rgb))
            # ... cropped around its ground-truth box grown by the zoom factor about its centre
            x, y, w, h = frame[0].groundtruth[frame[1]]
            grown = crop(*frame, (x + w / 2 - zoom * w / 2, y + h / 2 - zoom * h / 2, zoom * w, zoom * h))
            assert np.array_equal(grown.rgb, search.rgb) and np.array_equal(grown.x, search.x)
        else:
            assert np.array_equal(search.rgb, s0.rgb) and np.array_equal(box, b0)
    assert 8 <= len(zooms) <= 24 and max(zooms) > 1.5  # about half of 32, spread over [1, 3]
    with pytest.raises(ValueError, match=r"zoom_out_max=0.5 must be a finite factor of at least 1"):
        SamplingOptions(zoom_out_max=0.5)
    with pytest.raises(ValueError, match=r"zoom_out_probability=2 must lie in \[0, 1\]"):
        SamplingOptions(zoom_out_probability=2)


def test_distractor_centred_samples_crop_around_the_other_object_and_box_the_target_in_it(data):
    model = SDSTrackConfig(**TINY)
    sequences = []  # a look-alike one target width to the right on frames 5-6, three widths away from frame 7 on
    for s in load_dataset("folder", data):
        look = np.full((len(s), 4), np.nan)
        look[5:7] = s.groundtruth[5:7] + [s.groundtruth[5, 2], 0, 0, 0]
        look[7:] = s.groundtruth[7:] + [3 * s.groundtruth[7, 2], 0, 0, 0]
        sequences.append(dataclasses.replace(s, distractors={"look-alike": look}))
    still = dict(center_jitter=0, scale_jitter=0, flip_probability=0, brightness_jitter=0)
    sampler = PairSampler([(sequences, 1.0)], model, SamplingOptions(distractor_probability=0.5, **still))
    plain = PairSampler([(sequences, 1.0)], model, SamplingOptions(**still))
    centred, outside = 0, 0
    for index in range(32):
        template, search, box = sampler.sample(index)
        t0, s0, b0 = plain.sample(index)
        if np.array_equal(search.rgb, s0.rgb):  # not distractor-centred: the sample drawn without the option
            assert np.array_equal(box, b0) and np.array_equal(template.x, t0.x) and np.allclose(box[:2], 0.5)
            continue
        centred += 1
        # the tracker's own crop around the look-alike's box of one frame from 5 on ...
        matches = [(s, i) for s in sequences for i in range(5, len(s))
                   if _same_crop(search, FramePair(*s.frame(i), "depth", bgr=True).crop(
                       tuple(s.distractors["look-alike"][i]), model.search_factor, model.search_size,
                       model.patch_size, 0.0))]
        assert matches  # (crops of far-right boxes can be all padding, the same on several frames)
        # ... with the target's box in it: one look-alike width left of the centre (the crop's side, in frame
        # pixels, is search_factor times the box's geometric-mean side, rounded), or, three widths away, outside
        # the crop and NaN
        if np.isnan(box).all():
            outside += 1
            assert all(frame >= 7 for _, frame in matches)
            continue
        (sequence, frame), = matches
        x, y, w, h = sequence.distractors["look-alike"][frame]
        side = model.search_size / search.resize_factor
        assert frame < 7 and abs(side - model.search_factor * np.sqrt(w * h)) <= 1
        np.testing.assert_allclose(box, [0.5 - sequence.groundtruth[5, 2] / side, 0.5, w / side, h / side], rtol=1e-6)
    assert 8 <= centred <= 24 and 0 < outside < centred  # about half of 32
    with pytest.raises(DatasetError, match="distractor_probability=0.5 asks for search crops centred on other"):
        PairSampler([(load_dataset("folder", data), 1.0)], model, SamplingOptions(distractor_probability=0.5))
    with pytest.raises(ValueError, match=r"distractor_probability=-0.1 must lie in \[0, 1\]"):
        SamplingOptions(distractor_probability=-0.1)


def _same_crop(a, b) -> bool:
    return np.array_equal(a.rgb, b.rgb) and np.array_equal(a.x, b.x)


def test_a_run_with_target_absent_samples_trains_on_finite_losses(data, tmp_path):
    run = config(data, tmp_path / "run", steps=3, batch_size=4, sampling={"absent_probability": 0.5})
    train(run, progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r for r in log if "loss" in r]
    assert len(losses) == 3 and all(np.isfinite(r[k]) for r in losses for k in ("loss", "clean/giou", "clean/focal"))
    # its 12 samples (global indices 0-11, seed 0) hold target-absent ones: NaN boxes, which reached the loss
    sampler = PairSampler([(load_dataset("folder", data), 1.0)], SDSTrackConfig(**TINY),
                          SamplingOptions(absent_probability=0.5), seed=0)
    assert torch.isnan(sampler.batch(range(12)).boxes).any(1).any()
