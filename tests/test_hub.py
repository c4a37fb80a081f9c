"""Loading by Hub repo id from a Hugging Face cache folder built on disk; HF_HUB_OFFLINE=1 throughout."""

import os
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from sdstrack import Tracker
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


def test_neither_folder_nor_repo_id(tmp_path):
    with pytest.raises(CheckpointError, match="neither an existing local folder nor a valid Hub repo id"):
        Tracker.from_pretrained(str(tmp_path / "no" / "such" / "folder"), device="cpu")
