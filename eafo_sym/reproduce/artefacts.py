r"""The shipped code, checked against SymPy and mpmath: what users import, not a fresh printout.

Four checks of :mod:`eafo_sym.reproduce`, one per artefact:

* ``nn_modules``: every class of :mod:`eafo_sym.nn` (the committed, generated file),
  built with no arguments as users build it;
* ``fused``: every class of :mod:`eafo_sym.fused` (the committed C++ kernels, built
  here), SKIP with the reason where they cannot be built;
* ``numpy`` and ``jax``: the functions ``eafo-sym codegen --backend numpy`` (``jax``)
  prints for every activation, written to ``code/`` in the output folder and
  run from that text (``jax``: SKIP where JAX is not installed).

Each activation of :mod:`eafo_sym.catalog` is run through the artefact's public
API (the constructor's defaults, ``.to(dtype)``, ``forward``, autograd; or the
printed function and its ``_grad``) and compared with its SymPy closed form
evaluated by mpmath at 30 digits (:class:`Reference`): values on a grid over
``[-8, 8]`` and at ``+-40``, ``+-1e3``; the input gradient (at a kink either
one-sided derivative); the gradient of every learnable parameter; the limits
at ``+-inf`` and a nan that stays nan; and the defaults. A fixed
hyper-parameter must be the catalog's value exactly (in float64 too); a
learnable one is compared where the module holds it, and its default must be
the catalog's to float32 rounding.
The error of a point is ``|got - want| / (1 + |want|)``; a float64 artefact
must stay within :data:`TOL64`, float32 within :data:`TOL32`.

The derivation column of the report names the file that ran with its
SHA-256, so the table says which code was checked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .. import catalog
from ..cache import memoize
from ..symbolic.symbols import x
from .outcome import Outcome, Skip

__all__ = [
    "GRID",
    "TOL32",
    "TOL64",
    "Reference",
    "Skip",
    "check_fused",
    "check_jax",
    "check_nn_modules",
    "check_numpy",
    "reference",
]

#: Largest error allowed for float64 code, relative to ``1 + |value|``.
TOL64 = 1e-12
#: Largest error allowed for float32 code (a few float32 ulps).
TOL32 = 1e-5
#: The finite grid: ``[-8, 8]`` in steps of 1/4, near 0, and far out.
GRID: tuple[float, ...] = tuple(float(t) for t in np.linspace(-8, 8, 65)) + (
    -1e3, -40.0, -1e-3, 1e-3, 40.0, 1e3,
)
_EDGES = (math.inf, -math.inf, math.nan)
# Bumped whenever the reference computation changes, so disk-cached tables are recomputed.
_REFERENCE_VERSION = 1
_DPS = 30


def sha256_of(data: bytes) -> str:
    """The first 12 hex digits of the SHA-256 of ``data``, as the table prints them.

    >>> sha256_of(b"")
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()[:12]


# --- the reference ----------------------------------------------------------------


def _kinks(expr: sp.Expr) -> tuple[float, ...]:
    """Where ``expr``'s pieces meet: zeros of the linear arguments of Max, Min, Abs,
    Heaviside and of Piecewise conditions."""
    found: set[float] = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Max, sp.Min)):
            pairs = [a - b for i, a in enumerate(node.args) for b in node.args[i + 1:]]
        elif isinstance(node, (sp.Abs, sp.Heaviside)):
            pairs = [node.args[0]]
        elif isinstance(node, sp.Piecewise):
            pairs = [c.lhs - c.rhs for _, c in node.args if isinstance(c, sp.Rel)]
        else:
            continue
        for d in pairs:
            poly = sp.Poly(d, x) if d.is_polynomial(x) else None
            if poly is not None and poly.degree() == 1:
                a, b = poly.all_coeffs()
                if (-b / a).is_number:
                    found.add(float(-b / a))
    return tuple(sorted(found))


