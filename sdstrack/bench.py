"""``sdstrack bench``: speed, precision and memory of this machine, every ratio measured in one run.

Prints, for the paper's ViT-B configuration with one search frame: ms/frame and frames/s of the eager
reference and of the fast path (float32 and reduced precision), GFLOP per frame and the achieved
GFLOP/s next to a matrix-multiply rate measured in the same run, peak memory, target-frames/s for
several targets, ONNX Runtime frames/s, what reduced precision does to the boxes on the parity clip,
and memory over a long soak run of the tracker (a reduced model: on CPU ViT-B needs about a second a
frame). Modes are timed in interleaved rounds and reported by their median, so that a busy machine
slows them alike. Results also go to a JSON file.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from .backends.pytorch import TorchBackend
from .config import SDSTrackConfig
from .io import SequenceFolder
from .model import SDSTrack, example_crops
from .runtime import dtype_name, parse_dtype, resolve_device
from .tracker import Tracker

REDUCED_CONFIG = SDSTrackConfig(embed_dim=64, num_heads=4, head_channels=32)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _synchronize(device)
    start = time.perf_counter()
    fn()
    _synchronize(device)
    return time.perf_counter() - start


def interleaved_medians(cases: dict[str, Callable[[], object]], device: torch.device, rounds: int) -> dict:
    """Median seconds per case; every round runs every case once, after one warm-up call each."""
    for fn in cases.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            times[name].append(_timed(fn, device))
    return {name: statistics.median(values) for name, values in times.items()}


def matmul_case(dtype: torch.dtype, device: torch.device, size: int = 1024, repeats: int = 20):
    """A timing case of ``repeats`` size^3 matrix products, and its FLOP count."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)

    def case() -> None:
        for _ in range(repeats):
            a @ b

    return case, 2 * size**3 * repeats


