"""The study's models and activations: an MLP, a tiny ViT, a small ConvNeXt and timm's ViT.

Every model takes inputs ``(n, 1, *shape)``: 8x8 images (digits) or 1-D
signals of length 40 (MNIST-1D); the ViT cuts 1-D patches from a signal and
the ConvNeXt uses 1-D convolutions on one. Every activation comes from
:mod:`eafo_sym.nn` (modules generated from the SymPy closed forms), including
the baselines, so all go through the same code path; ``backend="fused"`` takes
:mod:`eafo_sym.fused`'s classes instead. One fresh instance is made per use,
so learnable parameters (CRReLU's ``epsilon``, PReLU's slope) are per layer.

**Activation specs.** A name of :mod:`eafo_sym.nn`, optionally with options
in brackets for the ablations: ``crrelu[eps=-0.1]`` (initial ``epsilon``),
``crrelu[frozen]`` (``epsilon`` not trained), ``crrelu[eps=0,frozen]``.
**Dynamic modules**: when :mod:`eafo_sym.dynamic` imports, the classes of its
``ACTIVATIONS`` table (name -> ``torch.nn.Module`` class that builds with no
arguments) join the list (:func:`dynamic_activations`); otherwise the reason
is recorded and they are left out.

>>> parse_spec("crrelu[eps=-0.1,frozen]")
('crrelu', {'eps': -0.1, 'frozen': True})
>>> parse_spec("gelu")
('gelu', {})
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = [
    "MODELS",
    "CORE_ACTIVATIONS",
    "ABLATIONS",
    "ActFactory",
    "ConvNeXt",
    "MLP",
    "TinyViT",
    "act_layer",
    "available_activations",
    "build",
    "default_activations",
    "dynamic_activations",
    "init_weights",
    "parse_spec",
]

#: The paper's baselines and CRReLU, in table order (``docs/mathematics.md`` §13).
CORE_ACTIVATIONS = (
    "gelu", "relu", "leaky_relu", "prelu", "elu", "celu", "silu", "mish", "crrelu",
)  # fmt: skip
#: The CRReLU ablations: initial eps (0.01 is plain ``crrelu``) and a frozen eps.
ABLATIONS = (
    "crrelu[eps=-0.1]", "crrelu[eps=-0.01]", "crrelu[eps=0]", "crrelu[eps=0.1]",
    "crrelu[frozen]",
)  # fmt: skip
_SPEC = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)(?:\[(?P<opts>[^\[\]]*)\])?$")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$")


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split an activation spec into its name and options (ValueError if malformed).

    >>> parse_spec("crrelu[eps=abc]")
    Traceback (most recent call last):
    ...
    ValueError: activation 'crrelu[eps=abc]': eps must be a number, got 'abc'
    """
    m = _SPEC.match(spec)
    if m is None:
        raise ValueError(f"activation {spec!r} is not of the form name or name[eps=V,frozen]")
    opts: dict[str, Any] = {}
    for item in filter(None, (t.strip() for t in (m["opts"] or "").split(","))):
        key, _, value = item.partition("=")
        if key == "frozen" and not value:
            opts["frozen"] = True
        elif key == "eps" and value:
            if not _NUMBER.match(value):
                raise ValueError(f"activation {spec!r}: eps must be a number, got {value!r}")
            opts["eps"] = float(value)
        else:
            raise ValueError(f"activation {spec!r}: unknown option {item!r} (eps=V, frozen)")
    return m["name"], opts


def dynamic_activations() -> tuple[dict[str, type[nn.Module]], str | None]:
    """The dynamic modules' classes by name and, when there are none, why.

    Returns:
        ``({name: class}, None)`` when :mod:`eafo_sym.dynamic` imports and has an
        ``ACTIVATIONS`` table, else ``({}, reason)``.
    """
    try:
        mod = importlib.import_module("eafo_sym.dynamic")
    except ImportError as exc:
        return {}, f"eafo_sym.dynamic does not import ({exc})"
    table = getattr(mod, "ACTIVATIONS", None)
    if not isinstance(table, dict) or not table:
        return {}, "eafo_sym.dynamic has no ACTIVATIONS table"
    return {str(k): v for k, v in table.items()}, None


def available_activations() -> list[str]:
    """Names of every activation module :mod:`eafo_sym.nn` generates, then the dynamic ones."""
    from eafo_sym import nn as generated

    return list(generated.ACTIVATIONS) + [
        a for a in dynamic_activations()[0] if a not in generated.ACTIVATIONS
    ]


