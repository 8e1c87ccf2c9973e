#!/usr/bin/env python3
"""Fits the polynomials of framework/src/normal_kernels.hpp and measures their float error.

Box-Muller there needs ln u1 for u1 in (0, 1] (as ln m, m in [sqrt(1/2), sqrt(2))) and sin, cos
of |phi| <= pi/4. Each is a fixed leading part plus x^k times a polynomial P, and P is fitted by
least squares on Chebyshev nodes, weighted so that the error of the whole function is relative
(near minimax, without a Remez loop). The check evaluates the float32 coefficients in float32
arithmetic, as the kernel does, on two million points of the interval.

Usage: python3 scripts/fit-normal-polynomials.py   (prints the C++ arrays and the errors)
"""
import numpy as np


def fit(residual, lo, hi, degree, variable, weight, nodes=20001):
    k = np.arange(nodes)
    x = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / nodes)
    basis = np.vstack([variable(x) ** i for i in range(degree + 1)]).T
    w = weight(x)
    coefficients, *_ = np.linalg.lstsq(basis * w[:, None], residual(x) * w, rcond=None)
    return coefficients.astype(np.float32)


def horner(c, t):
    p = np.float32(0)
    for ci in c[::-1]:
        p = p * t + ci
    return p


def show(name, c, error, what):
    print(f"inline constexpr float {name}[] = {{{', '.join(repr(float(v)) + 'f' for v in c)}}};")
    print(f"//   {what} {error:.3g}")


lo, hi = np.sqrt(0.5) - 1, np.sqrt(2) - 1
log_c = fit(lambda f: (np.log1p(f) - f + f * f / 2) / f**3, lo, hi, 7, lambda f: f, lambda f: f * f)
f = np.linspace(lo, hi, 2000001).astype(np.float32)
f = f[f != 0]
y = f - np.float32(0.5) * f * f + f * f * f * horner(log_c, f)
exact = np.log1p(f.astype(np.float64))
show("log_poly", log_c, np.max(np.abs(y - exact) / np.abs(exact)), "ln(1 + f), max relative error")

sin_c = fit(lambda x: (np.sin(x) - x) / x**3, 1e-9, np.pi / 4, 2, lambda x: x * x, lambda x: x * x)
x = np.linspace(-np.pi / 4, np.pi / 4, 2000001).astype(np.float32)
x = x[x != 0]
y = x + x * (x * x) * horner(sin_c, x * x)
exact = np.sin(x.astype(np.float64))
show("sin_poly", sin_c, np.max(np.abs(y - exact) / np.abs(exact)), "sin, max relative error")

cos_c = fit(lambda x: (np.cos(x) - 1 + x * x / 2) / x**4, 1e-4, np.pi / 4, 2, lambda x: x * x, lambda x: x**4)
z = x * x
y = np.float32(1) - np.float32(0.5) * z + z * z * horner(cos_c, z)
show("cos_poly", cos_c, np.max(np.abs(y - np.cos(x.astype(np.float64)))), "cos, max absolute error")
