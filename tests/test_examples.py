"""The example scripts run as users run them, on a clip made by examples/make_demo_clip.py."""

import subprocess
import sys

import pytest

from .conftest import REPO

EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def demo_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run([sys.executable, EXAMPLES / "make_demo_clip.py", folder, "--frames", "32"], check=True)
    return folder


def _run(*args):
    done = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_track_folder(demo_clip):
    lines = _run(EXAMPLES / "track_folder.py", demo_clip)
    assert len(lines) == 32 and "score" in lines[-1]


def test_missing_sensor_demo(demo_clip):
    lines = _run(EXAMPLES / "missing_sensor_demo.py", demo_clip)
    notes = {note for note in ("depth camera dropped", "RGB camera dropped", "left half of depth missing")
             if any(note in line for line in lines)}
    assert len(lines) == 32 and len(notes) == 3


def test_multi_target(demo_clip):
    lines = _run(EXAMPLES / "multi_target.py", demo_clip, "40,150,70,60", "300,40,50,80")
    assert len(lines) == 32 and "#1:" in lines[-1]
