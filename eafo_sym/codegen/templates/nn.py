"""Torch modules for every activation in :mod:`eafo_sym.catalog`.

Printed by :mod:`eafo_sym.codegen` from the SymPy closed forms and their
analytic derivatives. Each class constructs with no arguments (timm's
``act_layer`` convention), works on any shape and on float16, bfloat16,
float32 and float64, and has a backward that saves only its input.
``ACTIVATIONS`` maps registry names (``"crrelu"``, ``"gelu"``, ...) to classes
and ``get_act_layer(name)`` looks one up; ``PARAMETERS`` maps them to their
parameter names, in the order the functions ``<name>_fwd``, ``<name>_bwd_x``,
``<name>_bwd``, ``<name>_jvp`` and ``<name>_hvp`` take them (a module's
``_arguments(x)`` gives those tensors).

Every derivative up to the second order is printed from SymPy: the autograd
Functions have ``setup_context``, a forward-mode ``jvp`` and a ``vmap`` rule, and
their backward is differentiable (double backward, gradient penalties,
``torch.func.hessian``); a third derivative raises. The modules also run under
``torch.compile``, ``torch.export`` and the ONNX exporter, and TorchScript
(``torch.jit.script``, ``torch.jit.save``).

The classes named as in torch.nn (``LeakyReLU``, ``PReLU``, ``GELU``, ...) take
torch.nn's constructor arguments and have its attributes and ``state_dict`` keys:
fixed hyper-parameters are float attributes (exact in float64), PReLU's slope
is its learnable ``weight``. CRReLU's learnable correction size is called
``epsilon`` here (the SymPy symbol); the paper's pseudocode calls it ``lr``, and
checkpoints with ``lr`` load. Its default 0.01 is the paper's. Learned
parameters: those of derived activations and PReLU's slope. ``register_timm()``
makes the registry names timm ``act_layer`` names (automatic where timm is
imported).
"""

# This file is the part of eafo_sym/nn.py that is not printed from SymPy. ``eafo-sym codegen``
# pastes the docstring above and each section below into the generated file, byte for byte
# (eafo_sym.codegen.assemblers.torch); the one-off files of ``to_torch`` get the same sections
# under their own docstring. The lines before the first section are never pasted: they make
# this a module that ruff checks (the generated file has the same imports; this template is
# never imported). Every helper is TorchScript-compatible: scripted modules call them, and
# TorchScript reads typing's Optional, not ``X | None``.
# ruff: noqa: UP035, UP045

import math
from typing import Callable, NamedTuple, Optional

import torch

ACTIVATIONS: dict[str, type] = {}  # printed into the generated file before the lookup

# eafo-sym template: helpers

def _compiling() -> bool:
    """Whether torch.compile or torch.export is tracing (never inside TorchScript)."""
    if torch.jit.is_scripting():
        return False
    return torch.compiler.is_compiling()


def _exporting() -> bool:
    """Whether torch.export is tracing, as the ONNX exporter does."""
    if torch.jit.is_scripting():
        return False
    return torch.compiler.is_exporting()


def _largest(dtype: torch.dtype) -> float:
    """The dtype's largest finite value: torch.finfo, which TorchScript lacks, or its table."""
    if not torch.jit.is_scripting():
        return torch.finfo(dtype).max
    if dtype == torch.float64:
        return 1.7976931348623157e308
    if dtype == torch.float16:
        return 65504.0
    if dtype == torch.bfloat16:
        return 3.3895313892515355e38
    return 3.4028234663852886e38


