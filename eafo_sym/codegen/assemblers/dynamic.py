"""``eafo_sym/dynamic.py``: dynamic EAFO modules printed from the closed forms in mu and sigma.

For each EAFO-derived activation of the catalog (``crrelu``, ``eafo_elu``, ...) the form is
its base's correction under ``N(mu, sigma)`` with ``mu`` and ``sigma`` symbolic
(:func:`eafo_sym.symbolic.parametric.parametric_correction`), named ``dynamic_<name>``
(class ``DynamicCRReLU``, ``DynamicEafoELU``, ...). The printed functions, autograd Functions
and the file's layout are the torch backend's (:mod:`.torch`); what differs is the module
class (running estimates of ``mu`` and ``sigma`` as buffers, the template
``templates/dynamic.py``) and that ``<name>_bwd`` returns no gradient for ``mu`` and
``sigma``, which are never trained.
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

from ... import catalog
from ...laws import MU, SIGMA, normal
from ...symbolic.eafo import derive_correction
from ...symbolic.parametric import parametric_correction
from ...symbolic.symbols import eps, x
from .. import templates
from ..files import DEFAULT_COMMAND
from ..forms import ActivationForm
from ..printers.dynamic import DynamicTorchPrinter
from .common import doc_expr
from .torch import _function_class, _function_defs, torch_source

__all__ = ["PREFIX", "dynamic_form", "dynamic_forms", "dynamic_source"]

#: Registry names of the dynamic activations: ``dynamic_`` + the static one's.
PREFIX = "dynamic_"

#: The law's parameters, after the activation's own, with the standard normal's values.
LAW = {MU: 0.0, SIGMA: 1.0}
LAW_AT_STANDARD = {MU: sp.S.Zero, SIGMA: sp.S.One}

#: Derived activations with no dynamic twin yet, and why.
NOT_PRINTED = {
    "eafo_silu": "its parametric correction is derived, but the torch printer's forward for "
                 "it disagrees with SymPy (by 1e-3 at x = 2, mu = 0, sigma = 1)",
}


def _base_of(name: str) -> str:
    """The base activation a derived registry name corrects (``crrelu`` -> ``relu``)."""
    return "relu" if name == "crrelu" else name.removeprefix("eafo_")


def dynamic_form(name: str) -> ActivationForm:
    """The dynamic twin of the derived activation ``name`` (``"crrelu"``, ``"eafo_elu"``, ...).

    Raises:
        ValueError: ``name`` is not an EAFO-derived activation of the catalog.
    """
    act = catalog.get(name)
    if not act.derived:
        derived = sorted(n for n in catalog.names() if catalog.get(n).derived)
        raise ValueError(
            f"{name} is not an EAFO-derived activation; dynamic EAFO has "
            f"{', '.join(derived)}"
        )
    if name in NOT_PRINTED:
        raise ValueError(f"{name} has no dynamic twin: {NOT_PRINTED[name]}")
    c = parametric_correction(_base_of(name))
    own = {s: sp.nsimplify(v, rational=True) for s, v in act.params.items()}
    static = derive_correction(_base_of(name), normal(), taylor_order=0, y_space=False).shape
    k = _normalisation(c.shape.subs(own), static.subs(own))
    params = {**dict(act.params), **LAW}
    description = (f"{act.description}; the correction follows the running law "
                   "N(mu, sigma) of its input")
    # exp(mu) * exp(x - mu) -> exp(x): fewer factors to print, none that overflows alone.
    shape = sp.powsimp(k * c.shape, combine="exp")
    return ActivationForm(PREFIX + name, c.base + eps * shape, params,
                          frozenset(act.params), description)


def _normalisation(shape: sp.Expr, static: sp.Expr) -> sp.Expr:
    """The positive number ``k`` with ``k * shape = static`` at ``mu = 0, sigma = 1``.

    A shape is fixed up to a positive constant; this one makes the dynamic activation at the
    standard normal law its static twin (the constant split can differ under symbolic
    parameters: SiLU's parametric shape is twice its static one). Checked at several points.

    Raises:
        ValueError: The ratio is not a positive constant (the two derivations disagree).
    """
    at_standard = shape.subs(LAW_AT_STANDARD)
    points = [sp.Rational(-7, 5), sp.Rational(-1, 3), sp.Rational(1, 2), sp.Rational(9, 4)]
    ratios = [sp.N((static / at_standard).subs(x, t), 30) for t in points]
    k = sp.nsimplify(ratios[0], rational=False, tolerance=1e-25)
    if not (k.is_number and k > 0) or any(abs(r - k) > 1e-20 * abs(k) for r in ratios):
        raise ValueError(f"the parametric shape {shape} is not a positive multiple of the "
                         f"static shape {static} at mu = 0, sigma = 1")
    return k


def _derived_name(name: str) -> str | None:
    """The EAFO-derived activation for a registry name: itself, or a base's correction."""
    if name in catalog.names() and catalog.get(name).derived:
        return name
    corrected = "crrelu" if name == "relu" else f"eafo_{name}"
    if name in ("relu", *catalog.CORRECTED_BASES) and corrected in catalog.names():
        return corrected
    return None


def dynamic_forms(forms: Iterable[ActivationForm]) -> list[ActivationForm]:
    """Dynamic twins of the activations among ``forms`` (registry forms) that have one.

    A derived activation (``crrelu``, ``eafo_elu``) and its base (``relu``, ``elu``) name
    the same twin (``dynamic_crrelu``, ``dynamic_eafo_elu``).
    """
    names = dict.fromkeys(_derived_name(f.name) for f in forms)
    return [dynamic_form(n) for n in names if n is not None and n not in NOT_PRINTED]


def _module_class(f: ActivationForm) -> list[str]:
    """The ``nn.Module``: learnable parameters, the running law as buffers, the update."""
    cls = f.class_name
    own = [p for p in f.params if p not in LAW]
    args = ", ".join(["x", *map(str, f.params)])
    sig = ", ".join(
        ["self", *(f"{p}: float = {float(f.params[p])!r}" for p in own), "*",
         "momentum: float = 0.1", "dim: Optional[int] = None", "num_channels: int = 1",
         "frozen: bool = False", "inplace: bool = False", "device=None", "dtype=None"]
    )
    static = f.name.removeprefix(PREFIX)
    doc = [
        f'    """{f.description}.',
        "",
        f"    ``f(x) = {doc_expr(f.expr)}``",
        "",
        "    ``mu`` and ``sigma`` are buffers: in training mode they move towards the batch's",
        "    mean and standard deviation (``new = (1 - momentum) * old + momentum * batch``,",
        "    detached, as BatchNorm's running statistics) before the forward uses them; in",
        "    eval mode they are used as they are. ``frozen=True`` keeps them (from",
        f"    ``mu = 0, sigma = 1``: the static ``{static}`` of eafo_sym.nn).",
        "",
        "    Args:",
        *(f"        {p}: initial value, learnable (``nn.Parameter``). Default "
          f"{float(f.params[p])!r}." for p in own),
        "        momentum: weight of the newest batch in the running law, in (0, 1]. "
        "Default 0.1.",
        "        dim: the channel dimension for a law per channel (None: one law for the "
        "tensor).",
        "        num_channels: channels along ``dim`` (1 without ``dim``).",
        "        frozen: never update the running law.",
        "        inplace: accepted for timm (``act_layer(inplace=...)``); no effect.",
        "        device, dtype: where and how the parameters and buffers are created.",
        '    """',
    ]
    out = [f"class {cls}(torch.nn.Module):", *doc, "",
           f"    def __init__({sig}) -> None:",
           "        super().__init__()",
           f"        _check_law_arguments({cls!r}, momentum, dim, num_channels)"]
    for p in own:
        out.append(f"        self.{p} = torch.nn.Parameter(torch.full((), _number({cls!r}, "
                   f"{str(p)!r}, {p}), device=device, dtype=dtype))")
    out += [
        "        shape = () if dim is None else (num_channels,)",
        *(f"        self.register_buffer({str(p)!r}, torch.full(shape, {float(v)!r}, "
          "device=device, dtype=dtype))" for p, v in LAW.items()),
        "        self.momentum = float(momentum)",
        "        self.dim = dim",
        "        self.frozen = bool(frozen)",
        "        self.inplace = inplace",
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        "        if self.training and not self.frozen:",
        "            _update_law(self.mu, self.sigma, x, self.momentum, self.dim)",
        "        return self._autograd_function(x, *self._arguments(x))",
        "",
        "    def _arguments(self, x: torch.Tensor):",
        '        """The tensors the printed functions take after x, in ``PARAMETERS`` order."""',
        "        return (" + "".join(f"self.{p}, " for p in own)
        + "_along(self.mu, x, self.dim), _along(self.sigma, x, self.dim))",
        "",
        f"    def _autograd_function(self, {args}):",
        "        if _compiling():",
        f"            return _{cls}Traced.apply({args})",
        f"        return _{cls}Function.apply({args})",
        "",
        "    def extra_repr(self) -> str:",
        "        law = f\", dim={self.dim}\" if self.dim is not None else \"\"",
        "        return (" + "".join(f'f"{p}={{_shown(self.{p})}}, " ' for p in own)
        + 'f"momentum={self.momentum}{law}" + (", frozen=True" if self.frozen else ""))',
    ]
    return out


def _block(f: ActivationForm, pr) -> str:
    """The printed functions, autograd Functions and module of one dynamic activation."""
    trained = len([p for p in f.params if p not in LAW])
    out = _function_defs(f, pr, gradient_of=trained) + _function_class(f) + _module_class(f)
    return "\n".join(out) + "\n"


def dynamic_source(
    forms: Iterable[ActivationForm],
    command: str = DEFAULT_COMMAND,
    *,
    printer: type = DynamicTorchPrinter,
) -> str:
    """The text of ``eafo_sym/dynamic.py`` for the EAFO-derived activations among ``forms``.

    Raises:
        ValueError: None of ``forms`` is EAFO-derived.
    """
    forms = list(forms)
    dynamic = dynamic_forms(forms)
    if not dynamic:
        names = ", ".join(f.name for f in forms)
        raise ValueError(f"dynamic EAFO needs an EAFO-derived activation (crrelu, eafo_*) or "
                         f"its base (relu, {', '.join(catalog.CORRECTED_BASES)}); got {names}")
    return torch_source(dynamic, command, templates.docstring("dynamic.py"), printer=printer,
                        block=_block, sections=[("dynamic.py", "law")],
                        typing="Callable, List, NamedTuple, Optional, Tuple")