@memoize(disk=True)
def _mp_table(
    expr: sp.Expr, values: tuple, points: tuple, kinks: tuple, version: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``expr`` at ``points`` by mpmath (parameters ``values``); one-sided at ``kinks``."""
    symbols = tuple(s for s, _ in values)
    fn = sp.lambdify((x, *symbols), expr, modules="mpmath")
    with mpmath.workdps(_DPS):
        args = [mpmath.mpf(v) for _, v in values]
        delta = mpmath.mpf(10) ** (-20)
        left, right = [], []
        for t in points:
            tm = mpmath.mpf(t)
            if t in kinks:
                left.append(float(fn(tm - delta, *args)))
                right.append(float(fn(tm + delta, *args)))
            else:
                v = float(fn(tm, *args))
                left.append(v)
                right.append(v)
    return tuple(left), tuple(right)


@memoize(disk=True)
def _mp_limits(expr: sp.Expr, values: tuple, version: int) -> tuple[float, float]:
    """``expr`` at ``+inf`` and ``-inf``, read off at ``+-1e30`` with mpmath."""
    symbols = tuple(s for s, _ in values)
    fn = sp.lambdify((x, *symbols), expr, modules="mpmath")
    out = []
    with mpmath.workdps(40):
        args = [mpmath.mpf(v) for _, v in values]
        for sign in (1, -1):
            v = fn(mpmath.mpf(sign) * mpmath.mpf("1e30"), *args)
            out.append(math.copysign(math.inf, float(v)) if abs(v) > 1e20 else float(v))
    return out[0], out[1]


@dataclass(frozen=True)
class Reference:
    """SymPy's closed form of one catalog activation, evaluated by mpmath.

    Attributes:
        name: Catalog name.
        params: Parameter name -> the catalog's default (a Python float).
        points: The grid (:data:`GRID`).
        value: ``f`` at the points.
        dx: ``(left, right)`` one-sided ``df/dx`` (equal away from kinks).
        limits: ``f`` and ``df/dx`` at ``+inf`` and ``-inf``.
    """

    name: str
    params: dict[str, float]
    points: np.ndarray
    value: np.ndarray
    dx: tuple[np.ndarray, np.ndarray]
    limits: dict[str, tuple[float, float]] = field(default_factory=dict)
    expr: sp.Expr = sp.S.Zero

    def _values(self) -> tuple:
        return tuple((s, self.params[str(s)]) for s in catalog.get(self.name).params)

    def dparam(self, pname: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """One-sided ``df/dp`` at the points and its limits at ``+-inf``."""
        sym = next(s for s in catalog.get(self.name).params if str(s) == pname)
        d = sp.diff(self.expr, sym)
        kinks = _kinks(self.expr)
        lo, hi = _mp_table(d, self._values(), GRID, kinks, _REFERENCE_VERSION)
        return np.array(lo), np.array(hi), _mp_limits(d, self._values(), _REFERENCE_VERSION)


def reference(name: str, **params: float) -> Reference:
    """The :class:`Reference` of catalog activation ``name`` (disk-cached tables).

    Parameters are the catalog's defaults unless given by name (a module's
    learned parameter has the value it holds, which may be a rounded default).

    >>> r = reference("relu")
    >>> float(r.value[-1]), r.limits["value"], (float(r.dx[0][32]), float(r.dx[1][32]))
    (1000.0, (inf, 0.0), (0.0, 1.0))
    >>> float(reference("leaky_relu", alpha=0.5).value[0])  # x = -8
    -4.0
    """
    act = catalog.get(name)
    unknown = set(params) - {str(s) for s in act.params}
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {', '.join(sorted(unknown))}")
    values = tuple((s, float(params.get(str(s), d))) for s, d in act.params.items())
    return _reference(name, values)


@cache
def _reference(name: str, values: tuple) -> Reference:
    act = catalog.get(name)
    kinks = _kinks(act.expr)
    value, _ = _mp_table(act.expr, values, GRID, (), _REFERENCE_VERSION)
    d = sp.diff(act.expr, x)
    left, right = _mp_table(d, values, GRID, kinks, _REFERENCE_VERSION)
    return Reference(
        name,
        {str(s): v for s, v in values},
        np.array(GRID),
        np.array(value),
        (np.array(left), np.array(right)),
        {
            "value": _mp_limits(act.expr, values, _REFERENCE_VERSION),
            "dx": _mp_limits(d, values, _REFERENCE_VERSION),
        },
        act.expr,
    )


# --- comparing --------------------------------------------------------------------


@dataclass(frozen=True)
class _Error:
    """The worst error over some points, and the point where it is."""

    value: float
    at: float | None = None

    def __str__(self) -> str:
        where = "" if self.at is None else f" at x = {self.at:g}"
        return f"{self.value:.1e}{where}"


def _worst(err: np.ndarray, points: Iterable[float] | None) -> _Error:
    if not err.size:
        return _Error(0.0)
    err = np.where(np.isnan(err), np.inf, err)
    i = int(np.argmax(err))
    at = list(points)[i] if points is not None else None
    return _Error(float(err[i]), at)


def _rel(got: Any, want: np.ndarray, points: Iterable[float] | None = GRID) -> _Error:
    g = np.asarray(got, dtype=float)
    with np.errstate(all="ignore"):
        err = np.abs(g - want) / (1 + np.abs(want))
    return _worst(err, points)


def _rel_either(
    got: Any, pair: tuple[np.ndarray, np.ndarray], points: Iterable[float] | None = GRID
) -> _Error:
    """The error against the nearer of the two one-sided values, point by point."""
    g = np.asarray(got, dtype=float)
    with np.errstate(all="ignore"):
        errs = [np.abs(g - w) / (1 + np.abs(w)) for w in pair]
        err = np.minimum(*errs)
    return _worst(err, points)


def _edge_error(
    got: Iterable[float], want: Iterable[float], points: Iterable[float] = _EDGES
) -> _Error:
    """The error at +-inf and nan: an infinite limit exactly, nan stays nan, else relative."""
    errs = []
    for g, w in zip(got, want, strict=True):
        g = float(g)
        if math.isnan(w):
            errs.append(0.0 if math.isnan(g) else math.inf)
        elif math.isinf(w):
            errs.append(0.0 if g == w else math.inf)
        else:
            errs.append(abs(g - w) / (1 + abs(w)) if math.isfinite(g) else math.inf)
    worst = max(range(len(errs)), key=lambda i: errs[i], default=None)
    if worst is None:
        return _Error(0.0)
    return _Error(errs[worst], list(points)[worst])


@dataclass
class _Tally:
    """Errors per activation and per quantity (with their tolerances), and which fail."""

    tol: dict[str, float]
    errors: dict[str, dict[str, tuple[_Error, float]]] = field(default_factory=dict)

    def add(self, label: str, what: str, err: _Error | float, tol_key: str = "float64") -> None:
        e = err if isinstance(err, _Error) else _Error(float(err))
        self.errors.setdefault(label, {})[what] = (e, self.tol[tol_key])

    def failing(self) -> list[str]:
        """``"CRReLU (value 1.0e+00 at x = 8)"`` for each activation above its tolerance."""
        bad = []
        for label, errs in self.errors.items():
            worst = [
                f"{what} {e}"
                for what, (e, tol) in errs.items()
                if not (math.isfinite(e.value) and e.value <= tol)
            ]
            if worst:
                bad.append(f"{label} ({', '.join(worst)})")
        return bad

    def worst(self) -> float:
        """The largest error as a multiple of its tolerance, times TOL64 (the row's error)."""
        ratios = [
            e.value / tol if tol else (0.0 if e.value == 0 else math.inf)
            for errs in self.errors.values()
            for e, tol in errs.values()
        ]
        return max(ratios, default=0.0) * TOL64

    def plain(self) -> dict[str, dict[str, float]]:
        return {
            label: {what: e.value for what, (e, _) in errs.items()}
            for label, errs in self.errors.items()
        }


def _outcome(
    tally: _Tally, derivation: str, check: str, missing: list[str], data: dict
) -> Outcome:
    failing = tally.failing() + [f"{m} (missing)" for m in missing]
    return Outcome(
        derivation=derivation,
        check=check,
        error=math.inf if missing else tally.worst(),
        tol=TOL64,
        note=("failing: " + "; ".join(failing)) if failing else "",
        data={"errors": tally.plain(), "failing": failing, **data},
    )


# --- torch modules ----------------------------------------------------------------


def _require(module: str, why: str) -> ModuleType:
    if importlib.util.find_spec(module) is None:
        raise Skip(f"{module} is not installed: {why}")
    return importlib.import_module(module)


def _learnable(m: Any, name: str) -> dict[str, Any]:
    """The module's learnable parameters by catalog name (by name, else in catalog order).

    The generated modules name them as the catalog does (``epsilon``); a class
    that follows torch.nn's names (PReLU's ``weight``) is matched by position.
    """
    catalog_names = [str(s) for s in catalog.get(name).params]
    learn = dict(m.named_parameters())
    out = {k: v for k, v in learn.items() if k in catalog_names}
    rest = [k for k in learn if k not in out]
    free = [c for c in catalog_names if c not in out]
    if len(rest) > len(free):
        raise ValueError(
            f"{type(m).__name__} has parameters {sorted(learn)} that the catalog's "
            f"{name} ({', '.join(catalog_names)}) does not"
        )
    out.update({c: learn[k] for k, c in zip(rest, free, strict=False)})
    return out


def _torch_checks(
    classes: Mapping[str, type], tally: _Tally, dtypes: Iterable[Any]
) -> list[str]:
    """Run every catalog activation's class; return the catalog names with no class.

    Each class is built with no arguments (its defaults) and cast to each
    dtype. Fixed hyper-parameters must then be the catalog's defaults, exactly
    in float64; learnable ones are what the module holds (the reference is
    computed there), and their defaults must agree with the catalog's to
    float32 rounding.
    """
    import torch

    missing = [n for n in catalog.names() if n not in classes]
    rng = np.random.default_rng(20250101)
    weights = rng.uniform(0.5, 1.5, len(GRID))
    for name in catalog.names():
        if name not in classes:
            continue
        cls = classes[name]
        label = cls.__name__
        defaults = reference(name).params
        for dtype in dtypes:
            key = "float64" if dtype == torch.float64 else "float32"
            suffix = "" if dtype == torch.float64 else " (float32)"
            m = cls().to(dtype)
            learn = _learnable(m, name)
            held = {p: float(v.detach()) for p, v in learn.items()}
            if dtype == torch.float64:
                gaps = [abs(held[p] - defaults[p]) / max(abs(defaults[p]), 1e-300) for p in held]
                tally.add(label, "defaults", max(gaps, default=0.0), "defaults")
            ref = reference(name, **held)
            t = torch.tensor(GRID, dtype=dtype, requires_grad=True)
            y = m(t)
            w = torch.tensor(weights, dtype=dtype)
            grads = torch.autograd.grad(y, [t, *learn.values()], grad_outputs=w)
            tally.add(label, "value" + suffix, _rel(y.detach().double(), ref.value), key)
            gx = grads[0].double().numpy() / weights
            tally.add(label, "d/dx" + suffix, _rel_either(gx, ref.dx), key)
            for pname, g in zip(learn, grads[1:], strict=True):
                lo, hi, _lim = ref.dparam(pname)
                want = (np.array([(weights * lo).sum()]), np.array([(weights * hi).sum()]))
                tally.add(label, f"d/d{pname}" + suffix, _rel_either([float(g)], want, None), key)
            if dtype == torch.float64:
                _torch_edges(m, ref, learn, tally, label, dtype)
    return missing


def _torch_edges(
    m: Any, ref: Reference, learn: Mapping[str, Any], tally: _Tally, label: str, dtype: Any
) -> None:
    import torch

    t = torch.tensor(_EDGES, dtype=dtype, requires_grad=True)
    y = m(t)
    (gx,) = torch.autograd.grad(y.sum(), [t])
    v_want, d_want = [*ref.limits["value"], math.nan], [*ref.limits["dx"], math.nan]
    tally.add(label, "edge values", _edge_error(y.detach().tolist(), v_want))
    tally.add(label, "edge d/dx", _edge_error(gx.tolist(), d_want))
    t2 = torch.tensor(_EDGES[:2], dtype=dtype)
    for pname, p in learn.items():
        _, _, lim = ref.dparam(pname)
        got = _per_point(m, p, t2)
        tally.add(label, f"edge d/d{pname}", _edge_error(got, list(lim), _EDGES[:2]))


def _per_point(m: Any, p: Any, t: Any) -> list[float]:
    """The gradient of ``m(t[i])`` with respect to parameter ``p``, one point at a time."""
    import torch

    out = []
    for i in range(len(t)):
        (g,) = torch.autograd.grad(m(t[i : i + 1]).sum(), [p])
        out.append(float(g))
    return out


def _file_label(path: Path) -> str:
    parts = path.resolve().parts
    if "eafo_sym" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("eafo_sym"):])
    return str(path)


