"""Dynamic EAFO: activations whose correction follows the pre-activation law measured in training.

Printed by :mod:`eafo_sym.codegen` from the closed forms of
:func:`eafo_sym.symbolic.parametric.parametric_correction`: the EAFO correction of a base
activation under a normal law ``N(mu, sigma)``, ``mu`` and ``sigma`` symbolic
(``docs/mathematics.md`` §6). Each ``Dynamic*`` module keeps ``mu`` and ``sigma`` as buffers:
in training mode it updates them from the incoming pre-activations with a momentum, like
``torch.nn.BatchNorm`` (detached: no gradient flows into the estimates), per tensor by default
or per channel with ``dim=``; in eval mode it uses them as they are. ``epsilon``, the
correction's size, is learnable as in CRReLU. With ``frozen=True`` (``mu = 0``, ``sigma = 1``)
a module is its static twin of :mod:`eafo_sym.nn` (``DynamicCRReLU`` is ``CRReLU``).

The forward and every derivative up to the second order are printed from SymPy, as in
:mod:`eafo_sym.nn`: the autograd Functions save only the input and the parameters (``epsilon``
and the law's ``mu``, ``sigma``), have a ``jvp`` and a ``vmap`` rule and a differentiable
backward, and run under ``torch.compile``; the backward computes no gradient for the law's
parameters, which are never trained. ``ACTIVATIONS`` maps registry names
(``"dynamic_crrelu"``, ...) to classes.
"""

# The part of eafo_sym/dynamic.py that is not printed from SymPy: the docstring above and the
# section below are pasted into the generated file (eafo_sym.codegen.assemblers.dynamic) after
# the helpers of templates/nn.py. The lines before the section are never pasted; they make this
# a module that ruff checks (this template is never imported).
# ruff: noqa: UP035, UP045

from typing import Optional

import torch

# eafo-sym template: law


def _check_law_arguments(owner: str, momentum: float, dim: Optional[int],
                         num_channels: int) -> None:
    """A ValueError naming the argument when the running law's settings are unusable."""
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
            or not 0.0 < float(momentum) <= 1.0:
        raise ValueError(f"{owner}: momentum must be a number in (0, 1], got {momentum!r}")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int)):
        raise ValueError(f"{owner}: dim must be an int or None, got {dim!r}")
    if isinstance(num_channels, bool) or not isinstance(num_channels, int) or num_channels < 1:
        raise ValueError(f"{owner}: num_channels must be a positive int, got {num_channels!r}")
    if dim is None and num_channels != 1:
        raise ValueError(f"{owner}: num_channels={num_channels} needs dim= (the channel dimension)")


def _law_shape(x: torch.Tensor, dim: Optional[int], channels: int) -> tuple[list[int], list[int]]:
    """(dimensions reduced over, shape that lays the law's buffers along x) for ``dim``."""
    if dim is None:
        return list(range(x.dim())), []
    d = dim % x.dim() if x.dim() > 0 else 0
    if x.dim() == 0 or x.shape[d] != channels:
        raise ValueError(
            f"the running law has {channels} channels but the input's dimension {dim} has "
            f"{x.shape[d] if x.dim() > 0 else 1}"
        )
    shape = [1] * x.dim()
    shape[d] = channels
    return [i for i in range(x.dim()) if i != d], shape


def _update_law(mu: torch.Tensor, sigma: torch.Tensor, x: torch.Tensor, momentum: float,
                dim: Optional[int]) -> None:
    """Move the running ``mu`` and ``sigma`` towards x's mean and standard deviation, in place.

    ``new = (1 - momentum) * old + momentum * batch``, as BatchNorm's running statistics; the
    standard deviation is the unbiased one (``torch.std``), and the update is detached.
    """
    dims, _ = _law_shape(x, dim, mu.numel())
    with torch.no_grad():
        s, m = torch.std_mean(x.detach(), dim=dims)
        mu.lerp_(m.to(mu.dtype), momentum)
        sigma.lerp_(s.to(sigma.dtype), momentum)


def _along(p: torch.Tensor, x: torch.Tensor, dim: Optional[int]) -> torch.Tensor:
    """A copy of a law buffer laid along x's ``dim`` (a 0-dim buffer stays 0-dim).

    A copy: the autograd Function saves it, and the next training forward updates the buffer
    in place (a module called twice before one backward would otherwise fail there).
    """
    if dim is None:
        return p.clone()
    _, shape = _law_shape(x, dim, p.numel())
    return p.reshape(shape).clone()