def rss_bytes() -> int:
    """Resident memory of this process now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return _peak_rss()


def reduced_dtypes(device: torch.device) -> list[torch.dtype]:
    """Reduced precisions worth benchmarking on this device."""
    if device.type == "cuda":
        return [torch.float16] + ([torch.bfloat16] if torch.cuda.is_bf16_supported() else [])
    if device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return [torch.bfloat16]
    if device.type == "mps":
        return [torch.float16]
    return []


def _machine(device: torch.device) -> dict:
    info = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench_network(
    config: SDSTrackConfig,
    device: torch.device,
    reduced: list[torch.dtype],
    rounds: int,
    use_compile: bool,
    report: Callable[[str], None],
) -> dict:
    """Eager vs fast vs reduced precision, batch 1, and FLOP/s against the matmul rate."""
    torch.manual_seed(0)
    eager = SDSTrack(config).eval().to(device)
    eager.set_attention("eager")
    fast = copy.deepcopy(eager)
    fast.set_attention("fast")
    template, search = example_crops(config, device=device)
    models = {"eager float32": eager, "fast float32": fast}
    for dtype in reduced:
        models[f"fast {dtype_name(dtype)}"] = TorchBackend(fast, device=device, dtype=dtype)
    if use_compile:
        mode = "reduce-overhead" if device.type == "cuda" else None
        for name in list(models):
            if name.startswith("fast"):
                models[f"{name} compiled"] = torch.compile(models[name], mode=mode)
    results: dict = {"matmul_gflops": {}, "modes": {}}
    with torch.inference_mode():
        flops = {}
        for name in ("eager float32", "fast float32"):
            with FlopCounterMode(display=False) as counter:
                models[name](template, search)
            flops[name] = counter.get_total_flops()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        cases = {name: (lambda m=model: m(template, search)) for name, model in models.items()}
        matmul_flops = {}
        for dtype in [torch.float32, *reduced]:
            cases[f"matmul {dtype_name(dtype)}"], matmul_flops[dtype_name(dtype)] = matmul_case(dtype, device)
        medians = interleaved_medians(cases, device, rounds)
    for dtype, count in matmul_flops.items():
        results["matmul_gflops"][dtype] = count / medians.pop(f"matmul {dtype}") / 1e9
    eager_time = medians["eager float32"]
    for name, seconds in medians.items():
        dtype = name.split()[1]
        frame_flops = flops["eager float32" if name.startswith("eager") else "fast float32"]
        achieved = frame_flops / seconds / 1e9
        results["modes"][name] = {
            "ms_per_frame": seconds * 1e3,
            "frames_per_s": 1 / seconds,
            "gflop_per_frame": frame_flops / 1e9,
            "achieved_gflops": achieved,
            "fraction_of_matmul_rate": achieved / results["matmul_gflops"][dtype],
            "speedup_vs_eager_float32": eager_time / seconds,
        }
    results["peak_memory_bytes"] = (
        torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _peak_rss()
    )
    rates = ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in results["matmul_gflops"].items())
    report(f"matrix product rate (1024^3, median of the same rounds): {rates}")
    columns = ("ms/frame", "frames/s", "GFLOP", "GFLOP/s", "of matmul", "vs eager")
    report(f"{_model_name(config) + ', 1 target':28s} " + " ".join(f"{c:>9s}" for c in columns))
    for name, row in results["modes"].items():
        report(f"{name:28s} {row['ms_per_frame']:9.1f} {row['frames_per_s']:9.2f} {row['gflop_per_frame']:7.1f} "
               f"{row['achieved_gflops']:8.1f} {row['fraction_of_matmul_rate']:9.0%} "
               f"{row['speedup_vs_eager_float32']:8.2f}x")
    report(f"peak memory: {results['peak_memory_bytes'] / 2**20:.0f} MiB "
           f"({'CUDA allocated' if device.type == 'cuda' else 'process RSS'})")
    return results


def _model_name(config: SDSTrackConfig) -> str:
    return "ViT-B" if config == SDSTrackConfig(modality=config.modality) else f"dim-{config.embed_dim} model"


def _peak_rss() -> int:
    """Peak resident memory of this process so far."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def bench_targets(
    config: SDSTrackConfig,
    device: torch.device,
    reduced: list[torch.dtype],
    counts: list[int],
    rounds: int,
    report: Callable[[str], None],
) -> dict:
    """Target-frames/s of the fast path in its best precision with N targets in one batch."""
    torch.manual_seed(0)
    dtype = reduced[0] if reduced else torch.float32
    model = TorchBackend(SDSTrack(config), device=device, dtype=dtype, copy_model=False)
    cases = {}
    for count in counts:
        template, search = example_crops(config, count, device=device)
        cases[count] = lambda t=template, s=search: model(t, s)
    with torch.inference_mode():
        medians = interleaved_medians(cases, device, rounds)
    results = {"dtype": dtype_name(dtype), "targets": {}}
    for count, seconds in medians.items():
        results["targets"][str(count)] = {"ms_per_frame": seconds * 1e3, "target_frames_per_s": count / seconds}
        report(f"{count:3d} targets ({dtype_name(dtype)}): {seconds * 1e3:8.1f} ms/frame, "
               f"{count / seconds:7.2f} target-frames/s")
    return results


