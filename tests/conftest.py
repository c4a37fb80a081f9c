"""Shared test fixtures. No test touches the network: the Hub is forced offline before any import.

Tests that need the parity fixtures (``../shared/fixtures/official_parity`` beside the repository, or the
folder ``SDSTRACK_FIXTURES`` names) ask for the ``fixtures`` fixture, directly or through ``tiny_dir``,
``tiny_model`` or ``forward_io``: they are marked ``parity`` and skipped, with the reason, when the
fixtures are absent. ``.ci/run`` refuses to run without them, so CI never skips them.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUNDLED_MODEL = REPO / "weights" / "sdstrack-tiny-random"
DEMO_FRAMES = 32
FIXTURES = Path(os.environ.get("SDSTRACK_FIXTURES", REPO.parent / "shared" / "fixtures" / "official_parity"))

FIXTURES_MISSING = (
    None
    if (FIXTURES / "official_tiny.safetensors").is_file()
    else f"parity fixtures not found at {FIXTURES}: check out shared/ beside the repository "
    f"(../shared/fixtures/official_parity) or set SDSTRACK_FIXTURES to the fixtures folder"
)

torch.set_num_threads(min(2, torch.get_num_threads()))

# A small model for training and evaluation tests (a few ms per forward): 4 blocks, 64/128 px crops.
SMALL_MODEL = {"embed_dim": 32, "depth": 4, "num_heads": 2, "fusion_layers": (1, 3), "ce_layers": (1, 2),
               "head_channels": 16, "template_size": 64, "search_size": 128}

# The fixture's reduced model has 4 heads, which cannot be read off its weights.
TINY_HEADS = 4


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the parity fixtures (``-m "not parity"`` leaves them out)."""
    for item in items:
        if "fixtures" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.parity)


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The parity fixtures folder; skips the test, saying where they were looked for, when absent."""
    if FIXTURES_MISSING:
        pytest.skip(FIXTURES_MISSING)
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, fixtures) -> Path:
    """The fixture's original-format checkpoint converted by our converter."""
    from sdstrack.convert import convert_checkpoint

    out = tmp_path_factory.mktemp("tiny")
    convert_checkpoint(fixtures / "official_tiny.safetensors", out, "depth", num_heads=TINY_HEADS)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_dir):
    from sdstrack import SDSTrack

    return SDSTrack.from_pretrained(tiny_dir)


@pytest.fixture(scope="session")
def forward_io(fixtures) -> dict:
    return load_file(str(fixtures / "forward_io.safetensors"))


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory) -> Path:
    """A DEMO_FRAMES-frame RGB-D sequence folder written by examples/make_demo_clip.py (no fixtures needed)."""
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run([sys.executable, REPO / "examples" / "make_demo_clip.py", folder, "--frames", str(DEMO_FRAMES)],
                   check=True, capture_output=True)
    return folder
