r"""The checks of ``eafo-sym reproduce``: one function and one table row per result.

Each check re-derives one result of the paper with the package (SymPy) and
measures it against an independent number (SciPy quadrature, finite
differences, a contour integral); ``docs/mathematics.md`` §4-§7 states each
result. The last rows check the shipped code itself (:mod:`.artefacts`):
the torch modules, the fused kernels, the printed NumPy and JAX functions.

A check is a function ``check_<key>(out: OutputDir | None = None) ->
Outcome``; :data:`CHECKS` lists them in reporting order. Adding a check is
writing that function and adding its :class:`Check` row: the command line
(``--only``), the table, ``summary.md`` and ``summary.json`` all read the
table.

:func:`run_check` turns a check into a :class:`CheckResult` with one of three
statuses: PASS, FAIL, or SKIP when the check raises :class:`Skip` (torch or
JAX missing, the fused kernels not building here; the reason is the note).
An exception inside a check becomes a FAIL with its message, never a crash,
so a report always lists every result.

>>> [c.key for c in CHECKS][:3]
['wafbc_normal', 'wafbc_logistic', 'wafbc_laplace']
>>> [c.key for c in select(["crrelu", "taylor"])]  # always in table order
['taylor', 'crrelu']
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from ..catalog import resolve
from ..laws import Law, laplace, logistic, normal
from ..numeric.entropy import output_entropy
from ..numeric.quadrature import integrate
from ..numeric.reference import grid_error, richardson_coefficients, y_space_entropy
from ..numeric.taylor import entropy_change, entropy_taylor
from ..symbolic.eafo import derive_crrelu, eafo_step
from ..symbolic.functional import coordinates_agree, functional_derivative
from ..symbolic.symbols import eps, eta, x, y
from ..symbolic.wafbc import worst_activation
from .artefacts import check_fused, check_jax, check_nn_modules, check_numpy
from .memo import cached_call
from .outcome import Outcome, Skip

__all__ = [
    "CHECKS",
    "Check",
    "CheckResult",
    "Outcome",
    "Skip",
    "as_numpy",
    "branch_entropy_change",
    "run_check",
    "select",
    "simplifies_to_zero",
    "taylor_by_contour",
]


def as_numpy(expr: sp.Expr, var: sp.Symbol = x) -> Callable:
    """``expr`` as a NumPy function of ``var`` (SciPy for the special functions).

    >>> as_numpy(2 * x)(3.0)
    6.0
    """
    return sp.lambdify(var, expr, modules=["scipy", "numpy"])


@dataclass(frozen=True)
class Check:
    """One result of the paper and the function that re-derives and checks it.

    ``run(out)`` gets the output folder (an :class:`~eafo_sym.outputs.OutputDir`;
    None: write nothing); only the NumPy and JAX checks write there (``code/``).
    """

    key: str
    title: str
    run: Callable[[Any], Outcome]


@dataclass(frozen=True, kw_only=True)
class CheckResult(Outcome):
    """A check's :class:`Outcome` with its key, title, verdict and run time, as reported.

    ``skipped`` is True when the check could not run here (``note`` says why);
    a skipped check has not passed, and does not fail the report.
    """

    key: str
    title: str
    passed: bool
    seconds: float
    skipped: bool = False

    @property
    def status(self) -> str:
        """``"PASS"``, ``"FAIL"`` or ``"SKIP"``."""
        if self.skipped:
            return "SKIP"
        return "PASS" if self.passed else "FAIL"

    @property
    def error_text(self) -> str:
        """The error as the table prints it (``"inf"``, ``"-"`` when skipped, or 2 digits)."""
        if self.skipped:
            return "-"
        return "inf" if math.isinf(self.error) else f"{self.error:.1e}"

    def as_dict(self) -> dict:
        """The row of ``summary.json`` (keys in the order the file has always had)."""
        keys = ("key", "title", "derivation", "check", "error", "tol", "passed", "seconds")
        return {
            **{k: getattr(self, k) for k in keys},
            "note": self.note,
            "data": self.data,
            "status": self.status,
        }


def run_check(check: Check, out: Any) -> CheckResult:
    """Run one check and judge it: PASS when its error is finite and within its tolerance.

    A :class:`Skip` is a SKIP row with the reason as the note. Any other
    exception inside the check is a FAIL row (infinite error, the message as
    the check, where it was raised as the note), never a crash.
    """
    start = time.perf_counter()
    try:
        outcome = check.run(out)
        err = float(outcome.error)
        passed = math.isfinite(err) and err <= outcome.tol
    except Skip as reason:
        return CheckResult(
            derivation="(not run)",
            check="skipped",
            error=math.nan,
            tol=0.0,
            note=str(reason),
            key=check.key,
            title=check.title,
            passed=False,
            seconds=time.perf_counter() - start,
            skipped=True,
        )
    except Exception as exc:  # noqa: BLE001 - a failing derivation is a FAIL row, not a crash
        last = traceback.extract_tb(exc.__traceback__)[-1]
        outcome = Outcome(
            "(derivation failed)",
            f"{type(exc).__name__}: {exc}",
            math.inf,
            0.0,
            note=f"raised at {Path(last.filename).name}:{last.lineno}",
        )
        err, passed = math.inf, False
    values = {f.name: getattr(outcome, f.name) for f in fields(Outcome)}
    values["error"] = err
    return CheckResult(
        **values,
        key=check.key,
        title=check.title,
        passed=passed,
        seconds=time.perf_counter() - start,
    )


# --- the checks ------------------------------------------------------------------


def simplifies_to_zero(expr: sp.Expr) -> bool:
    """Whether SymPy's ``simplify`` proves ``expr == 0`` (the symbolic half of a check).

    >>> simplifies_to_zero(sp.sin(x)**2 + sp.cos(x)**2 - 1), simplifies_to_zero(x)
    (True, False)
    """
    return bool(sp.simplify(expr) == 0)


def _symbolic_gap(ok: bool) -> float:
    """0 when a symbolic identity holds, inf otherwise (so the check fails)."""
    return 0.0 if ok else math.inf


def _wafbc(dist: Law, y_a: int, y_b: int, known: Callable, name: str) -> Outcome:
    """WAFBC for one law: the scaled CDF, the known function, and ``H = log(y_b - y_a)``."""
    w = cached_call(worst_activation, dist, y_a, y_b)
    scaled_cdf = y_a + (y_b - y_a) * dist.cdf
    symbolic = cached_call(simplifies_to_zero, w.expr - scaled_cdf) and w.concave
    err_shape = grid_error(as_numpy(w.expr), lambda t: y_a + (y_b - y_a) * known(t))
    h_num = output_entropy(w.expr, dist)
    err_h = abs(float(h_num) - float(w.entropy))
    return Outcome(
        derivation=f"f* = {sp.sstr(w.expr)}; H[f*] = {sp.sstr(w.entropy)}",
        check=f"f* - ({sp.sstr(scaled_cdf)}) == 0, concave; f* vs SciPy {name} on [-8, 8]; "
        "H[f*] by quadrature",
        error=max(_symbolic_gap(symbolic), err_shape, err_h),
        tol=1e-9,
        data={"shape_error": err_shape, "entropy_numeric": float(h_num), "entropy_error": err_h},
    )


def check_wafbc_normal(out: Any = None) -> Outcome:
    """Normal input: the worst bounded activation is erf-shaped (scaled Phi)."""
    from scipy.special import erf

    return _wafbc(normal(), -1, 1, lambda t: (1 + erf(t / math.sqrt(2))) / 2, "norm.cdf")


def check_wafbc_logistic(out: Any = None) -> Outcome:
    """Logistic input: the worst activation is the logistic sigmoid itself."""
    from scipy.special import expit

    return _wafbc(logistic(), 0, 1, expit, "expit (sigmoid)")


def check_wafbc_laplace(out: Any = None) -> Outcome:
    """Laplace input: the worst activation is the Laplace CDF."""
    from scipy import stats

    return _wafbc(laplace(), 0, 1, stats.laplace.cdf, "laplace.cdf")


def check_coordinates(out: Any = None) -> Outcome:
    """x-space and y-space: functional derivatives and entropies agree."""
    dist = normal()
    f = resolve("sigmoid")
    sym = cached_call(coordinates_agree, f, dist)
    dfx = cached_call(functional_derivative, f, dist, space="x")
    dgy = cached_call(functional_derivative, f, dist, space="y")
    err_d = grid_error(as_numpy(dfx), lambda t: -as_numpy(dgy, y)(1 / (1 + np.exp(-t))), -6, 6)
    errs = {}
    for name in ("sigmoid", "tanh"):
        hx = float(output_entropy(name, dist))
        hy, mass = y_space_entropy(name, dist)
        errs[name] = max(abs(hx - hy), abs(mass - 1))
    return Outcome(
        derivation="dH/df(x) = -d/dx(p/f') = -dH/dg(f(x)); h(X) + E[ln f'(X)] = -int q ln q dy",
        check="coordinates_agree(sigmoid) symbolic; |dH/df + dH/dg o f| on [-6, 6]; "
        "x-space H vs y-space quadrature (sigmoid, tanh)",
        error=max(_symbolic_gap(sym), err_d, *errs.values()),
        tol=1e-8,
        data={"derivative_error": err_d, **{f"entropy_error_{k}": v for k, v in errs.items()}},
    )


def check_relu_branch(out: Any = None) -> Outcome:
    """dH/df on ReLU's branch is proportional to x exp(-x^2/2); directional derivative by FD."""
    dist = normal()
    d = cached_call(functional_derivative, "relu", dist, interval=(0, sp.oo))
    sym = cached_call(simplifies_to_zero, d - x * dist.pdf)
    # A direction with h(0) = 0, so the boundary term of the integration by parts vanishes.
    h = x**2 * sp.exp(-x)
    dn, hn = as_numpy(d), as_numpy(h)
    inner = integrate(lambda t: float(dn(t) * hn(t)), 0, math.inf, what="<dH/df, h>").value
    c1, _ = richardson_coefficients(
        lambda e: entropy_change(x, h, dist, e, interval=(0, sp.oo)), 0.02
    )
    return Outcome(
        derivation=f"dH/df = {sp.sstr(d)} = x*phi(x)",
        check="dH/df - x*p(x) == 0; d/d eta H[x + eta*x^2 e^-x] (Richardson FD) "
        "vs int dH/df * h",
        error=max(_symbolic_gap(sym), abs(c1 - inner)),
        tol=1e-7,
        data={"inner_product": inner, "finite_difference": c1},
    )


