r"""Re-derive every result of the paper, check each numerically, and report.

:func:`reproduce` runs one check per result of "Entropy-based Activation
Function Optimization" (``docs/mathematics.md``): the derivation comes from
the package (SymPy), the check is an independent number (SciPy quadrature,
finite differences, the generated code run on a grid). Each check yields a
:class:`CheckResult` with the short derived formula, the measured error, the
tolerance and PASS/FAIL. An exception inside a check is a FAIL with its
message, never a crash, so the report always lists every result.

It also writes, into one output folder: the figures (PNG, Agg backend), the
generated torch and NumPy source for CRReLU, ``summary.md`` and
``summary.json``.

The independent numeric checks that notebooks reuse are public here:
:func:`output_density` (the y-space density by change of variables) and
:func:`y_space_entropy` (``-integral q log q dy`` by quadrature).

>>> [c.key for c in CHECKS][:3]
['wafbc_normal', 'wafbc_logistic', 'wafbc_laplace']
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import sympy as sp

from .catalog import resolve
from .laws import Law, laplace, logistic, normal
from .numeric.entropy import output_entropy
from .numeric.quadrature import integrate
from .numeric.reference import grid_error, output_density, richardson_coefficients, y_space_entropy
from .numeric.taylor import entropy_change, entropy_taylor
from .symbolic.eafo import derive_crrelu, eafo_step
from .symbolic.functional import coordinates_agree, functional_derivative
from .symbolic.symbols import eps, eta, x, y
from .symbolic.wafbc import worst_activation

__all__ = [
    "CHECKS",
    "Check",
    "CheckResult",
    "Outcome",
    "Report",
    "output_density",
    "reproduce",
    "richardson_coefficients",
    "y_space_entropy",
]


def _grid_error(a: Callable, b: Callable, lo: float = -8.0, hi: float = 8.0, n: int = 801) -> float:
    return grid_error(a, b, lo, hi, n)


def _numeric(expr: sp.Expr, var: sp.Symbol = x) -> Callable:
    return sp.lambdify(var, expr, modules=["scipy", "numpy"])


# --- the checks ------------------------------------------------------------------


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


@dataclass(frozen=True)
class CheckResult:
    """A check's outcome, as reported."""

    key: str
    title: str
    derivation: str
    check: str
    error: float
    tol: float
    passed: bool
    seconds: float
    note: str = ""
    data: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``"PASS"`` or ``"FAIL"``."""
        return "PASS" if self.passed else "FAIL"


def _symbolic_gap(ok: bool) -> float:
    """0 when a symbolic identity holds, inf otherwise (so the check fails)."""
    return 0.0 if ok else math.inf


def _wafbc(dist: Law, y_a: int, y_b: int, known: Callable, name: str) -> Outcome:
    """WAFBC for one law: the scaled CDF, the known function, and ``H = log(y_b - y_a)``."""
    w = worst_activation(dist, y_a, y_b)
    scaled_cdf = y_a + (y_b - y_a) * dist.cdf
    symbolic = sp.simplify(w.expr - scaled_cdf) == 0 and w.concave
    err_shape = _grid_error(_numeric(w.expr), lambda t: y_a + (y_b - y_a) * known(t))
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
    err_d = _grid_error(_numeric(dfx), lambda t: -_numeric(dgy, y)(1 / (1 + np.exp(-t))), -6, 6)
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
    dn, hn = _numeric(d), _numeric(h)
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
    step_fn = _numeric(step_x.subs(eta, e_val))
    crr_fn = _numeric(c.expr.subs(eps, c.eps_descent.subs(eta, e_val)))
    err = _grid_error(step_fn, crr_fn, 0.0, 8.0)
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

    from .catalog import get
    from .codegen import numpy_code, torch_code
    from .codegen.files import write_generated
    from .codegen.registry import backend_source

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


# --- figures ---------------------------------------------------------------------


def _figure_wafbc(path: Path) -> None:
    from matplotlib.figure import Figure

    t = np.linspace(-5, 5, 501)
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    for dist, label in ((normal(), "WAFBC normal"), (laplace(), "WAFBC Laplace")):
        w = worst_activation(dist, -1, 1)
        ax.plot(t, _numeric(w.expr)(t) * np.ones_like(t), label=label)
    ax.plot(t, np.tanh(t), "--", label="tanh")
    ax.plot(t, 2 / (1 + np.exp(-t)) - 1, ":", label="2 sigmoid - 1")
    ax.plot(t, np.clip(t, 0, None) / 2.5 - 1, "-.", label="ReLU (scaled)")
    ax.set(xlabel="x", ylabel="f(x)", ylim=(-1.2, 1.2), title="Worst activations on (-1, 1)")
    ax.legend(loc="upper left", fontsize=8)
    fig.savefig(path, dpi=100)


def _figure_crrelu(path: Path) -> None:
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
    fig.savefig(path, dpi=100)


def _figure_densities(path: Path) -> None:
    from matplotlib.figure import Figure

    dist = normal()
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    for name, lo, hi in (("sigmoid", 0, 1), ("tanh", -1, 1), ("softplus", 0, 4)):
        q = _numeric(output_density(name, dist), y)
        t = np.linspace(lo, hi, 402)[1:-1]
        ax.plot(t, q(t), label=name)
    ax.set(xlabel="y", ylabel="q(y)", ylim=(0, 2.5), title="Output densities, X ~ N(0, 1)")
    ax.legend()
    fig.savefig(path, dpi=100)


def _figure_taylor(path: Path) -> None:
    from matplotlib.figure import Figure

    dist = normal()
    h = x * sp.exp(-x**2 / 2)
    coeffs = [float(c) for c in entropy_taylor(x, h, dist, 4, interval=(0, sp.oo))]
    etas = np.linspace(-0.8, 0.8, 9)
    exact = [entropy_change(x, h, dist, float(e), interval=(0, sp.oo)) for e in etas]
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    ax.plot(etas, exact, "ko", label="quadrature")
    fine = np.linspace(-0.8, 0.8, 201)
    for k in range(1, 5):
        series = sum(c * fine ** (j + 1) for j, c in enumerate(coeffs[:k]))
        ax.plot(fine, series, label=f"order {k}")
    ax.set(xlabel="eta", ylabel="H[x + eta h] - H[x]", title="Taylor truncations, ReLU branch")
    ax.legend()
    fig.savefig(path, dpi=100)


FIGURES: tuple[tuple[str, Callable[[Path], None]], ...] = (
    ("wafbc.png", _figure_wafbc),
    ("crrelu.png", _figure_crrelu),
    ("output_densities.png", _figure_densities),
    ("taylor.png", _figure_taylor),
)


# --- the report ------------------------------------------------------------------


@dataclass
class Report:
    """All check results, the files written and the wall time."""

    results: list[CheckResult]
    files: list[str]
    seconds: float
    out: str

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(r.passed for r in self.results)

    def table(self) -> str:
        """The summary as a Markdown table (also what the CLI prints)."""
        rows = [
            "| Result | Our derivation | Check | Error (tol) | Status |",
            "|---|---|---|---|---|",
        ]
        for r in self.results:
            err = "inf" if math.isinf(r.error) else f"{r.error:.1e}"
            derivation = r.derivation.replace("|", "\\|")
            check = r.check.replace("|", "\\|")
            rows.append(
                f"| {r.title} | `{derivation}` | {check} | {err} ({r.tol:.0e}) | {r.status} |"
            )
        return "\n".join(rows)

    def markdown(self) -> str:
        """``summary.md``: the table, the notes and the files."""
        n_pass = sum(r.passed for r in self.results)
        lines = [
            "# eafo-sym reproduce",
            "",
            f"{n_pass}/{len(self.results)} checks pass; wall time {self.seconds:.1f} s.",
            "",
            self.table(),
            "",
        ]
        notes = [r for r in self.results if r.note]
        if notes:
            lines += ["## Notes", ""] + [f"- **{r.title}**: {r.note}" for r in notes] + [""]
        if self.files:
            lines += ["## Files", ""] + [f"- `{f}`" for f in self.files] + [""]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """``summary.json``'s content (infinite errors as the string ``"inf"``)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return str(v)
            if isinstance(v, dict):
                return {k: clean(w) for k, w in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(w) for w in v]
            return v

        return clean(
            {
                "passed": self.passed,
                "seconds": round(self.seconds, 3),
                "out": self.out,
                "versions": {
                    "python": platform.python_version(),
                    "sympy": sp.__version__,
                    "numpy": np.__version__,
                },
                "results": [{**asdict(r), "status": r.status} for r in self.results],
                "files": self.files,
            }
        )