def check_nn_modules(out: Any = None) -> Outcome:
    """Every class of eafo_sym.nn (the shipped file) against SymPy/mpmath."""
    torch = _require("torch", "the generated modules of eafo_sym.nn need it")
    from .. import nn

    path = Path(nn.__file__)
    digest = sha256_of(path.read_bytes())
    tally = _Tally({"float64": TOL64, "float32": TOL32, "defaults": 2.0**-24})
    missing = _torch_checks(nn.ACTIVATIONS, tally, (torch.float64, torch.float32))
    extra = sorted(set(nn.ACTIVATIONS) - set(catalog.names()))
    return _outcome(
        tally,
        f"{_file_label(path)} sha256 {digest}: {len(nn.ACTIVATIONS)} modules",
        "every module built with its defaults vs mpmath (30 digits), float64 and float32: "
        "values on [-8, 8], +-40, +-1e3; d/dx (autograd); d/dparam of learnable parameters; "
        "+-inf, nan; fixed hyper-parameters exact, learnable defaults within 2**-24",
        missing,
        {"path": str(path), "sha256": digest, "extra": extra},
    )


def check_fused(out: Any = None) -> Outcome:
    """Every class of eafo_sym.fused (the C++ kernels, built here) against SymPy/mpmath."""
    torch = _require("torch", "the fused kernels are a torch extension")
    from .. import fused

    try:
        ext = fused.load()
    except Exception as exc:  # noqa: BLE001 - any build failure is a reason to skip
        first = " ".join(str(exc).split())[:300]
        raise Skip(f"the fused kernels do not build here: {first}") from None
    path = Path(fused.SOURCE_PATH)
    digest = sha256_of(path.read_bytes())
    tally = _Tally({"float64": TOL64, "float32": TOL32, "defaults": 2.0**-24})
    missing = _torch_checks(fused.ACTIVATIONS, tally, (torch.float64, torch.float32))
    return _outcome(
        tally,
        f"{_file_label(path)} sha256 {digest}, built as {getattr(ext, '__name__', '?')}",
        "every fused module (float32/float64 kernels) vs mpmath, as for eafo_sym.nn",
        missing,
        {"path": str(path), "sha256": digest},
    )


