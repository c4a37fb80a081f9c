"""The SDSTrack backbone: one ViT whose blocks are shared by an RGB path, an X path and a fusion path.

Vocabulary (the paper's):

* **template** tokens come from the 128x128 crop around the initial box, **search** tokens from the
  256x256 crop around the previous box. Both modalities use the same position tables.
* **adapters** are small bottleneck MLPs (``fc2(gelu(fc1(t)))``). The RGB path is a plain ViT block;
  the X path adds an X adapter pair to every block; blocks listed in ``fusion_layers`` additionally run a
  **fusion** pass, with their own adapter pair, in which every RGB token attends only to X tokens and
  every X token only to RGB tokens.
* **candidate elimination** (blocks in ``ce_layers``) drops, separately in each modality, the search
  tokens that the template centre token attends to least; the survivors are scattered back to their
  grid positions at the end.
* **masked tokens**: a per-token boolean mask replaces patch tokens by zeros before the position
  embedding. This is how the paper's masked self-distillation trains and how a missing sensor is fed.

Everything here is tensors in, tensors out; no NumPy, no frames.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import SDSTrackConfig


class Mlp(nn.Module):
    """``fc2(gelu(fc1(t)))``: the transformer MLP (hidden ``mlp_ratio * dim``) and every adapter
    (a bottleneck, hidden ``adapter_ratio * dim``, added beside a shared sub-layer)."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(tokens)))


class AdapterPair(nn.Module):
    """The two adapters one path adds to a block: after attention (``space``) and beside the MLP."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.space = Mlp(dim, hidden_dim)
        self.mlp = Mlp(dim, hidden_dim)


class Attention(nn.Module):
    """Multi-head self-attention that can also report one query's attention row.

    Two implementations of the same maths, chosen by ``fused`` (as timm's ``fused_attn``): the eager
    reference materialises every attention matrix; the fused one calls
    ``torch.nn.functional.scaled_dot_product_attention`` and, for candidate elimination, computes only
    the one attention row it needs (except in bfloat16 on CPU, where plain matmuls are faster).

    Cross-modal attention (the fusion pass) comes in two layouts:

    * ``cross_split=n``: tokens are the concatenation ``[A (n tokens) ; B]`` along the sequence; A's
      queries see only B's keys and B's queries only A's (the original's masked attention);
    * ``cross_halves=True``: the batch is ``[A ; B]`` stacked along dim 0 (equal halves); each half's
      queries attend to the other half's keys and values: two plain cross-attentions, no mask.

    ``score_query=i`` also returns the post-softmax attention weights of query ``i`` over all keys,
    averaged over heads, shape (B, N): the candidate-elimination score.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool, fused: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused = fused
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self,
        tokens: Tensor,
        *,
        cross_split: int | None = None,
        cross_halves: bool = False,
        score_query: int | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        batch, length, dim = tokens.shape
        qkv = self.qkv(tokens).reshape(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if cross_halves:
            half = batch // 2
            k, v = torch.cat([k[half:], k[:half]]), torch.cat([v[half:], v[:half]])
        forbidden = same_modality_mask(cross_split, length, tokens.device) if cross_split is not None else None
        weights = None
        if self.fused and not _matmul_attention_is_faster(q):
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=None if forbidden is None else ~forbidden)
        else:
            logits = (q @ k.transpose(-2, -1)) * self.scale
            if forbidden is not None:
                logits = logits.masked_fill(forbidden, float("-inf"))
            weights = logits.softmax(dim=-1)
            out = weights @ v
        query_row = None
        if score_query is not None:
            if weights is not None and weights.dtype == torch.float32:
                query_row = weights[:, :, score_query].mean(dim=1)
            else:
                query_row = self._query_row(q, k, score_query, forbidden)
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim)), query_row

    def _query_row(self, q: Tensor, k: Tensor, index: int, forbidden: Tensor | None) -> Tensor:
        """Head-averaged attention weights of query ``index``, in float32 whatever the compute precision:
        candidate elimination ranks tokens by them, and bfloat16's 8-bit mantissa creates ties that
        change which tokens survive."""
        with torch.autocast(q.device.type, enabled=False):
            logits = (q[:, :, index : index + 1].float() @ k.float().transpose(-2, -1)) * self.scale
            if forbidden is not None:
                logits = logits.masked_fill(forbidden[index], float("-inf"))
            return logits.softmax(dim=-1).mean(dim=1).squeeze(1)