def bench_onnx(config: SDSTrackConfig, rounds: int, report: Callable[[str], None]) -> dict:
    """ONNX Runtime (CPU, float32) frames/s and its agreement with the PyTorch fast path."""
    from .backends.onnx_runtime import OnnxRuntimeBackend
    from .export import export_onnx

    torch.manual_seed(0)
    model = SDSTrack(config).eval()
    template, search = example_crops(config)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = export_onnx(model, Path(folder) / "model.onnx", max_batch=16)
        export_seconds = time.perf_counter() - start
        network = OnnxRuntimeBackend(path, model.config)
        with torch.inference_mode():
            medians = interleaved_medians(
                {"onnxruntime": lambda: network(template, search),
                 "torch fast float32": lambda: model(template, search)},
                torch.device("cpu"),
                rounds,
            )
            difference = (network(template, search).score_map - model(template, search).score_map).abs().max().item()
    results = {
        "export_seconds": export_seconds,
        "ms_per_frame": medians["onnxruntime"] * 1e3,
        "frames_per_s": 1 / medians["onnxruntime"],
        "torch_fast_float32_ms_per_frame": medians["torch fast float32"] * 1e3,
        "max_abs_score_map_difference": difference,
    }
    report(f"ONNX Runtime (CPU, float32): {results['ms_per_frame']:.1f} ms/frame, "
           f"{results['frames_per_s']:.2f} frames/s "
           f"(PyTorch fast float32 {results['torch_fast_float32_ms_per_frame']:.1f} ms in the same rounds); "
           f"score map max |diff| {difference:.1e}; export took {export_seconds:.0f} s")
    return results


def bench_precision(
    device: torch.device, reduced: list[torch.dtype], parity_dir: Path, report: Callable[[str], None]
) -> dict:
    """Box and score differences of reduced precision against float32 on the parity clip.

    Open loop: every frame is searched around the float32 tracker's previous box, so the numbers are
    the per-frame error. Closed loop: each tracker follows its own boxes, so one flipped arg-max cell
    sends the trajectories apart (the fixture model has random weights and flat score maps).
    """
    from .checkpoint import CheckpointError
    from .convert import convert_checkpoint

    clip = SequenceFolder(parity_dir / "sequence")
    rgb, depth = (list(frames) for frames in zip(*clip))
    first_box = clip.first_box
    with tempfile.TemporaryDirectory() as folder:
        try:
            model = convert_checkpoint(parity_dir / "official_tiny.safetensors", folder, "depth", num_heads=4)
        except CheckpointError as err:
            report(f"precision: skipped ({err})")
            return {}
    results = {}
    for dtype in reduced:
        reference = Tracker(model, device=device, bgr=True)
        reduced = Tracker(model, device=device, dtype=dtype, bgr=True)
        follower = Tracker(model, device=device, dtype=dtype, bgr=True)
        for tracker in (reference, reduced, follower):
            tracker.init(rgb[0], depth[0], first_box)
        open_loop, closed_loop, scores = [], [], []
        for frame_rgb, frame_depth in zip(rgb[1:], depth[1:]):
            reduced._boxes = list(reference._boxes)
            a = reference.update(frame_rgb, frame_depth)
            b = reduced.update(frame_rgb, frame_depth)
            c = follower.update(frame_rgb, frame_depth)
            open_loop.append(float(np.abs(np.subtract(a.box, b.box)).max()))
            closed_loop.append(float(np.abs(np.subtract(a.box, c.box)).max()))
            scores.append(abs(a.score - b.score))
        name = dtype_name(dtype)
        results[name] = {
            "open_loop_max_box_error_px": max(open_loop),
            "open_loop_median_box_error_px": statistics.median(open_loop),
            "open_loop_frames_within_1px": sum(e <= 1 for e in open_loop) / len(open_loop),
            "open_loop_max_score_error": max(scores),
            "closed_loop_max_box_drift_px": max(closed_loop),
            "closed_loop_first_frame_over_1px": next((i + 1 for i, e in enumerate(closed_loop) if e > 1), None),
        }
        r = results[name]
        report(f"precision {name} vs float32 on the parity clip: open loop max "
               f"{r['open_loop_max_box_error_px']:.2f} px "
               f"(median {r['open_loop_median_box_error_px']:.3f} px, {r['open_loop_frames_within_1px']:.0%} of frames "
               f"within 1 px), score max {r['open_loop_max_score_error']:.4f}; closed loop max drift "
               f"{r['closed_loop_max_box_drift_px']:.1f} px, first frame over 1 px: "
               f"{r['closed_loop_first_frame_over_1px']}")
    return results


