#!/usr/bin/env python3
"""Fits kErfcxFloat (dialect/lib/StableMath.cpp): erfcx(z) = t Q(t), t = 1/(1 + z/2),
Q a polynomial of degree 8 in t with minimax relative error on z in [0, 11.5].

Not part of the build. Needs numpy and mpmath (Debian: python3-numpy, python3-mpmath).
Lawson's algorithm: weighted least squares whose weights are multiplied by the
current error each round, which converges to the minimax (Chebyshev) solution.
Prints the coefficients (lowest degree first), the minimax relative error and the
error of a float32 Horner evaluation (an FMA a step, emulated in double).
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
P, ZMAX, DEGREE, POINTS = 0.5, 11.5, 8, 2000


def q_exact(t):
    t = mp.mpf(t)
    z = (1 / t - 1) / P
    return mp.erfc(z) * mp.exp(z * z) / t


def main():
    t = np.linspace(1 / (1 + P * ZMAX), 1, POINTS)
    f = np.array([float(q_exact(x)) for x in t])
    v = np.vander(t, DEGREE + 1, increasing=True)
    w = np.ones(POINTS)
    for _ in range(200):
        a = v * (np.sqrt(w) / f)[:, None]
        c, *_ = np.linalg.lstsq(a, np.sqrt(w), rcond=None)
        err = np.abs(v @ c - f) / f
        w = w * err
        w /= w.sum()
    t32 = t.astype(np.float32)
    q = np.full_like(t32, np.float32(c[-1]))
    for k in range(DEGREE - 1, -1, -1):
        q = (q.astype(np.float64) * t32 + np.float64(np.float32(c[k]))).astype(np.float32)
    print("coefficients:", ", ".join(repr(float(x)) for x in c))
    print("minimax relative error %.2e, float32 Horner %.2e" %
          (err.max(), (np.abs(q - f) / f).max()))


if __name__ == "__main__":
    main()