def prepare_out(out: str | Path) -> Path:
    """Create the output folder and make sure it is writable.

    Raises:
        OSError: The folder cannot be created or written (a file is in the
            way, no permission).
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--out {path} exists and is not a directory")
    path.mkdir(parents=True, exist_ok=True)
    probe = path / ".eafo-write-test"
    try:
        probe.write_text("", encoding="utf-8")
    except OSError as exc:
        raise OSError(f"--out {path} is not writable: {exc.strerror or exc}") from None
    probe.unlink()
    return path


def _run_check(check: Check, out: Path | None) -> CheckResult:
    start = time.perf_counter()
    try:
        outcome = check.run(out)
        err = float(outcome.error)
        passed = math.isfinite(err) and err <= outcome.tol
        return CheckResult(
            check.key, check.title, outcome.derivation, outcome.check, err, outcome.tol,
            passed, time.perf_counter() - start, outcome.note, outcome.data,
        )
    except Exception as exc:  # noqa: BLE001 - a failing derivation is a FAIL row, not a crash
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return CheckResult(
            check.key, check.title, "(derivation failed)", f"{type(exc).__name__}: {exc}",
            math.inf, 0.0, False, time.perf_counter() - start,
            f"raised at {Path(last.filename).name}:{last.lineno}",
        )


def reproduce(
    out: str | Path = "eafo-output",
    *,
    figures: bool = True,
    checks: Sequence[Check] | None = None,
    progress: TextIO | None = sys.stderr,
) -> Report:
    """Run every check, write figures, generated code and the summaries into ``out``.

    Args:
        out: Output folder (created if needed).
        figures: Write the PNG figures.
        checks: The checks to run (default :data:`CHECKS`).
        progress: Where one progress line per step goes (None: silent).

    Returns:
        The :class:`Report`; ``report.passed`` is the overall verdict.

    Raises:
        OSError: ``out`` cannot be created or written.
    """
    import warnings

    start = time.perf_counter()
    path = prepare_out(out)
    checks = CHECKS if checks is None else tuple(checks)
    steps = len(checks) + (len(FIGURES) if figures else 0)

    def say(i: int, text: str) -> None:
        if progress is not None:
            progress.write(f"[{i:>2}/{steps}] {text}\n")
            progress.flush()

    results: list[CheckResult] = []
    files: list[str] = []
    with warnings.catch_warnings():
        # Quadrature warnings are folded into each check's measured error.
        warnings.simplefilter("ignore")
        for i, check in enumerate(checks, 1):
            r = _run_check(check, path)
            results.append(r)
            err = "inf" if math.isinf(r.error) else f"{r.error:.1e}"
            say(i, f"{check.title}: {r.status} (error {err}, {r.seconds:.1f} s)")
        if (path / "code").is_dir():
            files += sorted(str(p.relative_to(path)) for p in (path / "code").glob("*.py"))
        if figures:
            # Figures are drawn on matplotlib.figure.Figure, never pyplot: PNGs go through the
            # Agg canvas and a caller's backend (a notebook's inline one) is left alone.
            fig_dir = path / "figures"
            fig_dir.mkdir(exist_ok=True)
            for j, (name, draw) in enumerate(FIGURES, len(checks) + 1):
                t0 = time.perf_counter()
                draw(fig_dir / name)
                files.append(f"figures/{name}")
                say(j, f"figure {name} ({time.perf_counter() - t0:.1f} s)")
    report = Report(results, files, time.perf_counter() - start, str(path))
    files += ["summary.md", "summary.json"]
    (path / "summary.md").write_text(report.markdown(), encoding="utf-8")
    (path / "summary.json").write_text(
        json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return report