def default_activations() -> list[str]:
    """The study's list: :data:`CORE_ACTIVATIONS`, every ``eafo_*``, the dynamic modules."""
    from eafo_sym import nn as generated

    derived = sorted(a for a in generated.ACTIVATIONS if a.startswith("eafo_"))
    dyn = [a for a in dynamic_activations()[0] if a not in generated.ACTIVATIONS]
    return [a for a in CORE_ACTIVATIONS if a in generated.ACTIVATIONS] + derived + dyn


class ActFactory:
    """Builds one activation module per call, with a spec's options applied (picklable).

    Each module it builds is marked ``_study_activation = True``, so that the
    measurements find the activation layers of any model, timm's included.

    Args:
        spec: An activation spec (see the module docstring).
        backend: ``"eager"`` (:mod:`eafo_sym.nn`) or ``"fused"`` (:mod:`eafo_sym.fused`).
    """

    def __init__(self, spec: str, backend: str = "eager") -> None:
        name, opts = parse_spec(spec)
        self.spec, self.name, self.opts, self.backend = spec, name, opts, backend
        self.cls = _class(name, backend)
        if opts and "epsilon" not in inspect.signature(self.cls).parameters:
            raise ValueError(f"activation {spec!r}: {name} has no epsilon to set or freeze")

    def __call__(self, *args: Any, **kwargs: Any) -> nn.Module:
        if "eps" in self.opts:
            kwargs["epsilon"] = self.opts["eps"]
        module = self.cls(*args, **kwargs)
        if self.opts.get("frozen"):
            module.epsilon.requires_grad_(False)
        module._study_activation = True
        return module


def _class(name: str, backend: str) -> type[nn.Module]:
    from eafo_sym import nn as generated

    dyn, _ = dynamic_activations() if name not in generated.ACTIVATIONS else ({}, None)
    if name in dyn:
        return dyn[name]
    if name not in generated.ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; eafo_sym.nn offers: "
            f"{', '.join(sorted(generated.ACTIVATIONS))}"
        )
    if backend == "fused":
        from eafo_sym import fused

        return fused.get_act_layer(name)
    if backend != "eager":
        raise ValueError(f"unknown activation backend {backend!r}; known: eager, fused")
    return generated.get_act_layer(name)


def act_layer(spec: str, backend: str = "eager") -> ActFactory:
    """A factory for the activation ``spec`` (ValueError naming the known ones if unknown)."""
    return ActFactory(spec, backend)


def init_weights(module: nn.Module, std: float | None = 0.02) -> None:
    """Truncated-normal initialisation (the paper's, as in timm) of Linear/Conv weights.

    Args:
        module: Any module; applied to itself only (use ``model.apply``).
        std: Standard deviation, truncated at two of them; ``None`` scales it
            as ``1/sqrt(fan_in)`` (used by the MLP, which has no normalisation
            layer to undo a small fixed std).
    """
    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
        w = module.weight
        s = std if std is not None else 1.0 / math.sqrt(w[0].numel())
        nn.init.trunc_normal_(w, std=s, a=-2 * s, b=2 * s)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _conv(ndim: int) -> type[nn.Module]:
    if ndim not in (1, 2):
        raise ValueError(f"inputs must be 1-D signals or 2-D images, got {ndim} dimensions")
    return nn.Conv1d if ndim == 1 else nn.Conv2d


