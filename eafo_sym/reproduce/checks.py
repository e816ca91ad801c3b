r"""The checks of ``eafo-sym reproduce``: one function and one table row per result of the paper.

Each check re-derives one result with the package (SymPy) and measures it
against an independent number (SciPy quadrature, finite differences, the
generated code run on a grid); ``docs/mathematics.md`` §4-§7 states each
result. A check is a function ``check_<key>(out: Path | None = None) ->
Outcome``; :data:`CHECKS` lists them in reporting order. Adding a check is
writing that function and adding its :class:`Check` row: the command line
(``--only``), the table, ``summary.md`` and ``summary.json`` all read the
table.

:func:`run_check` turns a check into a :class:`CheckResult`; an exception
inside a check becomes a FAIL with its message, never a crash, so a report
always lists every result.

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
from dataclasses import dataclass, field, fields
from pathlib import Path

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

__all__ = [
    "CHECKS",
    "Check",
    "CheckResult",
    "Outcome",
    "as_numpy",
    "run_check",
    "select",
]


def as_numpy(expr: sp.Expr, var: sp.Symbol = x) -> Callable:
    """``expr`` as a NumPy function of ``var`` (SciPy for the special functions).

    >>> as_numpy(2 * x)(3.0)
    6.0
    """
    return sp.lambdify(var, expr, modules=["scipy", "numpy"])


@dataclass(frozen=True)
class Outcome:
    """What a check returns.

    Attributes:
        derivation: The derived result as a short formula.
        check: What was measured.
        error: The measured error (``inf`` when a symbolic identity failed).
        tol: The error allowed.
        note: Anything a reader must know (e.g. where the paper differs).
        data: Extra numbers for ``summary.json``.
    """

    derivation: str
    check: str
    error: float
    tol: float
    note: str = ""
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """One result of the paper and the function that re-derives and checks it.

    ``run(out)`` gets the output folder (None: write nothing); only the code
    check writes there.
    """

    key: str
    title: str
    run: Callable[[Path | None], Outcome]


@dataclass(frozen=True, kw_only=True)
class CheckResult(Outcome):
    """A check's :class:`Outcome` with its key, title, verdict and run time, as reported."""

    key: str
    title: str
    passed: bool
    seconds: float

    @property
    def status(self) -> str:
        """``"PASS"`` or ``"FAIL"``."""
        return "PASS" if self.passed else "FAIL"

    @property
    def error_text(self) -> str:
        """The error as the table prints it (``"inf"`` or one significant decimal)."""
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


def run_check(check: Check, out: Path | None) -> CheckResult:
    """Run one check and judge it: PASS when its error is finite and within its tolerance.

    An exception inside the check is a FAIL row (infinite error, the message
    as the check, where it was raised as the note), never a crash.
    """
    start = time.perf_counter()
    try:
        outcome = check.run(out)
        err = float(outcome.error)
        passed = math.isfinite(err) and err <= outcome.tol
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


def _symbolic_gap(ok: bool) -> float:
    """0 when a symbolic identity holds, inf otherwise (so the check fails)."""
    return 0.0 if ok else math.inf


def _wafbc(dist: Law, y_a: int, y_b: int, known: Callable, name: str) -> Outcome:
    """WAFBC for one law: the scaled CDF, the known function, and ``H = log(y_b - y_a)``."""
    w = worst_activation(dist, y_a, y_b)
    scaled_cdf = y_a + (y_b - y_a) * dist.cdf
    symbolic = sp.simplify(w.expr - scaled_cdf) == 0 and w.concave
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


def check_wafbc_normal(out: Path | None = None) -> Outcome:
    """Normal input: the worst bounded activation is erf-shaped (scaled Phi)."""
    from scipy.special import erf

    return _wafbc(normal(), -1, 1, lambda t: (1 + erf(t / math.sqrt(2))) / 2, "norm.cdf")


def check_wafbc_logistic(out: Path | None = None) -> Outcome:
    """Logistic input: the worst activation is the logistic sigmoid itself."""
    from scipy.special import expit

    return _wafbc(logistic(), 0, 1, expit, "expit (sigmoid)")


