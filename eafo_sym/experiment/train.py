"""One training run of the scaled-down paper recipe -> one result row.

Recipe (the paper's, ``docs/mathematics.md`` §13, scaled to 8x8 digits):
AdamW with weight decay 0.05 (not on biases, norms, embeddings or scalar
activation parameters, as timm does), truncated-normal initialisation,
gradient clipping at norm 1.0, a cosine schedule with linear warm-up stepped
per batch, cross-entropy, ``eps = 0.01`` (the generated CRReLU's default). The
reported numbers are those of the **final epoch** (no early stopping or model
selection); the validation accuracy is recorded alongside for reference.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from .data import Digits
from .models import act_layer, build

__all__ = ["TrainConfig", "CONFIGS", "lr_factor", "train_one"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one model's runs.

    Attributes:
        epochs: Passes over the training split.
        batch_size: Mini-batch size (the last, smaller batch is kept).
        lr: Peak learning rate of AdamW.
        weight_decay: AdamW weight decay on matrices (0.05 as in the paper).
        warmup_epochs: Length of the linear warm-up from ``lr / 100``.
        min_lr: Floor of the cosine decay.
        clip: Gradient-norm clipping threshold.
        size: Keyword arguments of the model builder.
    """

    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 4
    min_lr: float = 1e-5
    clip: float = 1.0
    size: dict[str, Any] = field(default_factory=dict)


#: Configurations by profile and model. ``cpu`` is the committed run, ``smoke``
#: the seconds-long test configuration, ``cuda`` a larger one for a GPU.
CONFIGS: dict[str, dict[str, TrainConfig]] = {
    "cpu": {
        "mlp": TrainConfig(epochs=40, size={"width": 128, "depth": 2}),
        # Batch 128 (9 steps an epoch) and 30 epochs keep the ViT at a few seconds a
        # run on two shared cores (14 activations x 5 seeds); lr scaled up accordingly.
        "vit": TrainConfig(
            epochs=30,
            batch_size=128,
            lr=3e-3,
            warmup_epochs=3,
            size={"patch": 4, "dim": 32, "depth": 2, "heads": 4, "mlp_ratio": 2.0},
        ),
    },
    "smoke": {
        "mlp": TrainConfig(epochs=2, warmup_epochs=1, size={"width": 16, "depth": 1}),
        "vit": TrainConfig(
            epochs=1,
            warmup_epochs=1,
            size={"patch": 4, "dim": 8, "depth": 1, "heads": 2, "mlp_ratio": 2.0},
        ),
    },
    "cuda": {
        "mlp": TrainConfig(epochs=100, size={"width": 512, "depth": 3}),
        "vit": TrainConfig(
            epochs=100,
            lr=1e-3,
            warmup_epochs=10,
            size={"patch": 2, "dim": 128, "depth": 6, "heads": 4, "mlp_ratio": 4.0},
        ),
    },
}
# timm's ViT is trained with exactly our ViT's recipe, so the two runs compare like for like.
for _profile in CONFIGS.values():
    _profile["timm_vit"] = _profile["vit"]


def lr_factor(step: int, total: int, warmup: int, floor: float = 0.0) -> float:
    """Learning-rate multiplier: linear warm-up from 1/100, then cosine down to ``floor``.

    >>> [round(lr_factor(s, 10, 2), 3) for s in (0, 1, 2, 6, 10)]
    [0.01, 0.505, 1.0, 0.5, 0.0]
    """
    if step < warmup:
        return 0.01 + 0.99 * step / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    # Decay only weight matrices/kernels; biases, norms, position/class
    # embeddings and scalar activation parameters (CRReLU's epsilon, PReLU's
    # slope) are left alone, as timm's ViT recipe does. Decaying epsilon would
    # pull it towards 0, i.e. towards plain ReLU.
    skip = set(getattr(model, "no_weight_decay", set)())
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim < 2 or name in skip or name.split(".")[-1] in skip:
            no_decay.append(p)
        else:
            decay.append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _act_params(model: nn.Module, activation: str) -> dict[str, list[float]]:
    """Learned scalar parameters of the activation modules, one value per layer."""
    cls = act_layer(activation)
    out: dict[str, list[float]] = {}
    for m in model.modules():
        if isinstance(m, cls):
            for name, p in m.named_parameters():
                if p.numel() == 1:
                    out.setdefault(name, []).append(round(float(p.detach().cpu()), 6))
    return out


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    logits = model(x)
    loss = float(nn.functional.cross_entropy(logits, y))
    acc = float((logits.argmax(1) == y).float().mean())
    return acc, loss


def train_one(
    data: Digits,
    model: str,
    activation: str,
    seed: int,
    cfg: TrainConfig,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train one model with one activation and one seed; return its result row.

    Deterministic given ``seed`` (initialisation and batch order both derive
    from it) for a fixed torch version, device and thread count.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    dev = torch.device(device)
    xtr, ytr = (torch.as_tensor(a, device=dev) for a in data.part("train"))
    xva, yva = (torch.as_tensor(a, device=dev) for a in data.part("val"))
    xte, yte = (torch.as_tensor(a, device=dev) for a in data.part("test"))

    torch.manual_seed(seed)
    net = build(model, activation, **cfg.size).to(dev)
    opt = torch.optim.AdamW(_param_groups(net, cfg.weight_decay), lr=cfg.lr)
    n = len(ytr)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total, warmup = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, total, warmup, cfg.min_lr / cfg.lr)
    )
    order = torch.Generator().manual_seed(seed)  # batch order on the CPU: same on every device
    loss_fn = nn.CrossEntropyLoss()

    final_loss = math.nan
    for _ in range(cfg.epochs):
        net.train()
        perm = torch.randperm(n, generator=order).to(dev)
        total_loss = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            loss = loss_fn(net(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
            sched.step()
            total_loss += float(loss.detach()) * len(idx)
        final_loss = total_loss / n
        if not math.isfinite(final_loss):
            break  # diverged: record it rather than train on NaNs

    val_acc, val_loss = _evaluate(net, xva, yva)
    test_acc, test_loss = _evaluate(net, xte, yte)
    return {
        "activation": activation,
        "model": model,
        "seed": seed,
        "test_accuracy": test_acc,
        "val_accuracy": val_acc,
        "final_loss": final_loss,
        "val_loss": val_loss,
        "test_loss": test_loss,
        "epochs": cfg.epochs,
        "seconds": round(time.perf_counter() - t0, 3),
        # CPU time of this process: less distorted than wall time on a shared machine.
        "cpu_seconds": round(time.process_time() - c0, 3),
        "n_params": sum(p.numel() for p in net.parameters()),
        "act_params": _act_params(net, activation),
        "config": asdict(cfg),
        "device": device,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
