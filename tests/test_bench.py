"""`sdstrack bench` runs and writes coherent numbers (a smoke run on the reduced model; the speed
targets themselves are checked by running the benchmark, never by timed tests)."""

import json

from sdstrack.cli import main


def test_bench_smoke_run(tmp_path, fixtures, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--reduced", "--rounds", "1", "--targets", "1,2", "--soak-frames", "200", "--skip-onnx",
                 "--parity-dir", str(fixtures), "--json", str(out)])
    assert code == 0
    results = json.loads(out.read_text())
    modes = results["network"]["modes"]
    assert {"eager float32", "fast float32"} <= set(modes)
    for row in modes.values():
        assert row["ms_per_frame"] > 0 and row["achieved_gflops"] > 0
        assert abs(row["frames_per_s"] * row["ms_per_frame"] - 1000) < 1e-6
    assert modes["eager float32"]["speedup_vs_eager_float32"] == 1.0
    assert results["network"]["matmul_gflops"]["float32"] > 0
    assert set(results["targets"]["targets"]) == {"1", "2"}
    soak = results["soak"]
    assert soak["frames"] == 200 and soak["samples"][-1]["frame"] == 200
    assert "frames/s" in capsys.readouterr().out