def bench_preprocessing(rounds: int, report: Callable[[str], None], width: int = 640, height: int = 480) -> dict:
    """Per-frame preprocessing of one RGB-D frame for one target (search crop: check, render, crop,
    validity mask, normalise): the crop-first path against rendering and concatenating the whole frame
    first (the original's order), timed in the same interleaved rounds; their crops must be equal."""
    from .modalities import depth_validity, render_x
    from .preprocessing import FramePair, normalise

    config = SDSTrackConfig()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    depth = rng.integers(500, 8000, (height, width)).astype(np.uint16)
    depth[rng.random((height, width)) < 0.02] = 0
    box = (0.4 * width, 0.4 * height, 0.12 * width, 0.15 * height)
    crop_args = (box, config.search_factor, config.search_size, config.patch_size, 0.5)

    def crop_first():
        crop = FramePair(rgb, depth, "depth").crop(*crop_args)
        return crop, normalise([crop], config)

    def whole_frame_first():
        image = np.concatenate([rgb, render_x(depth, "depth")], axis=2)
        pair = FramePair(image[..., :3], image[..., 3:], "rendered", x_valid=depth_validity(depth))
        crop = pair.crop(*crop_args)
        return crop, normalise([crop], config)

    fast, reference = crop_first(), whole_frame_first()
    identical = all(np.array_equal(getattr(fast[0], name), getattr(reference[0], name))
                    for name in ("rgb", "x", "x_mask"))
    identical = identical and np.array_equal(fast[1], reference[1])
    medians = interleaved_medians(
        {"crop first": crop_first, "whole frame first": whole_frame_first}, torch.device("cpu"), rounds * 20
    )
    results = {
        "frame": f"{width}x{height} RGB + uint16 depth, 1 target, {config.search_size} px search crop",
        "ms_crop_first": medians["crop first"] * 1e3,
        "ms_whole_frame_first": medians["whole frame first"] * 1e3,
        "speedup": medians["whole frame first"] / medians["crop first"],
        "bit_identical": identical,
    }
    report(f"preprocessing ({results['frame']}): {results['ms_crop_first']:.2f} ms/frame, rendering the whole "
           f"frame first {results['ms_whole_frame_first']:.2f} ms ({results['speedup']:.1f}x); crops, masks and "
           f"normalised input identical: {identical}")
    return results


