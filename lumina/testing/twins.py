"""The example models written once against the PyTorch-compatible API, for ``lib`` = ``torch`` or
``lumina``: built from the same code, the two models have the same parameter names and shapes, so
one's ``state_dict`` loads into the other. The agreement tests train both step for step; the
training benchmark times both. The models are those of ``examples/train_convnet.py`` and
``examples/micro_gpt.py``.
"""
from __future__ import annotations


def convnet(lib, c1: int = 32, c2: int = 64, conv_bias: bool = True, size: int = 8):
    """``[N, 1, size, size] -> [N, 10]``: two ``Conv2d(3x3, padding 1) -> BatchNorm2d -> ReLU ->
    MaxPool2d(2)`` stages (8x8 -> 4x4 -> 2x2 at the default ``size``) with ``c1`` and ``c2``
    channels, then a linear classifier. ``conv_bias=False`` drops the conv bias, which BatchNorm's
    mean subtraction makes useless (its gradient is ~0)."""
    nn = lib.nn

    def stage(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=conv_bias), nn.BatchNorm2d(c_out), nn.ReLU(),
                nn.MaxPool2d(2)]
    return nn.Sequential(*stage(1, c1), *stage(c1, c2), nn.Flatten(), nn.Linear(c2 * (size // 4) ** 2, 10))


def mlp(lib, sizes=(784, 1024, 1024, 10)):
    """``[N, sizes[0]] -> [N, sizes[-1]]``: Linear layers with ReLU between them."""
    nn = lib.nn
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [nn.Linear(n_in, n_out)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


def transformer(lib, vocab: int, block: int, d_model: int, n_head: int, n_layer: int, attention: str = "sdpa"):
    """``[B, T]`` token ids (``T <= block``) -> ``[B, T, vocab]`` next-token logits: token +
    position embeddings, ``n_layer`` pre-norm blocks (``x + attn(ln1(x))``, ``x + mlp(ln2(x))``
    with exact GELU), a final LayerNorm and a head. ``attention`` is ``"sdpa"`` (a fused ``qkv``
    Linear and ``scaled_dot_product_attention(is_causal=True)``, as examples/micro_gpt.py) or
    ``"mha"`` (``MultiheadAttention`` with a bool causal ``attn_mask``, True = may not attend)."""
    nn, F = lib.nn, lib.nn.functional

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(x).reshape(b, t, 3, n_head, c // n_head).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.proj(y.transpose(1, 2).reshape(b, t, c))

    class MHA(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(d_model, n_head, batch_first=True)

        def forward(self, x):
            t = x.shape[1]
            causal = lib.arange(t).reshape(1, t) > lib.arange(t).reshape(t, 1)
            return self.mha(x, x, x, attn_mask=causal, need_weights=False)[0]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.attn = SelfAttention() if attention == "sdpa" else MHA()
            self.ln2 = nn.LayerNorm(d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok_emb = nn.Embedding(vocab, d_model)
            self.pos_emb = nn.Embedding(block, d_model)
            self.blocks = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab)

        def forward(self, idx):
            x = self.tok_emb(idx) + self.pos_emb(lib.arange(idx.shape[1]))
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln_f(x))

    return GPT()
