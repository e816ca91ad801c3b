"""The figures of ``eafo-sym reproduce``: the worst activations, CRReLU, output densities, Taylor.

Each figure is one function ``draw(target)`` that writes a PNG to a path or a
binary file object; :data:`FIGURES` lists them with their file names. They are drawn on
:class:`matplotlib.figure.Figure`, never pyplot, so PNGs go through the Agg
canvas and a caller's backend (a notebook's inline one) is left alone.

>>> [name for name, _ in FIGURES]
['wafbc.png', 'crrelu.png', 'output_densities.png', 'taylor.png']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import sympy as sp

from ..laws import laplace, normal
from ..numeric.reference import output_density
from ..numeric.taylor import entropy_taylor
from ..symbolic.eafo import derive_crrelu
from ..symbolic.symbols import eps, x, y
from ..symbolic.wafbc import worst_activation
from .checks import as_numpy, branch_entropy_change
from .memo import cached_call

__all__ = ["FIGURES", "draw_crrelu", "draw_densities", "draw_taylor", "draw_wafbc"]


def draw_wafbc(target: Path | BinaryIO) -> None:
    """WAFBC for normal and Laplace input on (-1, 1), next to tanh, the sigmoid and ReLU."""
    from matplotlib.figure import Figure

    t = np.linspace(-5, 5, 501)
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    for dist, label in ((normal(), "WAFBC normal"), (laplace(), "WAFBC Laplace")):
        w = cached_call(worst_activation, dist, -1, 1)
        ax.plot(t, as_numpy(w.expr)(t) * np.ones_like(t), label=label)
    ax.plot(t, np.tanh(t), "--", label="tanh")
    ax.plot(t, 2 / (1 + np.exp(-t)) - 1, ":", label="2 sigmoid - 1")
    ax.plot(t, np.clip(t, 0, None) / 2.5 - 1, "-.", label="ReLU (scaled)")
    ax.set(xlabel="x", ylabel="f(x)", ylim=(-1.2, 1.2), title="Worst activations on (-1, 1)")
    ax.legend(loc="upper left", fontsize=8)
    fig.savefig(target, dpi=100, format="png")


def draw_crrelu(target: Path | BinaryIO) -> None:
    """CRReLU and its derivative for several values of eps."""
    from matplotlib.figure import Figure

    c = derive_crrelu()
    f, df = (sp.lambdify((x, eps), e, modules="numpy") for e in (c.expr, sp.diff(c.expr, x)))
    t = np.linspace(-4, 4, 801)
    fig = Figure(figsize=(9, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    for e_val in (-0.5, -0.1, 0.0, 0.01, 0.1, 0.5):
        ax1.plot(t, f(t, e_val), label=f"eps = {e_val:g}")
        ax2.plot(t, df(t, e_val) * np.ones_like(t), label=f"eps = {e_val:g}")
    ax1.set(xlabel="x", title="CRReLU(x)")
    ax2.set(xlabel="x", title="d CRReLU / dx")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(target, dpi=100, format="png")


def draw_densities(target: Path | BinaryIO) -> None:
    """Output densities of sigmoid, tanh and softplus under standard normal input."""
    from matplotlib.figure import Figure

    dist = normal()
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    for name, lo, hi in (("sigmoid", 0, 1), ("tanh", -1, 1), ("softplus", 0, 4)):
        q = as_numpy(cached_call(output_density, name, dist), y)
        t = np.linspace(lo, hi, 402)[1:-1]
        ax.plot(t, q(t), label=name)
    ax.set(xlabel="y", ylabel="q(y)", ylim=(0, 2.5), title="Output densities, X ~ N(0, 1)")
    ax.legend()
    fig.savefig(target, dpi=100, format="png")


def draw_taylor(target: Path | BinaryIO) -> None:
    """Taylor truncations of the entropy change along CRReLU's direction vs quadrature."""
    from matplotlib.figure import Figure

    dist = normal()
    h = x * sp.exp(-x**2 / 2)
    coeffs = [float(c) for c in cached_call(entropy_taylor, x, h, dist, 4, interval=(0, sp.oo))]
    etas = np.linspace(-0.8, 0.8, 9)
    exact = [branch_entropy_change(h, dist, complex(e)).real for e in etas]
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    ax.plot(etas, exact, "ko", label="quadrature")
    fine = np.linspace(-0.8, 0.8, 201)
    for k in range(1, 5):
        series = sum(c * fine ** (j + 1) for j, c in enumerate(coeffs[:k]))
        ax.plot(fine, series, label=f"order {k}")
    ax.set(xlabel="eta", ylabel="H[x + eta h] - H[x]", title="Taylor truncations, ReLU branch")
    ax.legend()
    fig.savefig(target, dpi=100, format="png")


#: File name -> drawing function, in drawing order.
FIGURES: tuple[tuple[str, Callable[[Path | BinaryIO], None]], ...] = (
    ("wafbc.png", draw_wafbc),
    ("crrelu.png", draw_crrelu),
    ("output_densities.png", draw_densities),
    ("taylor.png", draw_taylor),
)