def bench_soak(device: torch.device, frames: int, report: Callable[[str], None]) -> dict:
    """Memory of a tracker (reduced model) over ``frames`` synthetic frames, sampled every 100 frames."""
    torch.manual_seed(0)
    model = SDSTrack(REDUCED_CONFIG)
    tracker = Tracker(model, device=device)
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (360, 480, 3), dtype=np.uint8)
    depth = rng.integers(500, 5000, (360, 480)).astype(np.uint16)
    tracker.init(background, depth, (200, 150, 60, 50))
    samples = []
    warmup = min(200, frames // 10)
    start = time.perf_counter()
    for index in range(1, frames + 1):
        rgb = np.roll(background, index % 480, axis=1)
        tracker.update(rgb, depth if index % 7 else None)  # every 7th frame without depth: the masked path
        if index >= warmup and index % 100 == 0:
            allocated = torch.cuda.memory_allocated(device) if device.type == "cuda" else None
            samples.append({"frame": index, "rss_bytes": rss_bytes(), "cuda_allocated_bytes": allocated})
    elapsed = time.perf_counter() - start
    first, last = samples[0]["rss_bytes"], samples[-1]["rss_bytes"]
    peak = max(s["rss_bytes"] for s in samples)
    results = {
        "frames": frames,
        "frames_per_s": frames / elapsed,
        "rss_first_sample_bytes": first,
        "rss_last_sample_bytes": last,
        "rss_peak_bytes": peak,
        "rss_growth_fraction": (last - first) / first,
        "rss_peak_over_first_fraction": (peak - first) / first,
        "samples": samples,
    }
    report(f"soak ({frames} frames, reduced model, every 7th frame without depth, "
           f"{results['frames_per_s']:.0f} frames/s): "
           f"RSS {first / 2**20:.1f} MiB at frame {samples[0]['frame']} -> {last / 2**20:.1f} MiB at frame {frames} "
           f"({results['rss_growth_fraction']:+.2%}), peak {results['rss_peak_over_first_fraction']:+.2%}")
    return results


def profile_fast_path(
    config: SDSTrackConfig, device: torch.device, reduced: list[torch.dtype], report: Callable[[str], None]
) -> None:
    """Where the fast path's time goes, per operator, for float32 and each reduced precision."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    template, search = example_crops(config, device=device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    for dtype in [torch.float32, *reduced]:
        model = TorchBackend(SDSTrack(config), device=device, dtype=dtype, copy_model=False)
        with torch.inference_mode():
            model(template, search)
            with profile(activities=activities) as profiler:
                for _ in range(3):
                    model(template, search)
                _synchronize(device)
        report(f"profile of the fast path, {dtype_name(dtype)}, 3 frames:")
        sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        report(profiler.key_averages().table(sort_by=sort_by, row_limit=12))


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="sdstrack bench", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda, cpu, mps (default: cuda if available)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds per mode (median reported)")
    parser.add_argument("--targets", default="1,4,16", help="numbers of targets per frame to time")
    parser.add_argument("--soak-frames", type=int, default=5000)
    parser.add_argument("--skip-onnx", action="store_true", help="skip the ONNX export and ONNX Runtime timing")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd fast paths")
    parser.add_argument("--parity-dir", type=Path, default=os.environ.get("SDSTRACK_FIXTURES"),
                        help="parity fixtures folder (official_parity) for the precision check; default "
                             "$SDSTRACK_FIXTURES; skipped when not given")
    parser.add_argument("--reduced-dtypes", default=None,
                        help="comma list of reduced precisions to time (bfloat16, float16) or 'none' "
                             "(default: those this device supports)")
    parser.add_argument("--profile", action="store_true", help="also print per-operator profiles of the fast path")
    parser.add_argument("--reduced", action="store_true",
                        help="benchmark the reduced dim-64 configuration instead of ViT-B (a quick smoke run)")
    parser.add_argument("--json", type=Path, default=Path("bench_results.json"), help="where to write the results")
    return parser


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)

    def report(line: str) -> None:
        print(line, flush=True)

    results: dict = {"machine": _machine(device)}
    report(f"machine: {results['machine']['processor']}, {results['machine']['cpu_threads']} threads, "
           f"torch {torch.__version__}, device {device}"
           + (f" ({results['machine']['gpu']})" if "gpu" in results["machine"] else ""))
    config = REDUCED_CONFIG if args.reduced else SDSTrackConfig()
    if args.reduced_dtypes is None:
        reduced = reduced_dtypes(device)
    elif args.reduced_dtypes == "none":
        reduced = []
    else:
        reduced = [parse_dtype(name) for name in args.reduced_dtypes.split(",")]
    results["network"] = bench_network(config, device, reduced, args.rounds, args.compile, report)
    if args.profile:
        profile_fast_path(config, device, reduced, report)
    results["preprocessing"] = bench_preprocessing(args.rounds, report)
    counts = [int(c) for c in args.targets.split(",") if c]
    results["targets"] = bench_targets(config, device, reduced, counts, max(2, args.rounds // 2), report)
    if not args.skip_onnx:
        results["onnxruntime"] = bench_onnx(config, args.rounds, report)
    if args.parity_dir is not None and (args.parity_dir / "official_tiny.safetensors").is_file():
        results["precision"] = bench_precision(device, reduced, args.parity_dir, report)
    else:
        report(f"precision: skipped (no parity fixtures at {args.parity_dir}; pass --parity-dir)")
    if args.soak_frames:
        results["soak"] = bench_soak(device, args.soak_frames, report)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    report(f"results -> {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
