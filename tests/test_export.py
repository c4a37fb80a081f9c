"""ONNX export and the ONNX Runtime tracker backend against the PyTorch path."""

import re
import shutil

import numpy as np
import pytest
import torch

from sdstrack import MultiTracker, SDSTrack, Tracker
from sdstrack.backends.onnx_runtime import OnnxRuntimeBackend
from sdstrack.cli import main
from sdstrack.export import ONNX_NAME
from sdstrack.model import example_crops

from .test_tracker import _load_clip


@pytest.fixture(scope="module")
def onnx_dir(tiny_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_dir / name, folder / name)
    assert main(["export-onnx", str(folder), "--max-batch", "8"]) == 0
    return folder


def test_onnx_network_matches_pytorch_with_masks_and_batches(onnx_dir, tiny_model):
    network = OnnxRuntimeBackend(onnx_dir / ONNX_NAME, tiny_model.config)
    generator = torch.Generator().manual_seed(0)
    for batch in (1, 3):
        template = torch.randn(batch, 6, 128, 128, generator=generator)
        search = torch.randn(batch, 6, 256, 256, generator=generator)
        x_mask = torch.rand(batch, 320, generator=generator) < 0.3
        with torch.inference_mode():
            reference = tiny_model(template, search, x_mask=x_mask)
        ours = network(template, search, x_mask=x_mask)
        for name in ("score_map", "size_map", "offset_map", "boxes"):
            assert (getattr(ours, name) - getattr(reference, name)).abs().max() <= 1e-5, name
        assert (ours.features - reference.features).abs().max() <= 1e-4


def test_the_export_is_one_self_contained_file(onnx_dir, tiny_model, tmp_path):
    assert sorted(p.name for p in onnx_dir.iterdir()) == ["config.json", ONNX_NAME, "model.safetensors"]
    for name in ("config.json", ONNX_NAME):  # what the backend fetches from the Hub: no weights side file
        shutil.copy(onnx_dir / name, tmp_path / name)
    template, search = example_crops(tiny_model.config)
    with torch.inference_mode():
        reference = tiny_model(template, search)
    assert (OnnxRuntimeBackend.from_folder(tmp_path)(template, search).boxes - reference.boxes).abs().max() <= 1e-5


def test_onnx_tracker_reproduces_original_track(onnx_dir, fixtures):
    rgb, depth, boxes = _load_clip(fixtures)
    reference = np.loadtxt(fixtures / "official_track.txt", delimiter=",")
    tracker = Tracker.from_pretrained(onnx_dir, backend="onnxruntime")
    results = [tracker.init(rgb[0], depth[0], boxes[0])] + [tracker.update(rgb[i], depth[i]) for i in range(1, 24)]
    ours = np.array([[*r.box, r.score] for r in results])
    assert np.abs(ours[:, :4] - reference[:, :4]).max() <= 0.01
    assert np.abs(ours[:, 4] - reference[:, 4]).max() <= 1e-5


def test_onnx_multi_target(onnx_dir, fixtures, tiny_model):
    rgb, depth, boxes = _load_clip(fixtures, count=4)
    starts = [tuple(boxes[0]), (300.0, 40.0, 50.0, 80.0)]
    onnx = MultiTracker.from_pretrained(onnx_dir, backend="onnxruntime")
    torch_tracker = MultiTracker(tiny_model, device="cpu")
    onnx.init(rgb[0], depth[0], starts)
    torch_tracker.init(rgb[0], depth[0], starts)
    for i in range(1, 4):
        for a, b in zip(onnx.update(rgb[i], depth[i]), torch_tracker.update(rgb[i], depth[i])):
            assert np.allclose(a.box, b.box, atol=1e-3) and abs(a.score - b.score) <= 1e-5


def test_missing_onnx_file_says_how_to_export(tiny_dir):
    from sdstrack.checkpoint import CheckpointError

    expected = rf"has no model\.onnx\. .*`sdstrack export-onnx {re.escape(str(tiny_dir))}`"
    with pytest.raises(CheckpointError, match=expected):
        Tracker.from_pretrained(tiny_dir, backend="onnxruntime")


def test_onnx_backend_refuses_gpu_options(onnx_dir):
    with pytest.raises(ValueError, match="CPU in float32"):
        Tracker.from_pretrained(onnx_dir, backend="onnxruntime", dtype=torch.float16)
    assert isinstance(SDSTrack.from_pretrained(onnx_dir), SDSTrack)