# --- NumPy and JAX functions ------------------------------------------------------


def _printed_functions(backend: str, out: Any) -> tuple[dict, str, str]:
    """Print every activation for ``backend``, write it to ``code/`` and import that text."""
    from ..codegen.registry import backend_source
    from .memo import cached_call

    text = cached_call(
        backend_source, backend, None, command=f"eafo-sym codegen --backend {backend}"
    )
    rel = f"code/activations_{backend}.py"
    filename = str(out.write_text(rel, text)) if out is not None else f"<{rel}>"
    name = f"_eafo_reproduce_activations_{backend}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    mod = importlib.util.module_from_spec(spec)
    import linecache

    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), mod.__dict__)  # noqa: S102 - our own printed code
    return mod.ACTIVATIONS, rel, sha256_of(text.encode())


def _array_checks(
    functions: Mapping[str, tuple[Callable, Callable]],
    tally: _Tally,
    asarray: Callable[[list[float]], Any],
) -> list[str]:
    missing = [n for n in catalog.names() if n not in functions]
    for name in catalog.names():
        if name not in functions:
            continue
        f, grad = functions[name]
        ref = reference(name)
        sig = inspect.signature(f)
        gaps = [
            abs(float(sig.parameters[p].default) - v) / max(abs(v), 1e-300)
            if p in sig.parameters and sig.parameters[p].default is not inspect.Parameter.empty
            else math.inf
            for p, v in ref.params.items()
        ]
        tally.add(name, "defaults", max(gaps, default=0.0))
        n = len(GRID)
        with np.errstate(all="ignore"):
            # One array for the grid and the edges: JAX compiles each operation once per shape.
            t = asarray([*GRID, *_EDGES])
            v = np.asarray(f(t, **ref.params), dtype=float)
            d = np.asarray(grad(t, **ref.params), dtype=float)
        tally.add(name, "value", _rel(v[:n], ref.value))
        tally.add(name, "d/dx", _rel_either(d[:n], ref.dx))
        tally.add(name, "edge values", _edge_error(v[n:], [*ref.limits["value"], math.nan]))
        tally.add(name, "edge d/dx", _edge_error(d[n:], [*ref.limits["dx"], math.nan]))
    return missing


