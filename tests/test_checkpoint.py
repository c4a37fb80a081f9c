"""config.json + model.safetensors folders: bit-exact round trip and strict, named errors."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from sdstrack import SDSTrack, SDSTrackConfig
from sdstrack.checkpoint import CheckpointError, load_state_dict_strict

from .conftest import REPO


def test_save_load_round_trip_is_bit_exact(tiny_model, forward_io, tmp_path):
    tiny_model.save_pretrained(tmp_path / "copy")
    loaded = SDSTrack.from_pretrained(tmp_path / "copy")
    assert loaded.config == tiny_model.config
    original, reloaded = tiny_model.state_dict(), loaded.state_dict()
    assert original.keys() == reloaded.keys()
    for name in original:
        assert torch.equal(original[name], reloaded[name]), name
    with torch.inference_mode():
        a = tiny_model(forward_io["input.template"], forward_io["input.search"])
        b = loaded(forward_io["input.template"], forward_io["input.search"])
    assert torch.equal(a.score_map, b.score_map) and torch.equal(a.boxes, b.boxes)
    assert not loaded.training


def _copy_with(tiny_dir, tmp_path, edit):
    tensors = load_file(str(tiny_dir / "model.safetensors"))
    edit(tensors)
    out = tmp_path / "edited"
    out.mkdir()
    save_file(tensors, str(out / "model.safetensors"))
    (out / "config.json").write_text((tiny_dir / "config.json").read_text())
    return out


def test_unexpected_key_is_named(tiny_dir, tmp_path):
    folder = _copy_with(tiny_dir, tmp_path, lambda t: t.update({"backbone.extra": torch.zeros(1)}))
    with pytest.raises(CheckpointError, match=r"unexpected keys \['backbone\.extra'\]"):
        SDSTrack.from_pretrained(folder)


def test_missing_key_is_named(tiny_dir, tmp_path):
    folder = _copy_with(tiny_dir, tmp_path, lambda t: t.pop("head.size.2.norm.bias"))
    with pytest.raises(CheckpointError, match=r"missing keys \['head\.size\.2\.norm\.bias'\]"):
        SDSTrack.from_pretrained(folder)


def test_config_weights_mismatch_names_shapes(tiny_dir, tmp_path):
    folder = _copy_with(tiny_dir, tmp_path, lambda t: None)
    config = json.loads((folder / "config.json").read_text())
    config["head_channels"] = 64
    (folder / "config.json").write_text(json.dumps(config))
    expected = r"head\.score\.0\.conv\.weight: checkpoint \(32, 64, 3, 3\) vs model \(64, 64, 3, 3\)"
    with pytest.raises(CheckpointError, match=expected):
        SDSTrack.from_pretrained(folder)


def test_corrupted_weights_file(tiny_dir, tmp_path):
    folder = _copy_with(tiny_dir, tmp_path, lambda t: None)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupted"):
        SDSTrack.from_pretrained(folder)


def test_folder_without_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="has no config.json"):
        SDSTrack.from_pretrained(tmp_path)


def test_unknown_config_field(tiny_dir, tmp_path):
    folder = _copy_with(tiny_dir, tmp_path, lambda t: None)
    config = json.loads((folder / "config.json").read_text())
    config["rope"] = True
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"unknown fields \['rope'\]"):
        SDSTrack.from_pretrained(folder)


def test_mismatch_error_of_another_model_size_is_summarised(tiny_model):
    """A dim-64 checkpoint into a dim-32 model: every key mismatches; the error counts them instead of listing all."""
    model = SDSTrack(SDSTrackConfig(embed_dim=32, num_heads=4, head_channels=32))
    checkpoint, expected = tiny_model.state_dict(), model.state_dict()
    assert checkpoint.keys() == expected.keys()
    count = sum(checkpoint[name].shape != expected[name].shape for name in expected)
    assert count > 5
    with pytest.raises(CheckpointError) as info:
        load_state_dict_strict(model, checkpoint, source="dim64")
    message = str(info.value)
    assert len(message) < 2000, len(message)
    assert "shape mismatches [" in message
    assert f"... and {count - 5} more ({count} in all)" in message
    assert message.count(": checkpoint (") == 5
    assert "missing keys" not in message and "unexpected keys" not in message
    assert "sdstrack convert" in message


def test_many_missing_and_unexpected_keys_are_counted(tiny_model):
    model = SDSTrack(tiny_model.config)
    state = dict(tiny_model.state_dict())
    removed = [name for name in state if name.startswith("backbone.blocks.11.")]
    for name in removed:
        state[f"extra.{name}"] = state.pop(name)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_strict(model, state)
    message = str(info.value)
    assert f"missing keys ['{removed[0]}'" in message
    assert f"unexpected keys ['extra.{removed[0]}'" in message
    assert message.count(f"... and {len(removed) - 5} more ({len(removed)} in all)") == 2


def test_read_config_needs_no_weights(tmp_path):
    from sdstrack.checkpoint import read_config

    SDSTrackConfig(modality="event", embed_dim=64, num_heads=4).save(tmp_path / "config.json")  # no weights file
    config = read_config(tmp_path)
    assert (config.modality, config.embed_dim) == ("event", 64)
    # a short name reads the bundled model's config (the file in the checkout's weights/ folder)
    assert read_config("sdstrack-demo") == SDSTrackConfig.load(REPO / "weights" / "sdstrack-demo" / "config.json")
