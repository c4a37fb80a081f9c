"""Shared test fixtures. No test touches the network: the Hub is forced offline before any import."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("SDSTRACK_FIXTURES", REPO.parent / "shared" / "fixtures" / "official_parity"))

if not (FIXTURES / "official_tiny.safetensors").is_file():
    raise RuntimeError(
        f"parity fixtures not found at {FIXTURES}: check out ../shared beside the repo or set SDSTRACK_FIXTURES"
    )

torch.set_num_threads(min(2, torch.get_num_threads()))

# The fixture's reduced model has 4 heads, which cannot be read off its weights.
TINY_HEADS = 4


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """The fixture's original-format checkpoint converted by our converter."""
    from sdstrack.convert import convert_checkpoint

    out = tmp_path_factory.mktemp("tiny")
    convert_checkpoint(FIXTURES / "official_tiny.safetensors", out, "depth", num_heads=TINY_HEADS)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_dir):
    from sdstrack import SDSTrack

    return SDSTrack.from_pretrained(tiny_dir)


@pytest.fixture(scope="session")
def forward_io() -> dict:
    return load_file(str(FIXTURES / "forward_io.safetensors"))