def check_wafbc_laplace(out: Path | None = None) -> Outcome:
    """Laplace input: the worst activation is the Laplace CDF."""
    from scipy import stats

    return _wafbc(laplace(), 0, 1, stats.laplace.cdf, "laplace.cdf")


def check_coordinates(out: Path | None = None) -> Outcome:
    """x-space and y-space: functional derivatives and entropies agree."""
    dist = normal()
    f = resolve("sigmoid")
    sym = coordinates_agree(f, dist)
    dfx = functional_derivative(f, dist, space="x")
    dgy = functional_derivative(f, dist, space="y")
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


def check_relu_branch(out: Path | None = None) -> Outcome:
    """dH/df on ReLU's branch is proportional to x exp(-x^2/2); directional derivative by FD."""
    dist = normal()
    d = functional_derivative("relu", dist, interval=(0, sp.oo))
    sym = sp.simplify(d - x * dist.pdf) == 0
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


def check_taylor(out: Path | None = None) -> Outcome:
    """Taylor coefficients along CRReLU's direction vs finite differences of quadrature."""
    dist = normal()
    h = x * sp.exp(-x**2 / 2)
    coeffs = entropy_taylor(x, h, dist, 4, interval=(0, sp.oo))
    cf = [float(c) for c in coeffs]

    def delta(e: float) -> float:
        return entropy_change(x, h, dist, e, interval=(0, sp.oo))

    c1, c2 = richardson_coefficients(delta, 0.02)
    e = 0.1
    series = sum(c * e ** (k + 1) for k, c in enumerate(cf))
    residual = abs(delta(e) - series)
    return Outcome(
        derivation="c_k = (-1)^(k+1)/k int p (h'/f')^k: "
        + ", ".join(sp.sstr(c) for c in coeffs),
        check="f = x on (0, oo), h = x e^(-x^2/2): c_1, c_2 by Richardson FD of the "
        "quadrature; |H change - 4-term series| <= eta^5 at eta = 0.1; c_2 <= 0",
        # The series residual is the truncation (size c_5 eta^5), a condition, not an error.
        error=max(
            abs(c1 - cf[0]), abs(c2 - cf[1]), _symbolic_gap(cf[1] <= 0 and residual <= e**5)
        ),
        tol=1e-7,
        data={"coefficients": cf, "fd_c1": c1, "fd_c2": c2, "series_residual": residual},
    )


def check_crrelu(out: Path | None = None) -> Outcome:
    """CRReLU's closed form, and the EAFO step it comes from (x- and y-space)."""
    dist = normal()
    c = derive_crrelu()
    paper = sp.Max(0, x) + eps * x * sp.exp(-x**2 / 2)
    step_x = eafo_step("relu", dist, interval=(0, sp.oo))
    step_y = eafo_step("relu", dist, interval=(0, sp.oo), space="y")
    sym = sp.simplify(c.expr - paper) == 0 and sp.simplify(step_x - step_y) == 0
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


def check_eps_sign(out: Path | None = None) -> Outcome:
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


def _code_check_points() -> np.ndarray:
    return np.concatenate([np.linspace(-8, 8, 1601), [-1e3, -40.0, 0.0, 40.0, 1e3]])


