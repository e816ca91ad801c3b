"""The models of the CPU check: an MLP, a tiny ViT and (optionally) timm's ViT.

Every activation comes from :mod:`eafo_sym.nn` (modules generated from the
SymPy closed forms), including the baselines GELU, ReLU, ELU, ... so that all
activations go through the same code path; one fresh instance is made per use,
so learnable parameters (CRReLU's ``epsilon``, PReLU's slope) are per layer.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = [
    "MODELS",
    "CORE_ACTIVATIONS",
    "MLP",
    "TinyViT",
    "act_layer",
    "available_activations",
    "build",
    "default_activations",
    "init_weights",
]

#: CRReLU and the paper's baselines (``docs/mathematics.md`` §13).
CORE_ACTIVATIONS = ("crrelu", "gelu", "relu", "elu", "celu", "prelu", "leaky_relu", "silu")
#: Textbook activations that ``eafo_sym.nn`` also offers but that are not EAFO
#: derivations; left out of the default list to keep the run short (ask for them
#: with ``--activations``).
_TEXTBOOK = frozenset(
    {"relu", "leaky_relu", "prelu", "elu", "celu", "selu", "gelu", "silu", "mish",
     "softplus", "sigmoid", "tanh"}
)  # fmt: skip


def available_activations() -> list[str]:
    """Names of every activation module :mod:`eafo_sym.nn` generates."""
    from eafo_sym import nn as generated

    return list(generated.ACTIVATIONS)


def default_activations() -> list[str]:
    """:data:`CORE_ACTIVATIONS` plus every other (derived) activation :mod:`eafo_sym.nn` offers."""
    avail = available_activations()
    core = [a for a in CORE_ACTIVATIONS if a in avail]
    return core + [a for a in avail if a not in core and a not in _TEXTBOOK]


def act_layer(name: str) -> type[nn.Module]:
    """The generated activation class for a registry name (ValueError if unknown)."""
    from eafo_sym import nn as generated

    if name not in generated.ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; eafo_sym.nn offers: "
            f"{', '.join(sorted(generated.ACTIVATIONS))}"
        )
    return generated.get_act_layer(name)


def init_weights(module: nn.Module, std: float | None = 0.02) -> None:
    """Truncated-normal initialisation (the paper's, as in timm) of Linear/Conv weights.

    Args:
        module: Any module; applied to itself only (use ``model.apply``).
        std: Standard deviation, truncated at two of them; ``None`` scales it
            as ``1/sqrt(fan_in)`` (used by the MLP, which has no normalisation
            layer to undo a small fixed std).
    """
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        w = module.weight
        s = std if std is not None else 1.0 / math.sqrt(w[0].numel())
        nn.init.trunc_normal_(w, std=s, a=-2 * s, b=2 * s)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class MLP(nn.Module):
    """``64 -> width -> act -> ... -> 10`` on flattened 8x8 images."""

    def __init__(self, act: type[nn.Module], width: int = 128, depth: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = 64
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), act()]
            fan_in = width
        layers.append(nn.Linear(fan_in, 10))
        self.net = nn.Sequential(*layers)
        self.apply(lambda m: init_weights(m, std=None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Block(nn.Module):
    """Pre-norm transformer block; the activation sits in the MLP, as in ViT."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, act: type[nn.Module]) -> None:
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
    """A vision transformer for 8x8 one-channel images (class token, learned positions)."""

    def __init__(
        self,
        act: type[nn.Module],
        patch: int = 2,
        dim: int = 32,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 2.0,
    ) -> None:
        super().__init__()
        if 8 % patch:
            raise ValueError(f"patch size must divide 8, got {patch}")
        n = (8 // patch) ** 2
        self.embed = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, n + 1, dim))
        self.blocks = nn.Sequential(*[_Block(dim, heads, mlp_ratio, act) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)
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


def _timm_vit(act: type[nn.Module], **size: float) -> nn.Module:
    """timm's VisionTransformer at TinyViT's sizes: its defaults, so the two cannot drift apart."""
    defaults = {
        k: p.default
        for k, p in inspect.signature(TinyViT).parameters.items()
        if p.default is not p.empty
    }
    unknown = sorted(set(size) - set(defaults))
    if unknown:
        raise TypeError(f"timm_vit got unexpected size arguments: {', '.join(unknown)}")
    size = {**defaults, **size}
    try:
        from timm.models.vision_transformer import VisionTransformer
    except Exception as exc:  # ImportError, or a torchvision built for another torch
        raise ValueError(
            f"model timm_vit needs timm with a working torchvision ({type(exc).__name__}: {exc})"
        ) from None
    # timm initialises with truncated normals (std 0.02) itself, as the paper did.
    return VisionTransformer(
        img_size=8,
        patch_size=size["patch"],
        in_chans=1,
        num_classes=10,
        embed_dim=size["dim"],
        depth=size["depth"],
        num_heads=size["heads"],
        mlp_ratio=size["mlp_ratio"],
        act_layer=act,
    )


#: Model name -> builder ``(activation class, **size) -> module``.
MODELS: dict[str, Callable[..., nn.Module]] = {"mlp": MLP, "vit": TinyViT, "timm_vit": _timm_vit}


def build(model: str, activation: str, **size: float) -> nn.Module:
    """Build a model by name with the generated activation ``activation``.

    Args:
        model: ``"mlp"``, ``"vit"`` or ``"timm_vit"``.
        activation: A name in ``eafo_sym.nn.ACTIVATIONS``.
        **size: Keyword arguments of the model (``width``/``depth`` for the MLP,
            ``patch``/``dim``/``depth``/``heads``/``mlp_ratio`` for the ViTs).
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    return MODELS[model](act_layer(activation), **size)
