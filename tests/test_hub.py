"""Loading by Hub repo id from a Hugging Face cache folder built on disk; HF_HUB_OFFLINE=1 throughout."""

import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from sdstrack import SDSTrack, Tracker, checkpoint
from sdstrack.checkpoint import CheckpointError

MAIN_COMMIT = "a" * 40
PINNED_COMMIT = "b" * 40


@pytest.fixture()
def hub_cache(tmp_path, tiny_dir):
    """A cache holding repo 'sdstrack-tests/tiny' at two commits; 'main' points at the first. The
    pinned commit's head bias differs, so the test can tell which snapshot was loaded."""
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    repo = tmp_path / "models--sdstrack-tests--tiny"
    for commit in (MAIN_COMMIT, PINNED_COMMIT):
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        shutil.copy(tiny_dir / "config.json", snapshot / "config.json")
        tensors = load_file(str(tiny_dir / "model.safetensors"))
        if commit == PINNED_COMMIT:
            tensors["head.score.4.bias"] = tensors["head.score.4.bias"] + 1.0
        save_file(tensors, str(snapshot / "model.safetensors"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(MAIN_COMMIT)
    return tmp_path


def _score_bias(tracker):
    return tracker.model.head.score[4].bias.detach().clone()


def test_repo_id_loads_from_cache(hub_cache, tiny_model):
    tracker = Tracker.from_pretrained("sdstrack-tests/tiny", cache_dir=hub_cache, device="cpu")
    assert torch.equal(_score_bias(tracker), tiny_model.head.score[4].bias)


def test_pinned_revision(hub_cache, tiny_model):
    tracker = Tracker.from_pretrained("sdstrack-tests/tiny", revision=PINNED_COMMIT, cache_dir=hub_cache, device="cpu")
    assert torch.equal(_score_bias(tracker), tiny_model.head.score[4].bias + 1.0)


def test_offline_miss_says_what_to_do(hub_cache):
    with pytest.raises(CheckpointError, match=r"not in the Hugging Face cache .*HF_HUB_OFFLINE=1 is set.*local folder"):
        Tracker.from_pretrained("sdstrack-tests/absent", cache_dir=hub_cache, device="cpu")


def test_offline_miss_of_unknown_revision(hub_cache):
    with pytest.raises(CheckpointError, match="revision " + "c" * 40):
        Tracker.from_pretrained("sdstrack-tests/tiny", revision="c" * 40, cache_dir=hub_cache, device="cpu")


def test_neither_folder_nor_repo_id():
    with pytest.raises(CheckpointError, match="neither an existing local folder nor a valid Hub repo id"):
        Tracker.from_pretrained("no such model!", device="cpu")


@pytest.fixture()
def no_hub(monkeypatch):
    """Any Hub request fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"hf_hub_download was called with {args}")

    monkeypatch.setattr(checkpoint, "hf_hub_download", forbidden)


def test_mistyped_local_path_suggests_sibling_without_hub_call(tmp_path, no_hub):
    weights = tmp_path / "weights"
    (weights / "sdstrack-tiny-random").mkdir(parents=True)
    (weights / "sdstrack-tiny-random" / "config.json").write_text("{}")
    (weights / "not-a-checkpoint").mkdir()
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as info:
        SDSTrack.from_pretrained(weights / "sdstrak-demo")
    assert time.perf_counter() - start < 0.5
    message = str(info.value)
    assert f"{weights / 'sdstrak-demo'} does not exist" in message
    assert f"Did you mean {weights / 'sdstrack-tiny-random'}?" in message
    assert "not-a-checkpoint" not in message
    assert "'owner/name'" in message


def test_mistyped_relative_path_as_string(tmp_path, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights" / "sdstrack-tiny-random").mkdir(parents=True)
    (tmp_path / "weights" / "sdstrack-tiny-random" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"Did you mean weights/sdstrack-tiny-random\?") as info:
        checkpoint.resolve("weights/sdstrak-demo")
    assert str(tmp_path / "weights" / "sdstrak-demo") in str(info.value)


@pytest.mark.parametrize(
    "name", ["./nope", "a/b/c", "existingdir/missing", "trailing/", "/no/such/folder", "~/no-such-sdstrack-folder"]
)
def test_path_like_names_are_local_errors(name, tmp_path, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existingdir").mkdir()
    with pytest.raises(CheckpointError, match="does not exist") as info:
        checkpoint.resolve(name)
    assert str(Path(name).expanduser().absolute()).rstrip("/") in str(info.value)


def test_missing_parent_folder_is_said(tmp_path, no_hub):
    with pytest.raises(CheckpointError, match=r"parent folder .*no.such does not exist either"):
        checkpoint.resolve(tmp_path / "no" / "such" / "folder")


def test_path_object_is_always_local(tmp_path, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.resolve(Path("owner/name"))


def test_owner_name_without_local_folder_reaches_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []

    def record(repo_id, filename, **kwargs):
        calls.append((repo_id, filename))
        return str(tmp_path / "snapshot" / filename)

    monkeypatch.setattr(checkpoint, "hf_hub_download", record)
    assert checkpoint.resolve("owner/name") == tmp_path / "snapshot"
    assert calls == [("owner/name", "config.json"), ("owner/name", "model.safetensors")]
