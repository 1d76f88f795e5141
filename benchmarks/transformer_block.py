"""One Transformer block, forward + backward: lumina's per-kernel profile next to PyTorch's.

The model is ``lumina.testing.twins.transformer`` with ``n_layer=1`` (token and position embeddings,
one pre-norm block with causal self-attention and a GELU MLP, the final LayerNorm and the head),
``d_model`` 128, 4 heads, context 64, vocabulary 65, batch 8; ``step`` computes the cross-entropy
loss and every parameter's gradient (no optimizer update). The command line tools take ``step``:

    lumina profile benchmarks/transformer_block.py::step --shapes 8x64,8x64 --dtypes int64,int64
    lumina viz benchmarks/transformer_block.py::step --shapes 8x64,8x64 --dtypes int64,int64 \\
        -o docs/transformer_block.svg

``python benchmarks/transformer_block.py [--repeat N]`` prints lumina's profile, then PyTorch's
numbers for the same block with the same weights and thread count: the step's wall time and
``torch.profiler``'s operators (self CPU time, FLOPs where PyTorch counts them).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import lumina
from lumina.nn import functional as F
from lumina.testing import twins

VOCAB, BLOCK, D_MODEL, N_HEAD, BATCH = 65, 64, 128, 4, 8

lumina.manual_seed(0)
model = twins.transformer(lumina, VOCAB, BLOCK, D_MODEL, N_HEAD, n_layer=1)


@lumina.compile
def step(idx, targets):
    """Loss of ``model`` on token ids ``idx`` ([B, T] int64) predicting ``targets`` ([B, T]), with
    every parameter's ``.grad`` set by backward."""
    for p in model.parameters():
        p.grad = None
    logits = model(idx)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
    loss.backward()
    return loss


def batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, VOCAB, (BATCH, BLOCK)), rng.integers(0, VOCAB, (BATCH, BLOCK))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(__file__))
    from machine import describe
    from timing import best_ms

    import torch
    from lumina.backends.cpu.threads import num_threads
    torch.set_num_threads(num_threads())
    print(describe())
    idx, tgt = batch()

    report = step.profile_report(idx, tgt, repeat=args.repeat)
    step(idx, tgt)
    lumina_ms = best_ms(lambda: step(idx, tgt), args.repeat)
    print(f"\nlumina: {len(report.rows)} kernels, {report.flops / 1e6:.1f} MFLOP, step {lumina_ms:.3f} ms "
          f"(one plan call; the kernels alone sum to {report.seconds * 1e3:.3f} ms)")
    print(report.table(top=12))

    tmodel = twins.transformer(torch, VOCAB, BLOCK, D_MODEL, N_HEAD, n_layer=1)
    tmodel.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in model.state_dict().items()})
    tidx, ttgt = torch.from_numpy(idx), torch.from_numpy(tgt)

    def tstep():
        tmodel.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(tmodel(tidx).reshape(-1, VOCAB), ttgt.reshape(-1))
        loss.backward()
        return loss
    lloss, tloss = float(step(idx, tgt).item()), float(tstep().item())
    torch_ms = best_ms(tstep, args.repeat)
    print(f"\nPyTorch {torch.__version__} eager ({torch.get_num_threads()} threads): step {torch_ms:.3f} ms "
          f"(loss {tloss:.6f}; lumina's {lloss:.6f}); lumina is {torch_ms / lumina_ms:.2f}x PyTorch's speed")
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for _ in range(args.repeat):
            tstep()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12,
                                      max_name_column_width=36)
    print(f"torch.profiler, {args.repeat} steps:\n{table}")


if __name__ == "__main__":
    main()