def _matmul_attention_is_faster(queries: Tensor) -> bool:
    """On CPUs in bfloat16, PyTorch's flash-attention kernel is slower than two batched matmuls at
    SDSTrack's sequence lengths (measured on an AVX-512 BF16 EPYC: 0.40 s vs 0.47 s per ViT-B frame),
    so the fast path uses the matmul form there."""
    return queries.device.type == "cpu" and queries.dtype == torch.bfloat16


def same_modality_mask(split: int, length: int, device: torch.device) -> Tensor:
    """(length, length) bool, True where query and key belong to the same half of ``[A ; B]``."""
    first = torch.arange(length, device=device) < split
    return first[:, None] == first[None, :]


class Block(nn.Module):
    """One pre-norm transformer block with the adapters of the paths that use it.

    The block's own weights (``norm1``, ``attn``, ``norm2``, ``mlp``) are shared by every path. A path
    with adapters computes ``a = attn(norm1(t)); t = t + a + space(a)`` and
    ``u = norm2(t); t = t + mlp(u) + adapter_scale * adapter_mlp(u)``; the RGB path passes no adapters.
    The block is split into :meth:`attend` and :meth:`feed_forward` because candidate elimination
    happens between the two.
    """

    def __init__(self, config: SDSTrackConfig, has_fusion: bool, fused: bool = True, drop_path: float = 0.0) -> None:
        super().__init__()
        self.drop_path = drop_path
        dim = config.embed_dim
        adapter_dim = int(dim * config.adapter_ratio)
        self.adapter_scale = config.adapter_scale
        self.norm1 = nn.LayerNorm(dim, eps=config.layernorm_eps)
        self.attn = Attention(dim, config.num_heads, config.qkv_bias, fused)
        self.norm2 = nn.LayerNorm(dim, eps=config.layernorm_eps)
        self.mlp = Mlp(dim, int(dim * config.mlp_ratio))
        self.x_adapters = AdapterPair(dim, adapter_dim)
        self.fusion_adapters = AdapterPair(dim, adapter_dim) if has_fusion else None

    def attend(
        self,
        tokens: Tensor,
        adapters: AdapterPair | None,
        *,
        adapted_from: int = 0,
        cross_split: int | None = None,
        cross_halves: bool = False,
        score_query: int | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Attention sub-layer with its residual; returns the tokens and the optional score row.

        ``adapters`` apply to batch rows ``adapted_from:`` (the X half when RGB and X share a batch).
        """
        attended, query_row = self.attn(
            self.norm1(tokens), cross_split=cross_split, cross_halves=cross_halves, score_query=score_query
        )
        if adapters is not None:
            attended = _add_to_rows(attended, adapters.space(attended[adapted_from:]), adapted_from)
        return tokens + drop_path(attended, self.drop_path, self.training, cross_halves), query_row

    def feed_forward(
        self, tokens: Tensor, adapters: AdapterPair | None, *, adapted_from: int = 0, paired_halves: bool = False
    ) -> Tensor:
        """MLP sub-layer with its residual. ``paired_halves``: the batch is ``[A ; B]`` halves of the same
        samples (the fused fusion pass), which share one stochastic-depth draw per sample."""
        normed = self.norm2(tokens)
        update = self.mlp(normed)
        if adapters is None:  # the RGB path: the original applies no stochastic depth to its MLP branch
            return tokens + update
        adapted = update[adapted_from:] + self.adapter_scale * adapters.mlp(normed[adapted_from:])
        adapted = drop_path(adapted, self.drop_path, self.training, paired_halves)
        return tokens + (adapted if adapted_from == 0 else torch.cat([update[:adapted_from], adapted]))


def drop_path(update: Tensor, probability: float, training: bool, paired_halves: bool = False) -> Tensor:
    """Stochastic depth: in training, drop a residual update for a whole sample with ``probability`` and
    scale the kept ones by ``1 / (1 - probability)``; the identity otherwise. With ``paired_halves`` the
    batch's two halves are the same samples (one draw each, as one call over the fused sequence)."""
    if not training or probability == 0.0:
        return update
    keep = 1.0 - probability
    rows = update.shape[0] // 2 if paired_halves else update.shape[0]
    mask = update.new_empty((rows,) + (1,) * (update.ndim - 1)).bernoulli_(keep)
    if paired_halves:
        mask = torch.cat([mask, mask])
    return update * mask / keep


def _add_to_rows(tensor: Tensor, addition: Tensor, start: int) -> Tensor:
    """``tensor`` with ``addition`` added to its batch rows ``start:``."""
    if start == 0:
        return tensor + addition
    return torch.cat([tensor[:start], tensor[start:] + addition])


def eliminate_candidates(
    tokens: Tensor, scores: Tensor, num_template: int, keep: int, search_index: Tensor
) -> tuple[Tensor, Tensor]:
    """Keep the template tokens and the ``keep`` best-scoring search tokens.

    Args:
        tokens: (B, T + S, C) template tokens followed by S search tokens.
        scores: (B, S) attention of the template centre token to each search token.
        num_template: T.
        keep: how many search tokens survive.
        search_index: (B, S) original grid position of each current search token.

    Returns the (B, T + keep, C) tokens, search tokens in descending score order (the original
    implementation's order), and their (B, keep) grid positions.
    """
    order = torch.sort(scores, dim=1, descending=True).indices[:, :keep]
    search = tokens[:, num_template:].gather(1, order.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
    return torch.cat([tokens[:, :num_template], search], dim=1), search_index.gather(1, order)


def scatter_search_tokens(search: Tensor, search_index: Tensor, num_search: int) -> Tensor:
    """Put surviving search tokens back at their grid positions; eliminated positions are zeros."""
    out = search.new_zeros(search.shape[0], num_search, search.shape[-1])
    return out.scatter(1, search_index.unsqueeze(-1).expand(-1, -1, search.shape[-1]), search)


class Backbone(nn.Module):
    """Patch embeddings, shared position tables, the shared blocks and the final norm.

    ``fused=True`` (the default) selects the fast implementation: RGB and X run through each shared
    block as one batch (X rows get the X adapters), attention uses ``scaled_dot_product_attention``,
    candidate elimination computes only the template centre token's attention row, and the fusion pass
    is two cross-attentions between the batch halves. ``fused=False`` is the readable reference,
    structured like the original: the RGB path, then the X path, then a masked attention over the
    concatenated tokens, with every attention matrix materialised. Both compute the same function.
    """

    def __init__(self, config: SDSTrackConfig, fused: bool = True, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.config = config
        dim, patch = config.embed_dim, config.patch_size
        self.rgb_patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.x_patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.template_pos_embed = nn.Parameter(torch.zeros(1, config.num_template_tokens, dim))
        self.search_pos_embed = nn.Parameter(torch.zeros(1, config.num_search_tokens, dim))
        rates = torch.linspace(0, drop_path_rate, config.depth).tolist()  # stochastic depth grows with depth
        self.blocks = nn.ModuleList(
            Block(config, i in config.fusion_layers, fused, rates[i]) for i in range(config.depth)
        )
        self.norm = nn.LayerNorm(dim, eps=config.layernorm_eps)
        self.search_tokens_kept = config.search_tokens_kept()
        self._config_eliminations = self._eliminations(self.search_tokens_kept)
        self.fused = fused

    def set_fused(self, fused: bool) -> None:
        """Switch between the fast (True) and the eager reference (False) implementation."""
        self.fused = fused
        for block in self.blocks:
            block.attn.fused = fused

    def embed(self, patch_embed: nn.Conv2d, template: Tensor, search: Tensor, mask: Tensor | None) -> Tensor:
        """(B, T + S, C) tokens of one modality; masked tokens are zeroed before adding positions."""
        tokens = torch.cat(
            [patch_embed(template).flatten(2).transpose(1, 2), patch_embed(search).flatten(2).transpose(1, 2)], dim=1
        )
        if mask is not None:
            tokens = tokens.masked_fill(mask.unsqueeze(-1), 0.0)
        positions = torch.cat([self.template_pos_embed, self.search_pos_embed], dim=1)
        return tokens + positions

    def forward(
        self,
        template: Tensor,
        search: Tensor,
        rgb_mask: Tensor | None = None,
        x_mask: Tensor | None = None,
        return_fusion_tokens: bool = False,
        ce_keep_ratio: float | None = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """Run both modalities through the shared blocks.

        Args:
            template: (B, 6, Ht, Wt) normalised template crop, RGB in channels 0-2, X in 3-5.
            search: (B, 6, Hs, Ws) normalised search crop, same channel layout.
            rgb_mask, x_mask: optional (B, T + S) bool, template tokens first then search tokens in
                row-major grid order; True replaces that patch token by zeros.
            return_fusion_tokens: also return the concatenated [RGB ; X] tokens after each fusion
                pass (search tokens in the order candidate elimination leaves them).
            ce_keep_ratio: keep ratio for this call only, in (0, 1]: each candidate-elimination block keeps
                ``ceil(ce_keep_ratio * n)`` of its ``n`` search tokens (the original's training-time
                ``ce_keep_rate``; 1.0 eliminates nothing). None uses the configuration's ratio.

        Returns the (B, T + S, C) final features (template tokens, then the search grid in row-major
        order) and the list of fusion-pass tokens (empty unless requested).
        """
        rgb = self.embed(self.rgb_patch_embed, template[:, :3], search[:, :3], rgb_mask)
        x = self.embed(self.x_patch_embed, template[:, 3:], search[:, 3:], x_mask)
        if ce_keep_ratio is None:
            eliminations = self._config_eliminations
        else:
            counts = dataclasses.replace(self.config, ce_keep_ratio=ce_keep_ratio).search_tokens_kept()
            eliminations = self._eliminations(counts)
        run_blocks = self._blocks_fused if self.fused else self._blocks_eager
        rgb, x, fusion_tokens = run_blocks(rgb, x, return_fusion_tokens, eliminations)
        return self.norm((rgb + x) / 2), fusion_tokens

    def _eliminations(self, counts: list[int]) -> list[int | None]:
        """Per block, the search tokens candidate elimination keeps, or None where it keeps them all
        (the original then skips elimination and leaves the token order untouched)."""
        eliminations: list[int | None] = []
        previous = self.config.num_search_tokens
        for count in counts:
            eliminations.append(count if count < previous else None)
            previous = count
        return eliminations

    def _blocks_eager(self, rgb: Tensor, x: Tensor, return_fusion_tokens: bool, eliminations: list[int | None]):
        cfg = self.config
        search_positions = torch.arange(cfg.num_search_tokens, device=rgb.device).expand(rgb.shape[0], -1)
        rgb_index = x_index = search_positions
        fusion_tokens = []
        for i, block in enumerate(self.blocks):
            keep = eliminations[i]
            rgb, rgb_index = self._path(block, rgb, rgb_index, None, keep)
            x, x_index = self._path(block, x, x_index, block.x_adapters, keep)
            if block.fusion_adapters is not None:
                fused, _ = block.attend(torch.cat([rgb, x], dim=1), block.fusion_adapters, cross_split=rgb.shape[1])
                fused = block.feed_forward(fused, block.fusion_adapters)
                rgb, x = fused.split([rgb.shape[1], x.shape[1]], dim=1)
                if return_fusion_tokens:
                    fusion_tokens.append(fused)
        return self._restore_grid(rgb, rgb_index), self._restore_grid(x, x_index), fusion_tokens

    def _path(
        self,
        block: Block,
        tokens: Tensor,
        search_index: Tensor,
        adapters: AdapterPair | None,
        keep: int | None,
        adapted_from: int = 0,
    ) -> tuple[Tensor, Tensor]:
        """Tokens through one block's RGB/X path, with candidate elimination when ``keep`` is set;
        ``adapters`` apply to batch rows ``adapted_from:``."""
        num_template = self.config.num_template_tokens
        score_query = self.config.template_centre_index if keep is not None else None
        tokens, centre_row = block.attend(tokens, adapters, adapted_from=adapted_from, score_query=score_query)
        if keep is not None:
            tokens, search_index = eliminate_candidates(
                tokens, centre_row[:, num_template:], num_template, keep, search_index
            )
        return block.feed_forward(tokens, adapters, adapted_from=adapted_from), search_index

    def _blocks_fused(self, rgb: Tensor, x: Tensor, return_fusion_tokens: bool, eliminations: list[int | None]):
        cfg = self.config
        batch = rgb.shape[0]
        tokens = torch.cat([rgb, x])  # RGB rows, then X rows: one batch through the shared weights
        search_index = torch.arange(cfg.num_search_tokens, device=rgb.device).expand(2 * batch, -1)
        fusion_tokens = []
        for i, block in enumerate(self.blocks):
            keep = eliminations[i]
            tokens, search_index = self._path(block, tokens, search_index, block.x_adapters, keep, adapted_from=batch)
            if block.fusion_adapters is not None:
                tokens, _ = block.attend(tokens, block.fusion_adapters, cross_halves=True)
                tokens = block.feed_forward(tokens, block.fusion_adapters, paired_halves=True)
                if return_fusion_tokens:
                    fusion_tokens.append(torch.cat([tokens[:batch], tokens[batch:]], dim=1))
        grid = self._restore_grid(tokens, search_index)
        return grid[:batch], grid[batch:], fusion_tokens

    def _restore_grid(self, tokens: Tensor, search_index: Tensor) -> Tensor:
        num_template = self.config.num_template_tokens
        search = scatter_search_tokens(tokens[:, num_template:], search_index, self.config.num_search_tokens)
        return torch.cat([tokens[:, :num_template], search], dim=1)