def _finite(a: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``a`` with nan and +-inf as its dtype's largest finite value (+-), for ``T * A`` guards.

    In ``T * _finite(A)`` a factor ``T`` that has underflowed to 0 wins over an
    overflowed ``A`` (eafo_sym.codegen.stable.decay_guard). Eager uses one
    nan_to_num pass; under torch.compile the same map is fmin/fmax, because
    Inductor's nan_to_num tests nan one element at a time (about twice the
    cost of the whole fused kernel) while fmin/fmax vectorise; under torch.export
    it is a select and a two-sided clamp, which ONNX has (it has no fmin/fmax).
    ``out``: a dead buffer of ``a``'s dtype and shape to write into (eager only).
    """
    big = _largest(a.dtype)
    if _exporting():
        return torch.where(a == a, a.clamp(-big, big), big)
    if _compiling():
        hi = torch.full((), big, dtype=a.dtype, device=a.device)
        return torch.fmax(torch.fmin(a, hi), -hi)
    if out is None:
        return torch.nan_to_num(a, nan=big)
    return torch.nan_to_num(a, nan=big, out=out)


def _finite_input(x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """:func:`_finite` of the input itself: +-inf as the largest finite value, nan kept.

    In ``T(x) * _finite_input(x)`` a nan input gives a nan ``T``, so the product is
    nan whatever the cofactor; a two-sided clamp is all the guard needs. Under
    torch.compile it is a min and a max, where fmin/fmax would leave comparison masks
    that the partitioner saves for the backward (two bytes an element).
    """
    big = _largest(x.dtype)
    if out is None:
        return torch.clamp(x, -big, big)
    return torch.clamp(x, -big, big, out=out)


def _finite_(a: torch.Tensor) -> torch.Tensor:
    """:func:`_finite` in place, on a temporary the caller owns."""
    if _compiling():
        return _finite(a)
    return a.nan_to_num_(nan=_largest(a.dtype))


def _zero_wins_(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The fresh product ``p`` of a factor ``z`` and a cofactor, with ``z == 0`` winning.

    Where ``z`` has underflowed to 0 against an overflowed cofactor, ``p`` holds
    ``0 * inf = nan``; that becomes 0, and everything else stays the plain product
    (``1 * inf`` is inf). Adding ``clamp(z, 0, 0)`` (0, or nan where ``z`` is nan)
    keeps a nan input nan; the printed code adds one such term per further zero
    factor. An ``inf - inf`` inside the cofactor also becomes 0
    (eafo_sym.codegen.stable.zero_guard). Eager uses nan_to_num, with no bool
    tensor: comparisons and masked writes are 5-20x slower than arithmetic in
    torch's CPU kernels. torch.compile gets a compare-and-select, which Inductor
    fuses (its nan_to_num tests nan one element at a time).
    """
    if _compiling():
        p = torch.where(p == p, p, 0.0)
    else:
        p = p.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
    return p.add_(torch.clamp(z, 0.0, 0.0))


