"""torch.nn's constructor interface for the generated classes that share a torch.nn name.

``eafo_sym.nn.LeakyReLU`` is a drop-in for ``torch.nn.LeakyReLU``: the same positional and
keyword arguments with the same defaults, the same attributes and the same ``state_dict``
keys, so that a torch.nn checkpoint loads. What torch.nn calls a closed-form parameter (the
slope ``alpha`` of ``max(0, x) + alpha*min(0, x)`` is LeakyReLU's ``negative_slope`` and
PReLU's ``weight``) is the API of torch.nn, written down here; the defaults come from the
closed forms (:mod:`eafo_sym.catalog`) and ``tests/test_torch_nn_compat.py`` checks both
against ``inspect.signature`` of torch.nn's classes.

Roles of an :class:`Argument`:

- ``"hyper"``: a fixed closed-form parameter, kept as a float attribute (torch.nn's way;
  not a buffer, so not in the ``state_dict``), passed to the printed code as a 0-dim tensor;
- ``"weight"``: the initial value of the learnable parameter named by
  :attr:`Interface.weight` (PReLU's ``init``);
- ``"count"``: the number of entries of that parameter (PReLU's ``num_parameters``);
- ``"flag"``: accepted and kept as an attribute (``inplace``), with no effect on the values:
  the analytic backward needs the input, so the result is always a new tensor;
- ``"choice"``: a string that must be one of :attr:`Argument.choices` (GELU's
  ``approximate``: only the erf form is printed);
- ``"kept"``: a float accepted and kept with no effect (Softplus's ``threshold``: the
  printed softplus is exact and finite at every input, so it needs no linear branch).

A class may also read checkpoints that spell a parameter differently (:data:`ALIASES`:
CRReLU's ``epsilon`` is the paper's ``lr``).

>>> INTERFACES["leaky_relu"].arguments[0]
Argument(name='negative_slope', kind='float', role='hyper', param='alpha', default=None, choices=())
>>> ALIASES["crrelu"]
{'lr': 'epsilon'}
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALIASES", "INTERFACES", "Argument", "Interface"]


@dataclass(frozen=True)
class Argument:
    """One constructor argument of a torch.nn class.

    Attributes:
        name: The keyword (and attribute) name.
        kind: Its annotation: ``"float"``, ``"int"``, ``"bool"`` or ``"str"``.
        role: How the generated class uses it (see the module docstring).
        param: The closed-form parameter it sets (``"hyper"`` and ``"weight"``).
        default: Its default, where the closed form does not give it.
        choices: The values a ``"choice"`` accepts.
    """

    name: str
    kind: str
    role: str
    param: str | None = None
    default: object = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Interface:
    """A torch.nn class's constructor: its arguments in order, and its learnable parameter.

    Attributes:
        arguments: The positional-or-keyword arguments, in torch.nn's order.
        weight: The name of the learnable parameter (PReLU's ``weight``), if any.
        factory: Whether it takes ``device=`` and ``dtype=`` (classes with a parameter).
    """

    arguments: tuple[Argument, ...]
    weight: str | None = None
    factory: bool = False


_INPLACE = Argument("inplace", "bool", "flag", default=False)

#: Registry name -> torch.nn's constructor for the class of that name.
INTERFACES: dict[str, Interface] = {
    "relu": Interface((_INPLACE,)),
    "leaky_relu": Interface((Argument("negative_slope", "float", "hyper", "alpha"), _INPLACE)),
    "prelu": Interface(
        (
            Argument("num_parameters", "int", "count", default=1),
            Argument("init", "float", "weight", "alpha"),
        ),
        weight="weight",
        factory=True,
    ),
    "elu": Interface((Argument("alpha", "float", "hyper", "alpha"), _INPLACE)),
    "celu": Interface((Argument("alpha", "float", "hyper", "alpha"), _INPLACE)),
    "selu": Interface((_INPLACE,)),
    "gelu": Interface(
        (Argument("approximate", "str", "choice", default="none", choices=("none",)),)
    ),
    "silu": Interface((_INPLACE,)),
    "mish": Interface((_INPLACE,)),
    "softplus": Interface(
        (
            Argument("beta", "float", "hyper", "beta"),
            Argument("threshold", "float", "kept", default=20.0),
        )
    ),
    "sigmoid": Interface(()),
    "tanh": Interface(()),
}

#: Registry name -> {name in other checkpoints: parameter name}, read by a load_state_dict hook.
ALIASES: dict[str, dict[str, str]] = {
    # The paper's pseudocode (Algorithm 1, Appendix D.1) calls the correction size ``lr``.
    "crrelu": {"lr": "epsilon"},
}