def _printed_outcome(
    backend: str, out: Any, asarray: Callable[[list[float]], Any], check: str, **data: Any
) -> Outcome:
    """Print, write and run ``backend``'s functions for every activation; one table row."""
    functions, rel, digest = _printed_functions(backend, out)
    tally = _Tally({"float64": TOL64, "defaults": 0.0})
    missing = _array_checks(functions, tally, asarray)
    return _outcome(
        tally,
        f"{rel} sha256 {digest}: {len(functions)} functions and their _grad",
        check,
        missing,
        {"file": rel, "sha256": digest, **data},
    )


def check_numpy(out: Any = None) -> Outcome:
    """The NumPy functions eafo-sym codegen prints, run from the written file, vs SymPy/mpmath."""
    return _printed_outcome(
        "numpy",
        out,
        lambda v: np.asarray(v, dtype=np.float64),
        "eafo-sym codegen --backend numpy, every function vs mpmath (30 digits): values "
        "and d/dx on [-8, 8], +-40, +-1e3; +-inf, nan; keyword defaults",
    )


@contextmanager
def _jax_compilation_cache(jax: ModuleType) -> Iterator[None]:
    """JAX's persistent compilation cache under the package's cache folder, for this block.

    Run op by op, the printed functions compile a few hundred small XLA
    programs (seconds); cached, the next run loads them. A cache folder the
    user configured is left as it is; so is everything without a disk cache.
    """
    from ..cache import cache_dir, disk_enabled

    names = (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes",
    )
    try:
        old = {n: getattr(jax.config, n) for n in names}
    except AttributeError:
        old = None
    if old is None or old[names[0]] or not disk_enabled():
        yield
        return
    values = (str(cache_dir() / "jax"), 0, 0)
    try:
        for n, v in zip(names, values, strict=True):
            jax.config.update(n, v)
        yield
    finally:
        for n, v in old.items():
            jax.config.update(n, v)


def check_jax(out: Any = None) -> Outcome:
    """The JAX functions eafo-sym codegen prints (float64), vs SymPy/mpmath."""
    jax = _require("jax", "the printed JAX functions need it")
    import jax.numpy as jnp

    with jax.enable_x64(True), _jax_compilation_cache(jax):
        return _printed_outcome(
            "jax",
            out,
            lambda v: jnp.asarray(v, dtype=jnp.float64),
            "eafo-sym codegen --backend jax, run with jax_enable_x64, every function vs "
            "mpmath as for NumPy",
            jax=getattr(jax, "__version__", "?"),
        )