def branch_entropy_change(h: sp.Expr, dist: Law, eta: complex) -> complex:
    """``Delta(eta) = int_0^oo p log(1 + eta h')``: ``H[x + eta*h] - H[x]`` on ``(0, oo)``.

    The x-space entropy change of ReLU's branch ``f = x``, by quadrature, for
    complex ``eta`` too (principal logarithm; analytic while ``|eta h'| < 1``).

    >>> from eafo_sym.laws import normal
    >>> round(branch_entropy_change(x, normal(), 1.0).real, 12)  # log(2)/2
    0.34657359028
    """
    import cmath

    hp = as_numpy(sp.diff(h, x))
    p = as_numpy(dist.pdf)
    eta = complex(eta)

    def re_part(t: float) -> float:
        return float(p(t)) * math.log(abs(1 + eta * float(hp(t))))

    def im_part(t: float) -> float:
        return float(p(t)) * cmath.phase(1 + eta * float(hp(t)))

    re = integrate(re_part, 0, math.inf, what="Re Delta").value
    im = integrate(im_part, 0, math.inf, what="Im Delta").value if eta.imag else 0.0
    return complex(re, im)


def taylor_by_contour(
    h: sp.Expr, dist: Law, order: int, *, radius: float = 0.5, n: int = 48
) -> list[float]:
    """Taylor coefficients of ``H[x + eta*h] - H[x]`` on ``(0, oo)``, by a contour integral.

    Independent of the series formula: :func:`branch_entropy_change` is
    evaluated at ``n`` complex ``eta`` on the circle ``|eta| = radius``, and
    ``c_k = (1/n) sum_j Delta(eta_j) eta_j^-k`` (the trapezoidal rule of
    Cauchy's formula, accurate to about ``radius**n`` while ``Delta`` is
    analytic, ``|eta h'| < 1``).

    >>> from eafo_sym.laws import normal
    >>> [round(c, 12) for c in taylor_by_contour(x, normal(), 2)]  # log(1 + eta)/2
    [0.5, -0.25]
    """
    import cmath

    coeffs = [0j] * order
    # Delta(conj(eta)) = conj(Delta(eta)): the lower half circle mirrors the upper one.
    for j in range(n // 2 + 1):
        e = radius * cmath.exp(2j * math.pi * j / n)
        delta = branch_entropy_change(h, dist, e)
        weight = 1 if j in (0, n // 2) else 2
        for k in range(1, order + 1):
            coeffs[k - 1] += weight * (delta * e ** (-k)).real / n
    return [c.real for c in coeffs]


def check_taylor(out: Any = None) -> Outcome:
    """Taylor coefficients along CRReLU's direction, each against a contour integral."""
    dist = normal()
    h = x * sp.exp(-x**2 / 2)
    coeffs = cached_call(entropy_taylor, x, h, dist, 4, interval=(0, sp.oo))
    cf = [float(c) for c in coeffs]
    independent = taylor_by_contour(h, dist, len(cf))
    # Each coefficient on its own scale: a 1% error in any c_k is 1e-2, far above the tolerance.
    errors = [abs(c - r) / abs(r) for c, r in zip(cf, independent, strict=True)]
    e = 0.1
    direct = entropy_change(x, h, dist, e, interval=(0, sp.oo))
    series = sum(c * e ** (k + 1) for k, c in enumerate(independent))
    # The 4-term series differs from Delta(0.1) by the truncation (about c_5 eta^5 ~ 1e-6).
    consistent = abs(direct - series) <= e**5 and cf[1] <= 0
    return Outcome(
        derivation="c_k = (-1)^(k+1)/k int p (h'/f')^k: "
        + ", ".join(sp.sstr(c) for c in coeffs),
        check="f = x on (0, oo), h = x e^(-x^2/2): each c_k (k = 1..4) vs a contour integral "
        "of the quadrature Delta(eta), relative error; Delta(0.1) by entropy_change vs the "
        "series; c_2 <= 0",
        error=max(*errors, _symbolic_gap(consistent)),
        tol=1e-6,
        data={
            "coefficients": cf,
            "contour": independent,
            "relative_errors": errors,
            "delta_0.1": direct,
            "series_0.1": series,
        },
    )


def check_crrelu(out: Any = None) -> Outcome:
    """CRReLU's closed form, and the EAFO step it comes from (x- and y-space)."""
    dist = normal()
    c = derive_crrelu()
    paper = sp.Max(0, x) + eps * x * sp.exp(-x**2 / 2)
    step_x = cached_call(eafo_step, "relu", dist, interval=(0, sp.oo))
    step_y = cached_call(eafo_step, "relu", dist, interval=(0, sp.oo), space="y")
    sym = cached_call(simplifies_to_zero, c.expr - paper) and cached_call(
        simplifies_to_zero, step_x - step_y
    )
    # The step with eta = 1/2 is CRReLU's branch with eps = eps_descent(eta).
    e_val = sp.Rational(1, 2)
    step_fn = as_numpy(step_x.subs(eta, e_val))
    crr_fn = as_numpy(c.expr.subs(eps, c.eps_descent.subs(eta, e_val)))
    err = grid_error(step_fn, crr_fn, 0.0, 8.0)
    return Outcome(
        derivation=f"CRReLU = {sp.sstr(c.expr)}",
        check="== relu(x) + eps*x*exp(-x^2/2) (paper); x-step == y-step; "
        "x - eta*dH/df == CRReLU(eps = -eta/sqrt(2 pi)) on (0, 8]",
        error=max(_symbolic_gap(sym), err),
        tol=1e-12,
    )


def check_eps_sign(out: Any = None) -> Outcome:
    """The sign of eps that decreases entropy, measured by quadrature."""
    dist = normal()
    c = derive_crrelu()
    up = entropy_change(x, c.shape, dist, 0.01, interval=(0, sp.oo))
    down = entropy_change(x, c.shape, dist, -0.01, interval=(0, sp.oo))
    slope, _ = richardson_coefficients(
        lambda e: entropy_change(x, c.shape, dist, e, interval=(0, sp.oo)), 0.02
    )
    sym = c.descent_sign == -1 and (c.entropy_slope > 0) == sp.true
    consistent = (up > 0) and (down < 0)
    return Outcome(
        derivation=f"descent eps = {sp.sstr(c.eps_descent)} < 0; dH/deps(0) = "
        f"{sp.sstr(c.entropy_slope)} > 0",
        check="H(eps=+0.01) - H(0) > 0 > H(eps=-0.01) - H(0) by quadrature; FD slope",
        error=max(
            _symbolic_gap(sym and consistent), abs(slope - float(c.entropy_slope))
        ),
        tol=1e-7,
        note="The paper initialises eps = +0.01: the opposite sign, which raises the "
        f"branch entropy to first order (dH = {up:+.3e} at eps = +0.01).",
        data={"dH_plus": up, "dH_minus": down, "fd_slope": slope},
    )


#: Every result of the paper, then every shipped artefact, in reporting order.
CHECKS: tuple[Check, ...] = (
    Check("wafbc_normal", "WAFBC, normal input (erf shape)", check_wafbc_normal),
    Check("wafbc_logistic", "WAFBC, logistic input (sigmoid)", check_wafbc_logistic),
    Check("wafbc_laplace", "WAFBC, Laplace input (Laplace CDF)", check_wafbc_laplace),
    Check("coordinates", "x-space / y-space agreement", check_coordinates),
    Check("relu_branch", "dH/df on ReLU's branch x > 0", check_relu_branch),
    Check("taylor", "Taylor coefficients of H[f + eta*h]", check_taylor),
    Check("crrelu", "CRReLU closed form (EAFO step from ReLU)", check_crrelu),
    Check("eps_sign", "Sign of eps (entropy descent)", check_eps_sign),
    Check("nn_modules", "Torch modules (eafo_sym.nn)", check_nn_modules),
    Check("fused", "Fused CPU kernels (eafo_sym.fused)", check_fused),
    Check("numpy", "NumPy functions (codegen --backend numpy)", check_numpy),
    Check("jax", "JAX functions (codegen --backend jax)", check_jax),
)


def select(keys: Iterable[str] | None = None) -> tuple[Check, ...]:
    """The checks named by ``keys``, in table order (all of :data:`CHECKS` for None).

    Raises:
        ValueError: A key names no check (the message lists the known ones).

    >>> select(["nope"])
    Traceback (most recent call last):
    ...
    ValueError: unknown check(s) nope; known: wafbc_normal, ...
    """
    if keys is None:
        return CHECKS
    wanted = list(keys)
    known = [c.key for c in CHECKS]
    unknown = [k for k in wanted if k not in known]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(c for c in CHECKS if c.key in wanted)
