"""DDColor's colour decoder: learnable colour queries refined against multi-scale image features.

Each block (Kang et al. 2023, Fig. 2b, after Mask2Former without its masks) updates the ``N``
queries ``(B, N, C)`` in three residual steps, each followed by LayerNorm (post-norm):

1. cross-attention: queries (+ their learned positional embedding) attend to the tokens of one
   image feature map (+ sine positions; + a learned embedding of the scale);
2. self-attention among the queries;
3. a two-layer feed-forward network (ReLU).

Block ``i`` reads scale ``i mod S`` (coarsest first), so a stack of ``3k`` blocks cycles ``k``
times through three scales, as DDColor's 9 blocks do.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.models.ddcolor.positional import sine_positions


class Attention(nn.Module):
    """Multi-head scaled dot-product attention with separate query/key/value/output projections.

    ``forward(q (B,Nq,C), k (B,Nk,C), v (B,Nk,C)) -> (B,Nq,C)``: per head ``h`` (``C / heads``
    channels ``d``), ``softmax(Q_h K_h^T / sqrt(d)) V_h``, heads concatenated and projected.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"attention: dim {dim} is not divisible by heads {heads}")
        self.heads, self.dropout = heads, float(dropout)
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        b, n, c = t.shape
        return t.view(b, n, self.heads, c // self.heads).transpose(1, 2)  # (B, heads, n, d)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        o = F.scaled_dot_product_attention(self._split(self.q(q)), self._split(self.k(k)), self._split(self.v(v)),
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(o.transpose(1, 2).flatten(2))


class ColorQueryBlock(nn.Module):
    """Cross-attention to image tokens, self-attention, FFN; each residual + LayerNorm.

    ``forward(queries (B,N,C), query_pos (N,C) or (B,N,C), memory (B,L,C), memory_pos (L,C) or
    (B,L,C)) -> (B,N,C)``. Positions are added to queries and keys, never to values.
    """

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.cross = Attention(dim, heads, dropout)
        self.self_attn = Attention(dim, heads, dropout)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                 nn.Linear(ffn_dim, dim))
        self.norm_cross, self.norm_self, self.norm_ffn = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, queries: torch.Tensor, query_pos: torch.Tensor, memory: torch.Tensor,
                memory_pos: torch.Tensor) -> torch.Tensor:
        x = queries
        x = self.norm_cross(x + self.drop(self.cross(x + query_pos, memory + memory_pos, memory)))
        qk = x + query_pos
        x = self.norm_self(x + self.drop(self.self_attn(qk, qk, x)))
        return self.norm_ffn(x + self.drop(self.ffn(x)))


class ColorDecoder(nn.Module):
    """``num_queries`` learnable colour queries refined by ``layers`` :class:`ColorQueryBlock`.

    Args:
        dim: channel width ``C`` of queries and image tokens (the feature maps must have it).
        num_queries: ``N`` (DDColor: 100).
        layers: number of blocks (DDColor: 9, i.e. three cycles over three scales).
        scales: number of feature maps the blocks cycle through.
        heads, ffn_dim, dropout: of every block.

    ``forward(features)``: a list of ``scales`` maps ``(B, C, h_s, w_s)``, coarsest first ->
    refined queries ``(B, N, C)`` after a final LayerNorm.
    """

    def __init__(self, dim: int, num_queries: int, layers: int, scales: int = 3, heads: int = 4,
                 ffn_dim: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        if num_queries < 1 or layers < 1 or scales < 1:
            raise ValueError(f"colour decoder: num_queries, layers and scales must be >= 1, got "
                             f"{num_queries}, {layers}, {scales}")
        self.dim, self.scales = dim, scales
        self.query_feat = nn.Parameter(torch.randn(num_queries, dim) * 0.02)
        self.query_pos = nn.Parameter(torch.randn(num_queries, dim) * 0.02)
        self.level_embed = nn.Parameter(torch.zeros(scales, dim))
        self.blocks = nn.ModuleList(ColorQueryBlock(dim, heads, ffn_dim or 2 * dim, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        if len(features) != self.scales:
            raise ValueError(f"colour decoder: expected {self.scales} feature maps, got {len(features)}")
        memories, positions = [], []
        for s, f in enumerate(features):
            if f.dim() != 4 or f.shape[1] != self.dim:
                raise ValueError(f"colour decoder: feature map {s} has shape {tuple(f.shape)}; "
                                 f"expected (B, {self.dim}, h, w)")
            memories.append(f.flatten(2).transpose(1, 2) + self.level_embed[s])
            positions.append(sine_positions(f.shape[2], f.shape[3], self.dim, device=f.device, dtype=f.dtype))
        q = self.query_feat.unsqueeze(0).expand(features[0].shape[0], -1, -1)
        for i, block in enumerate(self.blocks):
            s = i % self.scales
            q = block(q, self.query_pos, memories[s], positions[s])
        return self.norm(q)