def _at_least(a: torch.Tensor, c: float, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``max(a, c)`` with nan kept: a one-sided clamp, or a select under torch.export.

    ONNX's Clip fills a missing bound with the float range's end, so an exported
    ``clamp(x, min=0)`` would map inf to 3.4e38; ``where(a < c, c, a)`` does not.
    """
    if _exporting():
        return torch.where(a < c, torch.full_like(a, c), a)
    if out is None:
        return torch.clamp(a, min=c)
    return torch.clamp(a, min=c, out=out)


def _at_least_(a: torch.Tensor, c: float) -> torch.Tensor:
    """:func:`_at_least` in place, on a temporary the caller owns."""
    if _exporting():
        return _at_least(a, c)
    return a.clamp_(min=c)


def _at_most(a: torch.Tensor, c: float, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``min(a, c)`` with nan kept; see :func:`_at_least`."""
    if _exporting():
        return torch.where(a > c, torch.full_like(a, c), a)
    if out is None:
        return torch.clamp(a, max=c)
    return torch.clamp(a, max=c, out=out)


def _at_most_(a: torch.Tensor, c: float) -> torch.Tensor:
    """:func:`_at_most` in place, on a temporary the caller owns."""
    if _exporting():
        return _at_most(a, c)
    return a.clamp_(max=c)


def _reduce_to(grad: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Sum a parameter gradient over the dimensions ``p`` was broadcast along."""
    if p.dim() == 0:
        return grad.sum(dtype=p.dtype)
    return grad.sum_to_size(p.shape).to(p.dtype)


def _hyper(value: float, x: torch.Tensor) -> torch.Tensor:
    """A fixed hyper-parameter (a float attribute, as torch.nn keeps it) as a 0-dim tensor.

    float64 for a float64 input, so that the exact value is used (0.01, not the
    float32 0.009999999776); float32 otherwise, as the scalar of torch.nn's kernels.
    """
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    return torch.full((), value, dtype=dtype, device=x.device)


def _channels(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """PReLU's weight along x's channel dimension (dim 1), as torch.nn.functional.prelu lays it."""
    if weight.numel() == 1:
        return weight.reshape(())
    if x.dim() < 2 or x.shape[1] != weight.numel():
        raise ValueError(
            f"PReLU has {weight.numel()} parameters but the input's channel dimension (dim 1) "
            f"is {x.shape[1] if x.dim() >= 2 else 1}"
        )
    return weight.reshape([weight.numel()] + [1] * (x.dim() - 2))


def _number(owner: str, name: str, value: float) -> float:
    """``value`` as a Python float, or a TypeError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(value.item())  # a 0-dim tensor or a NumPy scalar
        except (AttributeError, TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"{owner}: {name} must be a real number, got {type(value).__name__}"
            ) from None
    return float(value)


def _shown(t: torch.Tensor) -> str:
    """A learnable parameter's value for ``extra_repr`` (its shape where it has no data)."""
    if t.is_meta or t.numel() != 1:
        return f"<{tuple(t.shape)}>"
    return f"{t.item():.6g}"


def _renamed(names: dict[str, str]):
    """A load_state_dict pre-hook that reads the checkpoints of other spellings of a parameter."""

    def hook(module, state_dict, prefix, *args) -> None:
        for old, new in names.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)

    return hook


# eafo-sym template: autograd

# Each activation's autograd Function hands its derivatives to the helpers below as a
# _Derivatives record of its printed functions: ``<name>_bwd_x``/``<name>_bwd`` (gradients),
# ``<name>_jvp`` (the derivative along a direction) and ``<name>_hvp`` (``grad_output *
# d/du (Df . d)`` for u = x and each parameter: second derivatives along a direction). Every
# derivative autograd or torch.func asks for, up to the second order, is one of these printed
# SymPy derivatives; none is autograd's derivative of printed code. Printed code runs only
# inside the forward of an autograd Function whose vmap rule hands it plain tensors, every
# input batched: it writes into its temporaries in place, which vmap's batched tensors refuse
# where a temporary is unbatched and an operand is batched.

_THIRD_ORDER = (
    "eafo_sym: third and higher derivatives of the generated activations are not printed "
    "(their autograd Functions have analytic first and second derivatives); differentiate "
    "the plain closed form for more"
)


class _Derivatives(NamedTuple):
    """An activation's printed derivatives (``bwd`` is None without parameters)."""

    bwd_x: Callable
    bwd: Optional[Callable]
    jvp: Callable
    hvp: Callable


def _save(ctx, inputs) -> None:
    """Keep the tensor inputs (x, the parameters, a direction) for backward and for jvp."""
    tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
    ctx.save_for_backward(*tensors)
    ctx.save_for_forward(*tensors)


def _filled(inputs, tangents):
    """The tangents, a missing one (None) as zeros shaped like its input."""
    pairs = zip(inputs, tangents, strict=True)
    return [torch.zeros_like(t) if d is None else d for t, d in pairs]


def _gradients(params_needed: bool, ops: _Derivatives, inputs, grad_output):
    """``(grad x, *grad parameters)``, or ``(grad x,)`` alone when no parameter needs one."""
    if params_needed:
        return tuple(ops.bwd(*inputs, grad_output))
    return (ops.bwd_x(*inputs, grad_output),)


def _vmap(function, info, in_dims, args, reduced):
    """A vmap rule: ``function`` on plain tensors, every input batched and aligned.

    Each tensor gets the vmapped dimension in front (an unbatched one is expanded, a
    view) and size-1 dimensions after it up to a common rank, so that the printed
    functions broadcast as they would without vmap. ``reduced[k]`` is the index of the
    argument whose shape output ``k`` is summed to (a parameter gradient), or None for an
    elementwise output (``reduced`` None: every output); such sums keep the vmapped dimension.
    """
    size = info.batch_size
    pairs = list(zip(args, in_dims, strict=True))
    rank = max(a.dim() - (d is not None) for a, d in pairs if isinstance(a, torch.Tensor))
    batched, shapes = [], []
    for a, d in pairs:
        if isinstance(a, torch.Tensor):
            a = a.unsqueeze(0).expand(size, *a.shape) if d is None else a.movedim(d, 0)
            shapes.append(a.shape[1:])
            a = a.reshape(size, *([1] * (rank - len(a.shape[1:]))), *a.shape[1:])
        else:
            shapes.append(None)
        batched.append(a)
    out = function.apply(*batched)
    outs = out if isinstance(out, tuple) else (out,)
    reduced = reduced or (None,) * len(outs)
    pairs = zip(outs, reduced, strict=False)  # a backward without parameter gradients: x's
    outs = tuple(o if r is None else o.reshape(size, *shapes[r]) for o, r in pairs)
    if isinstance(out, tuple):
        return outs, (0,) * len(outs)
    return outs[0], 0


class _Printed(torch.autograd.Function):
    """A printed function of second derivatives, vmap-safe; differentiating its results raises."""

    @staticmethod
    def forward(fn, *tensors):
        return fn(*tensors)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(_THIRD_ORDER)

    @staticmethod
    def jvp(ctx, *tangents):
        raise RuntimeError(_THIRD_ORDER)

    @staticmethod
    def vmap(info, in_dims, fn, *tensors):
        return _vmap(_Printed, info, in_dims, (fn, *tensors), None)


def _rows(ops: _Derivatives, inputs, directions, grad_output):
    """``grad_output * d/du (Df . d)`` for u = x and each parameter, summed to their shapes."""
    rows = _Printed.apply(ops.hvp, *inputs, *directions, grad_output)
    return [rows[0], *(_reduce_to(r, p) for r, p in zip(rows[1:], inputs[1:], strict=True))]


def _backward(ctx, grad_output, ops: _Derivatives):
    """An activation Function's backward: the printed gradients.

    Through :class:`_Backward` (an autograd Function, differentiable) when they will be
    differentiated (create_graph: gradient penalties, Hessian-vector products) or a
    torch.func transform is active; else the printed functions run directly.
    """
    inputs = ctx.saved_tensors
    params_needed = any(ctx.needs_input_grad[1:])
    if torch.is_grad_enabled() or torch._C._are_functorch_transforms_active():
        grads = _Backward.apply(ops, params_needed, *inputs, grad_output)
    else:
        grads = _gradients(params_needed, ops, inputs, grad_output)
    return tuple(grads) + (None,) * (len(inputs) - len(grads))


def _jvp(ctx, tangents, ops: _Derivatives):
    """An activation Function's jvp: the printed derivative along the tangents."""
    inputs = ctx.saved_tensors
    return _Tangent.apply(ops, *inputs, *_filled(inputs, tangents))


class _Backward(torch.autograd.Function):
    """An activation's backward, differentiable: its derivatives are the printed second ones."""

    @staticmethod
    def forward(ops, params_needed, *args):
        *inputs, grad_output = args
        return _gradients(params_needed, ops, inputs, grad_output)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.ops, ctx.params_needed = inputs[:2]
        _save(ctx, inputs[2:])

    @staticmethod
    def backward(ctx, *cotangents):
        """Derivatives of ``grad_output * df/dv`` along the cotangents of its outputs."""
        *inputs, grad_output = ctx.saved_tensors
        d = _filled(inputs, list(cotangents) + [None] * (len(inputs) - len(cotangents)))
        grads = _rows(ctx.ops, inputs, d, grad_output)
        return (None, None, *grads, _Tangent.apply(ctx.ops, *inputs, *d))

    @staticmethod
    def jvp(ctx, _ops, _params_needed, *tangents):
        """Forward-over-reverse (torch.func.hessian)."""
        *inputs, grad_output = ctx.saved_tensors
        t = _filled([*inputs, grad_output], tangents)
        rows = _rows(ctx.ops, inputs, t[:-1], grad_output)
        first = _Backward.apply(ctx.ops, ctx.params_needed, *inputs, t[-1])
        return tuple(g + r for g, r in zip(first, rows, strict=False))  # first: x alone

    @staticmethod
    def vmap(info, in_dims, ops, params_needed, *args):
        # Output 1 + j is summed to parameter j, argument 3 + j after ops, params_needed, x.
        reduced = (None, *range(3, len(args) + 1))
        return _vmap(_Backward, info, in_dims, (ops, params_needed, *args), reduced)


class _Tangent(torch.autograd.Function):
    """An activation's derivative along a direction, differentiable (printed second derivatives)."""

    @staticmethod
    def forward(ops, *args):
        return ops.jvp(*args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.ops = inputs[0]
        _save(ctx, inputs[1:])

    @staticmethod
    def backward(ctx, cotangent):
        """Reverse-over-forward: the derivatives by the inputs and by the direction."""
        saved = ctx.saved_tensors
        n = len(saved) // 2
        inputs, d = list(saved[:n]), list(saved[n:])
        grads = _rows(ctx.ops, inputs, d, cotangent)
        grads += _Backward.apply(ctx.ops, n > 1, *inputs, cotangent)
        return (None, *grads)

    @staticmethod
    def jvp(ctx, _ops, *tangents):
        """Forward-over-forward (torch.func.jacfwd of jacfwd)."""
        saved = ctx.saved_tensors
        n = len(saved) // 2
        inputs, d = list(saved[:n]), list(saved[n:])
        t = _filled(saved, tangents)
        out = _Tangent.apply(ctx.ops, *inputs, *t[n:])
        out = out + _Printed.apply(ctx.ops.hvp, *inputs, *t[:n], d[0])[0]
        if n > 1:
            rows = _Printed.apply(ctx.ops.hvp, *inputs, *t[:n], torch.ones_like(inputs[0]))
            for r, dp in zip(rows[1:], d[1:], strict=True):
                out = out + r * dp
        return out

    @staticmethod
    def vmap(info, in_dims, ops, *args):
        return _vmap(_Tangent, info, in_dims, (ops, *args), (None,))


# eafo-sym template: lookup

def get_act_layer(name):
    """The class registered as ``name`` (timm's ``get_act_layer``); classes pass through."""
    if isinstance(name, type):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; known: {', '.join(sorted(ACTIVATIONS))}"
        ) from None

# eafo-sym template: timm

#: Where timm keeps its activation classes by name (``timm.layers.create_act``).
_TIMM_REGISTRY = "timm.layers.create_act"


def register_timm(classes=None, *, override: bool = False) -> list[str]:
    """Make the activations' registry names work as timm's ``act_layer`` names.

    After it, ``timm.create_model(..., act_layer="crrelu")`` builds the model with
    :class:`CRReLU`. timm has no public registration call: the names go into the dict
    its ``get_act_layer`` reads. Called automatically when this module is imported
    after timm, and when timm is imported after this module (an import hook), with
    the defaults.

    Args:
        classes: Registry name -> class (default: this module's ``ACTIVATIONS``;
            ``eafo_sym.fused.ACTIVATIONS`` registers the fused classes).
        override: Also replace timm's own classes of the same name (``"gelu"``,
            ``"silu"``, ...); by default only names timm does not know are added.

    Returns:
        The names registered.

    Raises:
        ImportError: timm is not importable.
    """
    import importlib

    registry = importlib.import_module(_TIMM_REGISTRY)
    classes = ACTIVATIONS if classes is None else classes
    tables = [registry._ACT_LAYER_DEFAULT]
    tables += [t for t in (getattr(registry, "_ACT_LAYER_ME", None),) if isinstance(t, dict)]
    done = []
    for name, cls in sorted(classes.items()):
        if name in tables[0] and not override:
            continue
        for table in tables:
            if table is tables[0] or name in table:
                table[name] = cls
        done.append(name)
    return done


class _AfterTimmImport:
    """An import hook: runs :func:`register_timm` once timm's activation registry is loaded."""

    def __init__(self) -> None:
        self.busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TIMM_REGISTRY or self.busy:
            return None
        import importlib.util

        self.busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module) -> None:
            run(module)
            _register_quietly()

        spec.loader.exec_module = exec_module
        return spec


def _register_quietly() -> None:
    """:func:`register_timm` with the defaults; a timm it cannot read: a warning, not an error."""
    try:
        register_timm()
    except Exception as err:  # a timm whose registry moved must not break its own import
        import warnings

        warnings.warn(f"eafo_sym.nn: could not register with timm: {err}", stacklevel=2)


def _register_with_timm() -> None:
    import sys

    if _TIMM_REGISTRY in sys.modules:
        _register_quietly()
    elif not any(isinstance(f, _AfterTimmImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterTimmImport())


_register_with_timm()