class MLP(nn.Module):
    """``prod(shape) -> width -> act -> ... -> classes`` on flattened inputs."""

    def __init__(
        self,
        act: Callable[[], nn.Module],
        shape: tuple[int, ...] = (8, 8),
        classes: int = 10,
        width: int = 128,
        depth: int = 2,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = math.prod(shape)
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), act()]
            fan_in = width
        layers.append(nn.Linear(fan_in, classes))
        self.net = nn.Sequential(*layers)
        self.apply(lambda m: init_weights(m, std=None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Block(nn.Module):
    """Pre-norm transformer block; the activation sits in the MLP, as in ViT."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, act: Callable[[], nn.Module]):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), act(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A vision transformer for one-channel images or signals (class token, learned positions).

    Patches are ``patch x patch`` squares of an image or ``patch``-long pieces of a signal.
    """

    def __init__(
        self,
        act: Callable[[], nn.Module],
        shape: tuple[int, ...] = (8, 8),
        classes: int = 10,
        patch: int = 2,
        dim: int = 32,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 2.0,
    ) -> None:
        super().__init__()
        if any(s % patch for s in shape):
            raise ValueError(f"patch size must divide the input shape {shape}, got {patch}")
        n = math.prod(s // patch for s in shape)
        self.embed = _conv(len(shape))(1, dim, kernel_size=patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, n + 1, dim))
        self.blocks = nn.Sequential(*[_Block(dim, heads, mlp_ratio, act) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)
        nn.init.trunc_normal_(self.pos, std=0.02, a=-0.04, b=0.04)
        nn.init.trunc_normal_(self.cls, std=0.02, a=-0.04, b=0.04)
        self.apply(init_weights)
        # nn.MultiheadAttention keeps its q/k/v projection as a bare Parameter,
        # which apply() does not see as a Linear: initialise it the same way.
        for blk in self.blocks:
            nn.init.trunc_normal_(blk.attn.in_proj_weight, std=0.02, a=-0.04, b=0.04)
            nn.init.zeros_(blk.attn.in_proj_bias)

    def no_weight_decay(self) -> set[str]:
        """Parameters AdamW should not decay (timm's convention, read by the trainer)."""
        return {"cls", "pos"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], dim=1) + self.pos
        t = self.norm(self.blocks(t))
        return self.head(t[:, 0])


class _ConvNeXtBlock(nn.Module):
    """ConvNeXt's block: depthwise conv, LayerNorm, inverted bottleneck with the activation."""

    def __init__(self, dim: int, kernel: int, ndim: int, act: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.dwconv = _conv(ndim)(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = act()
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).movedim(1, -1)  # channels last for LayerNorm and the Linears
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))
        return x + h.movedim(-1, 1)


class ConvNeXt(nn.Module):
    """A small ConvNeXt for one-channel images or signals: a patchify stem, blocks, a head.

    Args:
        act: Activation factory (one module per block).
        shape: Input shape without the channel, ``(8, 8)`` or ``(40,)``.
        classes: Number of classes.
        stem: Stride (and kernel) of the patchifying stem.
        dim: Channels.
        depth: Blocks.
        kernel: Depthwise kernel size (odd).
    """

    def __init__(
        self,
        act: Callable[[], nn.Module],
        shape: tuple[int, ...] = (8, 8),
        classes: int = 10,
        stem: int = 2,
        dim: int = 32,
        depth: int = 2,
        kernel: int = 3,
    ) -> None:
        super().__init__()
        conv = _conv(len(shape))
        self.stem = conv(1, dim, kernel_size=stem, stride=stem)
        self.stem_norm = nn.LayerNorm(dim)
        self.blocks = nn.Sequential(
            *[_ConvNeXtBlock(dim, kernel, len(shape), act) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        h = self.stem_norm(h.movedim(1, -1)).movedim(-1, 1)
        h = self.blocks(h)
        return self.head(self.norm(h.flatten(2).mean(-1)))


def _timm_vit(
    act: Callable[[], nn.Module], shape: tuple[int, ...] = (8, 8), classes: int = 10, **size: Any
) -> nn.Module:
    """timm's VisionTransformer at TinyViT's sizes: its defaults, so the two cannot drift apart."""
    defaults = {
        k: p.default
        for k, p in inspect.signature(TinyViT).parameters.items()
        if p.default is not p.empty and k not in ("shape", "classes")
    }
    unknown = sorted(set(size) - set(defaults))
    if unknown:
        raise TypeError(f"timm_vit got unexpected size arguments: {', '.join(unknown)}")
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"model timm_vit needs square images, not inputs of shape {shape}")
    size = {**defaults, **size}
    try:
        from timm.models.vision_transformer import VisionTransformer
    except Exception as exc:  # ImportError, or a torchvision built for another torch
        raise ValueError(
            f"model timm_vit needs timm with a working torchvision ({type(exc).__name__}: {exc})"
        ) from None
    # timm initialises with truncated normals (std 0.02) itself, as the paper did.
    return VisionTransformer(
        img_size=shape[0],
        patch_size=size["patch"],
        in_chans=1,
        num_classes=classes,
        embed_dim=size["dim"],
        depth=size["depth"],
        num_heads=size["heads"],
        mlp_ratio=size["mlp_ratio"],
        act_layer=act,
    )


#: Model name -> builder ``(activation factory, shape=, classes=, **size) -> module``.
MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": MLP,
    "vit": TinyViT,
    "convnext": ConvNeXt,
    "timm_vit": _timm_vit,
}


def build(
    model: str,
    activation: str,
    *,
    shape: tuple[int, ...] = (8, 8),
    classes: int = 10,
    backend: str = "eager",
    **size: Any,
) -> nn.Module:
    """Build a model by name with the activation spec ``activation``.

    Args:
        model: A key of :data:`MODELS`.
        activation: An activation spec (a name in ``eafo_sym.nn.ACTIVATIONS``, options allowed).
        shape: Input shape without the channel.
        classes: Number of classes.
        backend: ``"eager"`` or ``"fused"`` activation modules.
        **size: Keyword arguments of the model (``width``/``depth`` for the MLP, ...).
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    act = act_layer(activation, backend)
    return MODELS[model](act, shape=tuple(shape), classes=classes, **size)
