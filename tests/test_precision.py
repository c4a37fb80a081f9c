"""Precision belongs to the caller: the network follows an outer autocast; the PyTorch backend owns
mixed precision for inference on its own copy of the model."""

import copy
import dataclasses

import pytest
import torch

from sdstrack import SDSTrack, Tracker
from sdstrack.backends.pytorch import TorchBackend


@pytest.fixture()
def io(forward_io):
    return forward_io["input.template"], forward_io["input.search"]


def _keeping_every_token(model):
    """``model`` with candidate elimination off (keep ratio 1), the same weights."""
    full = SDSTrack(dataclasses.replace(model.config, ce_keep_ratio=1.0), attention=model.attention)
    full.load_state_dict(model.state_dict())
    return full.eval()


def test_mixed_bfloat16_stays_close_to_float32(tiny_model, forward_io, io):
    backend = TorchBackend(tiny_model, device="cpu", dtype=torch.bfloat16)
    assert backend.model.backbone.blocks[0].mlp.fc1.weight.dtype == torch.bfloat16
    assert backend.model.backbone.norm.weight.dtype == torch.float32
    with torch.inference_mode():
        out = backend(*io)
    assert out.boxes.dtype == torch.float32 and out.features.dtype == torch.float32
    assert (out.boxes - forward_io["output.pred_boxes"][:, 0]).abs().max() <= 0.005  # measured 0.0014
    # The maps, with every search token kept: which near-tied tokens candidate elimination drops can change
    # with any rounding (bfloat16 GEMMs round differently on CPUs without bfloat16 instructions, e.g. an
    # AVX2 EPYC), and a token dropped in one run and kept in the other moves the map there. Measured: 0.0077
    # on an AVX-512 Xeon with elimination, 0.0084 on an AVX2 EPYC without (a pure bfloat16 model: 0.11).
    full = _keeping_every_token(tiny_model)
    with torch.inference_mode():
        mixed, reference = TorchBackend(full, device="cpu", dtype=torch.bfloat16)(*io), full(*io)
    assert (mixed.score_map.float() - reference.score_map).abs().max() <= 0.02


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


def test_fast_and_eager_agree_in_bfloat16_and_rank_candidates_in_float32(tiny_model, io):
    for model in (tiny_model, _keeping_every_token(tiny_model)):
        eager_model = copy.deepcopy(model)
        eager_model.set_attention("eager")
        fast = TorchBackend(model, device="cpu", dtype=torch.bfloat16)
        eager = TorchBackend(eager_model, device="cpu", dtype=torch.bfloat16)
        with torch.inference_mode():
            a, b = fast(*io), eager(*io)
        assert (a.boxes - b.boxes).abs().max() <= 1e-3
    # with every token kept the two paths compute the same features (with elimination they may keep different
    # near-tied tokens where the batched and the per-modality bfloat16 GEMMs round differently: see above)
    assert (a.features - b.features).abs().max() <= 0.05
    # elimination ranks tokens by float32 attention weights: bfloat16 weights would tie (8-bit mantissa) and
    # which tokens survive a tie is arbitrary (the features differed by 2.3 before the ranking was float32)
    rows = []
    hook = tiny_model.backbone.blocks[tiny_model.config.ce_layers[0]].attn.register_forward_hook(
        lambda module, inputs, output: rows.append(output[1]))
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        tiny_model(*io)
    hook.remove()
    assert rows and rows[0].dtype == torch.float32
    assert rows[0].unique().numel() >= 0.99 * rows[0].numel()


@pytest.mark.parametrize("dtype", [torch.float64, "half-ish", torch.int8])
def test_bad_precision_is_named(tiny_model, dtype):
    with pytest.raises(ValueError, match="float32, float16, bfloat16"):
        TorchBackend(tiny_model, device="cpu", dtype=dtype)
