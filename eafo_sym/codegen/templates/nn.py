"""Torch modules for every activation in :mod:`eafo_sym.catalog`.

Printed by :mod:`eafo_sym.codegen` from the SymPy closed forms and their
analytic derivatives. Each class constructs with no arguments (timm's
``act_layer`` convention), works on any shape and on float16, bfloat16,
float32 and float64, and has a backward that saves only its input.
``ACTIVATIONS`` maps registry names (``"crrelu"``, ``"gelu"``, ...) to classes
and ``get_act_layer(name)`` looks one up; ``PARAMETERS`` maps them to their
parameter names, in the order the functions ``<name>_fwd``, ``<name>_bwd_x``
and ``<name>_bwd`` take them.

CRReLU's learnable correction size is called ``epsilon`` here (the SymPy
symbol); the paper's pseudocode calls it ``lr``. Its default 0.01 is the
paper's. Learned parameters: those of derived activations and PReLU's slope;
the other base activations keep torch.nn's fixed hyper-parameters (buffers).
"""

# This file is the part of eafo_sym/nn.py that is not printed from SymPy. ``eafo-sym codegen``
# pastes the docstring above and each section below into the generated file, byte for byte
# (eafo_sym.codegen.assemblers.torch); the one-off files of ``to_torch`` get the same sections
# under their own docstring. The lines before the first section are never pasted: they make
# this a module that ruff checks (the generated file imports torch; this template never runs).

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

ACTIVATIONS: dict[str, type] = {}  # printed into the generated file before the lookup

# eafo-sym template: helpers

def _finite(a, out=None):
    """``a`` with nan and +-inf as its dtype's largest finite value (+-), for ``T * A`` guards.

    In ``T * _finite(A)`` a factor ``T`` that has underflowed to 0 wins over an
    overflowed ``A`` (eafo_sym.codegen.stable.decay_guard). Eager uses one
    nan_to_num pass; under torch.compile the same map is fmin/fmax, because
    Inductor's nan_to_num tests nan one element at a time (about twice the
    cost of the whole fused kernel) while fmin/fmax vectorise. ``out``: a dead
    buffer of ``a``'s dtype and shape to write into (eager only).
    """
    big = torch.finfo(a.dtype).max
    if torch.compiler.is_compiling():
        return torch.fmax(torch.fmin(a, a.new_tensor(big)), a.new_tensor(-big))
    return torch.nan_to_num(a, nan=big, out=out)


def _finite_(a):
    """:func:`_finite` in place, on a temporary the caller owns."""
    if torch.compiler.is_compiling():
        return _finite(a)
    return a.nan_to_num_(nan=torch.finfo(a.dtype).max)


def _zero_wins_(p, *zeros):
    """The fresh product ``p`` of ``zeros`` and a cofactor, with a factor that is 0 winning.

    Where a zero factor has underflowed to 0 against an overflowed cofactor, ``p``
    holds ``0 * inf = nan``; that becomes 0, and everything else stays the plain
    product (``1 * inf`` is inf). Adding ``clamp(z, 0, 0)`` (0, or nan where ``z``
    is nan) keeps a nan input nan. An ``inf - inf`` inside the cofactor also
    becomes 0 (eafo_sym.codegen.stable.zero_guard). Eager uses nan_to_num, with no
    bool tensor: comparisons and masked writes are 5-20x slower than arithmetic in
    torch's CPU kernels. torch.compile gets a compare-and-select, which Inductor
    fuses (its nan_to_num tests nan one element at a time).
    """
    if torch.compiler.is_compiling():
        p = torch.where(p == p, p, 0.0)
    else:
        p = p.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
    for z in zeros:
        p = p.add_(torch.clamp(z, 0.0, 0.0))
    return p


def _reduce_to(grad, p):
    """Sum a parameter gradient over the dimensions ``p`` was broadcast along."""
    if p.dim() == 0:
        return grad.sum(dtype=p.dtype)
    return grad.sum_to_size(p.shape).to(p.dtype)

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