def check_codegen(out: Path | None = None) -> Outcome:
    """Generated torch and NumPy code for CRReLU against the SymPy expression."""
    import importlib.util

    from ..catalog import get
    from ..codegen import numpy_code, torch_code
    from ..codegen.files import write_generated
    from ..codegen.registry import backend_source

    act = get("crrelu")
    expr = act.expr
    t = _code_check_points()
    e_val = 0.01
    import mpmath

    # The reference derivative takes torch's subgradient 0 for max(0, x) at x = 0.
    relu_part = sp.Max(0, x)
    rest = sp.expand(expr - relu_part)
    if rest.has(sp.Max, sp.Min, sp.Heaviside):  # pragma: no cover - CRReLU is ReLU + smooth
        raise ValueError(f"CRReLU is no longer max(0, x) + a smooth term: {expr}")
    ref = sp.lambdify((x, eps), expr, modules="mpmath")
    dref_x = sp.lambdify((x, eps), sp.diff(rest, x), modules="mpmath")
    dref_e = sp.lambdify((x, eps), sp.diff(expr, eps), modules="mpmath")
    with mpmath.workdps(40):
        e_mp = mpmath.mpf(e_val)
        want = np.array([float(ref(mpmath.mpf(v), e_mp)) for v in t])
        want_dx = np.array([float(dref_x(mpmath.mpf(v), e_mp)) + (v > 0) for v in t])
        want_de = np.array([float(dref_e(mpmath.mpf(v), e_mp)) for v in t])

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.max(np.abs(np.asarray(a, dtype=float) - b) / (1 + np.abs(b))))

    errors: dict[str, float] = {}
    sources = {"numpy": backend_source("numpy", ["crrelu"], command="eafo-sym reproduce")}
    try:
        import torch  # noqa: F401 - only to know whether the torch backend can be checked

        have_torch = True
        sources["torch"] = backend_source("torch", ["crrelu"], command="eafo-sym reproduce")
    except ImportError:
        have_torch = False
    modules = {}
    for backend, text in sources.items():
        if out is not None:
            path = out / "code" / f"crrelu_{backend}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_generated(path, text, force=True)
        name = f"_eafo_reproduce_crrelu_{backend}"
        spec = importlib.util.spec_from_loader(name, loader=None)
        mod = importlib.util.module_from_spec(spec)
        exec(compile(text, f"<generated crrelu {backend}>", "exec"), mod.__dict__)  # noqa: S102
        modules[backend] = mod
    npm = modules["numpy"]
    with np.errstate(all="ignore"):
        errors["numpy value"] = rel(npm.crrelu(t, epsilon=e_val), want)
        errors["numpy d/dx"] = rel(npm.crrelu_grad(t, epsilon=e_val), want_dx)
    if have_torch:
        import torch

        tm = modules["torch"]
        m = tm.CRReLU().double()
        with torch.no_grad():  # the default was rounded to float32 before .double()
            m.epsilon.fill_(e_val)
        xt = torch.tensor(t, dtype=torch.float64, requires_grad=True)
        yt = m(xt)
        gx, ge = torch.autograd.grad(yt.sum(), [xt, m.epsilon])
        errors["torch value"] = rel(yt.detach().numpy(), want)
        errors["torch d/dx"] = rel(gx.numpy(), want_dx)
        errors["torch d/deps"] = abs(float(ge) - float(want_de.sum())) / (1 + abs(want_de.sum()))
    line = torch_code(expr) if have_torch else numpy_code(expr)
    return Outcome(
        derivation=line,
        check="generated " + " and ".join(sources) + " CRReLU (eps = 0.01) vs SymPy/mpmath: "
        "values, d/dx" + (", d/deps" if have_torch else "") + " on [-8, 8] and +-40, +-1e3",
        error=max(errors.values()),
        tol=1e-13,
        note="" if have_torch else "torch is not installed: only the NumPy code was checked.",
        data={"errors": errors, "backends": sorted(sources)},
    )


#: Every result of the paper, in reporting order.
CHECKS: tuple[Check, ...] = (
    Check("wafbc_normal", "WAFBC, normal input (erf shape)", check_wafbc_normal),
    Check("wafbc_logistic", "WAFBC, logistic input (sigmoid)", check_wafbc_logistic),
    Check("wafbc_laplace", "WAFBC, Laplace input (Laplace CDF)", check_wafbc_laplace),
    Check("coordinates", "x-space / y-space agreement", check_coordinates),
    Check("relu_branch", "dH/df on ReLU's branch x > 0", check_relu_branch),
    Check("taylor", "Taylor coefficients of H[f + eta*h]", check_taylor),
    Check("crrelu", "CRReLU closed form (EAFO step from ReLU)", check_crrelu),
    Check("eps_sign", "Sign of eps (entropy descent)", check_eps_sign),
    Check("codegen", "Generated code vs SymPy", check_codegen),
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
