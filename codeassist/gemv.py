"""Single-token linear layers as matrix-vector products: the decode step's fast path on CPU.

Decoding one token multiplies every weight matrix by one activation vector. ``nn.Linear`` hands that to
a general matrix-matrix product (``aten::mm`` with one row), which on this machine's CPU build reads the
bfloat16 weights at a fraction of the memory bandwidth: the 151,936 x 896 output projection took 72 ms a
token on one core where ``torch.mv`` takes 44 ms, and the MLP's 4,864 x 896 matrices 1.3 ms where ``mv``
takes 0.8 ms (tests/bench/RESULTS.md, "Decode speed"). The results are bitwise equal, so greedy output does
not change; inputs of more than one token (prefill, scoring) keep ``F.linear``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class GemvLinear(torch.nn.Linear):
    """``nn.Linear`` that routes a single input vector through ``torch.mv`` / ``torch.addmv``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() != self.in_features or x.dtype != self.weight.dtype:
            return F.linear(x, self.weight, self.bias)
        v = x.reshape(-1)
        y = torch.mv(self.weight, v) if self.bias is None else torch.addmv(self.bias, self.weight, v)
        return y.view(*x.shape[:-1], self.out_features)


def install(model: torch.nn.Module) -> int:
    """Turns every plain ``nn.Linear`` of ``model`` into a ``GemvLinear`` in place; returns how many.

    Only the class changes: weights, ties (a shared embedding and output matrix) and hooks stay. Subclasses
    of ``nn.Linear`` (quantised or otherwise specialised layers) are left alone.
    """
    count = 0
    for module in model.modules():
        if type(module) is torch.nn.Linear:
            module.__class__ = GemvLinear
            count += 1
    return count
