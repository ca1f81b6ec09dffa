#!/usr/bin/python3
"""The PyTorch peer of `actc bench` (docs/actc.md): one activation in PyTorch eager
mode, on the data and parameters actc wrote, timed forward and forward + autograd
backward, with a copy of the same bytes timed alongside.

actc runs it as
  /usr/bin/python3 torch_peer.py --fn NAME --shape N,C,S --layout ncs|nsc
                                 --threads T --reps R --dir DIR
with DIR/x.bin and DIR/p0.bin, p1.bin, ... (float32, act's parameter layout). It
writes DIR/y.bin and DIR/dx.bin and prints one line:
  torch_peer fwd_ms=F bwd_ms=B copy_ms=C
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def sigmoid_gate(x, p1, p2, beta):
    # The ACON-C reference: (p1 - p2) * x * sigmoid(beta * (p1 - p2) * x) + p2 * x
    dpx = (p1 - p2) * x
    return dpx * torch.sigmoid(beta * dpx) + p2 * x


def pwlu(x, table, bl, br, kl, kr, channel_dim):
    """16 uniform segments on [bl, br], linear extension outside (act's pwl)."""
    n = table.shape[-1] - 1
    u = (x - bl) / ((br - bl) / n)
    i = torch.clamp(torch.floor(u), 0, n - 1)
    t = u - i
    idx = i.long()
    # table[c, idx] for every element: gather along the knots of each channel.
    if channel_dim == 1:  # x: (N, C, S)
        tab = table.unsqueeze(0).expand(x.shape[0], -1, -1)  # (N, C, 17)
        lo = torch.gather(tab, 2, idx)
        hi = torch.gather(tab, 2, idx + 1)
        first, last = table[:, 0].view(1, -1, 1), table[:, n].view(1, -1, 1)
    else:  # x: (N, S, C)
        tab = table.t().unsqueeze(0).expand(x.shape[0], -1, -1)  # (N, 17, C)
        lo = torch.gather(tab, 1, idx)
        hi = torch.gather(tab, 1, idx + 1)
        first, last = table[:, 0].view(1, 1, -1), table[:, n].view(1, 1, -1)
    inside = lo + t * (hi - lo)
    return torch.where(x < bl, first + kl * (x - bl),
                       torch.where(x > br, last + kr * (x - br), inside))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fn", required=True)
    ap.add_argument("--shape", required=True)
    ap.add_argument("--layout", default="ncs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    n, c, s = (int(v) for v in a.shape.split(","))
    nsc = a.layout == "nsc"
    shape = (n, s, c) if nsc else (n, c, s)
    cdim = 2 if nsc else 1

    def load(name, count):
        return torch.from_numpy(np.fromfile(os.path.join(a.dir, name), dtype=np.float32,
                                            count=count))

    def per_channel(k):  # [C] -> broadcastable against x
        v = load(f"p{k}.bin", c)
        v = v.view(1, 1, c) if nsc else v.view(1, c, 1)
        return v.clone().requires_grad_(True)

    x = load("x.bin", n * c * s).view(shape).clone().requires_grad_(True)
    params = []
    if a.fn == "swish":
        beta = load("p0.bin", 1).clone().requires_grad_(True)
        params = [beta]
        # beta is learnable here, so not F.silu (which has none): the eager composite.
        fn = lambda: x * torch.sigmoid(beta * x)
    elif a.fn in ("acon_c", "meta_acon_c"):
        p1, p2 = per_channel(0), per_channel(1)
        if a.fn == "acon_c":
            beta = per_channel(2)
        else:  # beta[N, C]
            b = load("p2.bin", n * c)
            beta = (b.view(n, 1, c) if nsc else b.view(n, c, 1)).clone().requires_grad_(True)
        params = [p1, p2, beta]
        fn = lambda: sigmoid_gate(x, p1, p2, beta)
    elif a.fn == "pwlu":
        table = load("p0.bin", c * 17).view(c, 17).clone().requires_grad_(True)
        bl, br, kl, kr = (per_channel(k) for k in range(1, 5))
        params = [table, bl, br, kl, kr]
        fn = lambda: pwlu(x, table, bl, br, kl, kr, cdim)
    elif a.fn == "mish":
        fn = lambda: F.mish(x)
    elif a.fn == "gelu_":
        fn = lambda: F.gelu(x)
    else:
        print(f"torch_peer: '{a.fn}' is not implemented", file=sys.stderr)
        return 2
    dy = torch.ones(shape)
    copy = torch.empty(shape)
    wrt = [x] + params

    def step():
        y = fn()
        return torch.autograd.grad(y, wrt, dy)

    def median_ms(f):
        f()
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            f()
            times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        return times[len(times) // 2]

    with torch.no_grad():
        copy_ms = median_ms(lambda: copy.copy_(x))
        fwd_ms = median_ms(fn)
    bwd_ms = median_ms(step)
    with torch.no_grad():
        fn().numpy().tofile(os.path.join(a.dir, "y.bin"))
    step()[0].numpy().tofile(os.path.join(a.dir, "dx.bin"))
    print(f"torch_peer fwd_ms={fwd_ms:.6f} bwd_ms={bwd_ms:.6f} copy_ms={copy_ms:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
