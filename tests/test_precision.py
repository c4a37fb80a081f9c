"""Precision belongs to the caller: the network follows an outer autocast; the PyTorch backend owns
mixed precision for inference on its own copy of the model."""

import copy

import pytest
import torch

from sdstrack import Tracker
from sdstrack.backends.pytorch import TorchBackend


@pytest.fixture()
def io(forward_io):
    return forward_io["input.template"], forward_io["input.search"]


def test_mixed_bfloat16_stays_close_to_float32(tiny_model, forward_io, io):
    backend = TorchBackend(tiny_model, device="cpu", dtype=torch.bfloat16)
    assert backend.model.backbone.blocks[0].mlp.fc1.weight.dtype == torch.bfloat16
    assert backend.model.backbone.norm.weight.dtype == torch.float32
    with torch.inference_mode():
        out = backend(*io)
    assert out.boxes.dtype == torch.float32 and out.features.dtype == torch.float32
    # Measured: 0.0077 and 0.0014 (a pure bfloat16 model: 0.11 and 0.13).
    assert (out.score_map.float() - forward_io["output.score_map"]).abs().max() <= 0.02
    assert (out.boxes - forward_io["output.pred_boxes"][:, 0]).abs().max() <= 0.005


def test_backend_equals_the_plain_network_under_an_outer_autocast(tiny_model, io):
    # Oracle: storing the matmul weights in bfloat16 once must give exactly what autocast computes
    # from the float32 weights of the untouched model.
    backend = TorchBackend(tiny_model, device="cpu", dtype=torch.bfloat16)
    with torch.inference_mode():
        ours = backend(*io)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            reference = tiny_model(*io)
    for name in ("score_map", "size_map", "offset_map", "boxes", "features"):
        assert torch.equal(getattr(ours, name), getattr(reference, name)), name


def test_outer_autocast_is_respected_and_gradients_flow(tiny_model, io):
    model = copy.deepcopy(tiny_model).train()
    seen = []
    hook = model.backbone.blocks[0].mlp.fc1.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(*io)
    hook.remove()
    assert seen and set(seen) == {torch.bfloat16}  # the caller's autocast reached the linear layers
    (out.score_map.float().mean() + out.size_map.float().mean()).backward()
    grad = model.backbone.x_patch_embed.weight.grad
    assert grad is not None and grad.dtype == torch.float32 and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_without_autocast_the_network_computes_in_its_weights_dtype(tiny_model, io):
    model = copy.deepcopy(tiny_model).to(torch.float64)
    with torch.inference_mode():
        out = model(io[0].double(), io[1].double())
        reference = tiny_model(*io)
    assert out.features.dtype == torch.float64
    assert (out.score_map - reference.score_map).abs().max() <= 1e-5
    with pytest.raises(TypeError, match=r"crops are torch.float32 but the network's weights are torch.float64"):
        model(*io)


def test_tracker_never_modifies_the_model_it_was_given(tiny_model, fixtures):
    import cv2

    before = {name: tensor.clone() for name, tensor in tiny_model.state_dict().items()}
    tracker = Tracker(tiny_model, device="cpu", dtype=torch.bfloat16, bgr=True)
    rgb = cv2.imread(str(fixtures / "sequence/color/00000001.png"))
    depth = cv2.imread(str(fixtures / "sequence/depth/00000001.png"), cv2.IMREAD_UNCHANGED)
    tracker.init(rgb, depth, (85, 119, 70, 62))
    result = tracker.update(rgb, depth)
    assert all(isinstance(v, float) for v in result.box) and 0 < result.score < 1
    assert tracker.model is not tiny_model and tracker.dtype == torch.bfloat16
    after = tiny_model.state_dict()
    assert all(after[name].dtype == t.dtype and torch.equal(after[name], t) for name, t in before.items())


def test_fast_and_eager_keep_the_same_candidates_in_bfloat16(tiny_model, io):
    # Elimination ranks tokens in float32: bfloat16 scores tie and the two paths would then keep
    # different tokens (the features differed by 2.3 before the ranking was made float32).
    eager_model = copy.deepcopy(tiny_model)
    eager_model.set_attention("eager")
    fast = TorchBackend(tiny_model, device="cpu", dtype=torch.bfloat16)
    eager = TorchBackend(eager_model, device="cpu", dtype=torch.bfloat16)
    with torch.inference_mode():
        a, b = fast(*io), eager(*io)
    assert (a.features - b.features).abs().max() <= 0.05
    assert (a.boxes - b.boxes).abs().max() <= 1e-3


@pytest.mark.parametrize("dtype", [torch.float64, "half-ish", torch.int8])
def test_bad_precision_is_named(tiny_model, dtype):
    with pytest.raises(ValueError, match="float32, float16, bfloat16"):
        TorchBackend(tiny_model, device="cpu", dtype=dtype)
