"""One training run of the scaled-down paper recipe -> one result row, with its measurements.

Recipe: the paper's stated items (``docs/mathematics.md`` §13): AdamW with
weight decay 0.05 (not on biases, norms, embeddings or scalar activation
parameters, as timm does), truncated-normal initialisation, gradient clipping
at norm 1.0, cross-entropy, a cosine schedule with linear warm-up stepped per
batch, ``eps = 0.01`` untuned (the generated CRReLU's default). The sizes,
epochs, batch sizes and learning rates of :data:`CONFIGS` are this study's
own, chosen to fit two CPU cores, and the same for every activation. The
reported numbers are those of the **final epoch**: the validation split
chooses nothing (it is where the layer measurements are taken), the test split
is only reported.

After training, :func:`train_one` measures on the validation split, per
activation layer: the output entropy (:func:`.entropy.layer_entropy`), how far
the pre-activations are from normal (skewness, excess kurtosis and the
Kolmogorov-Smirnov distance to the fitted normal, per unit and averaged; and
the statistics of :func:`eafo_sym.observe.observe` when that hook imports),
and the learned scalar parameters (CRReLU's ``epsilon``) per layer.
"""

from __future__ import annotations

import importlib
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .data import Dataset
from .entropy import DELTA, layer_entropy
from .models import build

__all__ = [
    "CONFIGS",
    "TrainConfig",
    "config_for",
    "lr_factor",
    "measure_layers",
    "saved_tensor_mib",
    "train_one",
]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one model's runs (this study's own choices but for the recipe).

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


_VIT = {"dim": 32, "depth": 2, "heads": 4, "mlp_ratio": 2.0}
_CNX = {"dim": 32, "depth": 2}
#: Configurations by profile, data set and model. ``cpu`` is the committed study,
#: ``smoke`` the seconds-long test configuration, ``cuda`` a larger one for a GPU.
CONFIGS: dict[str, dict[str, dict[str, TrainConfig]]] = {
    "cpu": {
        "digits": {
            "mlp": TrainConfig(epochs=30, size={"width": 128, "depth": 2}),
            "vit": TrainConfig(
                epochs=15, batch_size=128, lr=3e-3, warmup_epochs=2, size={"patch": 4, **_VIT}
            ),
            "convnext": TrainConfig(
                epochs=20, batch_size=128, lr=3e-3, warmup_epochs=2,
                size={"stem": 2, "kernel": 3, **_CNX},
            ),  # fmt: skip
        },
        "mnist1d": {
            "mlp": TrainConfig(
                epochs=30, batch_size=128, lr=3e-3, warmup_epochs=3,
                size={"width": 128, "depth": 2},
            ),  # fmt: skip
            "vit": TrainConfig(
                epochs=15, batch_size=128, lr=3e-3, warmup_epochs=2, size={"patch": 8, **_VIT}
            ),
            "convnext": TrainConfig(
                epochs=20, batch_size=128, lr=5e-3, warmup_epochs=2,
                size={"stem": 4, "kernel": 5, **_CNX},
            ),  # fmt: skip
        },
    },
    "smoke": {
        d: {
            "mlp": TrainConfig(epochs=2, warmup_epochs=1, size={"width": 16, "depth": 1}),
            "vit": TrainConfig(
                epochs=1,
                warmup_epochs=1,
                size={"patch": 4, "dim": 8, "depth": 1, "heads": 2, "mlp_ratio": 2.0},
            ),
            "convnext": TrainConfig(
                epochs=1, warmup_epochs=1, size={"stem": 2, "dim": 8, "depth": 1, "kernel": 3}
            ),
        }
        for d in ("digits", "mnist1d")
    },
    "cuda": {
        d: {
            "mlp": TrainConfig(epochs=100, size={"width": 512, "depth": 3}),
            "vit": TrainConfig(
                epochs=100,
                lr=1e-3,
                warmup_epochs=10,
                size={"patch": 2 if d == "digits" else 4, "dim": 128, "depth": 6, "heads": 4,
                      "mlp_ratio": 4.0},
            ),  # fmt: skip
            "convnext": TrainConfig(
                epochs=100,
                lr=1e-3,
                warmup_epochs=10,
                size={"stem": 2, "dim": 96, "depth": 4, "kernel": 3 if d == "digits" else 7},
            ),
        }
        for d in ("digits", "mnist1d")
    },
}
# timm's ViT is trained with exactly our ViT's recipe, so the two runs compare like for like.
for _profile in CONFIGS.values():
    for _data in _profile.values():
        _data["timm_vit"] = _data["vit"]


def config_for(profile: str, data: str, model: str, epochs: int | None = None) -> TrainConfig:
    """The configuration of one (profile, data set, model), with ``epochs`` overridden if given."""
    cfg = CONFIGS[profile][data][model]
    if epochs is not None:
        cfg = TrainConfig(**{**asdict(cfg), "epochs": epochs,
                             "warmup_epochs": min(cfg.warmup_epochs, epochs)})  # fmt: skip
    return cfg


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


def _act_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if getattr(m, "_study_activation", False)]


def _act_params(model: nn.Module) -> dict[str, list[float]]:
    """Scalar parameters of the activation modules (learned or frozen), one value per layer."""
    out: dict[str, list[float]] = {}
    for _, m in _act_modules(model):
        for name, p in m.named_parameters():
            if p.numel() == 1:
                out.setdefault(name, []).append(round(float(p.detach().cpu()), 6))
    return out


def _units(t: torch.Tensor, rows: int, rng: np.random.Generator) -> np.ndarray:
    a = t.detach().to("cpu", torch.float64)
    a = a.reshape(-1, a.shape[-1]).numpy()  # every layer here keeps its units last
    if a.shape[0] > rows:
        a = a[np.sort(rng.choice(a.shape[0], rows, replace=False))]
    return a


def _normality(inputs: np.ndarray, max_units: int = 32) -> dict[str, float]:
    from scipy import stats

    units = np.unique(np.linspace(0, inputs.shape[1] - 1, min(max_units, inputs.shape[1])))
    skew, kurt, ks = [], [], []
    for u in units.astype(int):
        v = inputs[:, u]
        sd = v.std()
        if sd <= 0:
            continue
        z = (v - v.mean()) / sd
        skew.append(abs(float(stats.skew(z))))
        kurt.append(float(stats.kurtosis(z)))
        ks.append(float(stats.kstest(z, "norm").statistic))
    if not ks:
        return {"abs_skew": math.nan, "excess_kurtosis": math.nan, "ks_distance": math.nan}
    return {
        "abs_skew": float(np.mean(skew)),
        "excess_kurtosis": float(np.mean(kurt)),
        "ks_distance": float(np.mean(ks)),
    }


def _observe_hook(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """The observation hook's per-layer table, or why there is none."""
    try:
        hook = importlib.import_module("eafo_sym.observe")
    except ImportError as exc:
        return {"available": False, "reason": f"eafo_sym.observe does not import ({exc})"}
    with torch.no_grad(), hook.observe(
        model, only=lambda m: getattr(m, "_study_activation", False)
    ) as seen:
        model(x)
    table = [
        {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
        for row in seen.table()
    ]
    return {"available": True, "layers": table}


@torch.no_grad()
def measure_layers(
    model: nn.Module, x: torch.Tensor, *, rows: int = 4000, seed: int = 0
) -> list[dict[str, Any]]:
    """Per activation layer: output entropy and the pre-activations' distance from normal.

    Args:
        model: A trained model whose activation modules come from :class:`.models.ActFactory`.
        x: Held-out inputs (the validation split).
        rows: At most this many samples per unit (positions of a sequence count as samples).
        seed: Seed of the subsampling.

    Returns:
        One dict per layer, in the model's order: ``layer``, ``entropy`` (the
        quantised entropy at resolution :data:`.entropy.DELTA`, mean over units),
        ``abs_skew``, ``excess_kurtosis``, ``ks_distance``, ``frac_below_zero``.
    """
    model.eval()
    rng = np.random.default_rng(seed)
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = [
        m.register_forward_hook(lambda mod, a, out, n=n: seen.__setitem__(n, (a[0], out)))
        for n, m in _act_modules(model)
    ]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    result = []
    for name, _ in _act_modules(model):
        pre, out = seen[name]
        pre_a, out_a = _units(pre, rows, rng), _units(out, rows, rng)
        result.append({
            "layer": name,
            "entropy": layer_entropy(out_a),
            "frac_below_zero": float((pre_a < 0).mean()),
            **_normality(pre_a),
        })  # fmt: skip
    return result


def _peak_rss_reset() -> None:
    # Writing 5 to clear_refs resets the peak resident set size (VmHWM) on Linux.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_rss_mib() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def saved_tensor_mib(model: nn.Module, x: torch.Tensor) -> float:
    """MiB that autograd keeps for the backward of one forward pass of ``model`` on ``x``.

    This is the part of a training step's memory that an activation decides (what
    its forward saves), counted exactly: each saved storage once.
    """
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        seen[(st.data_ptr(), st.nbytes())] = st.nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(x).sum()
    del loss
    return sum(seen.values()) / 2**20


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    logits = model(x)
    loss = float(nn.functional.cross_entropy(logits, y))
    acc = float((logits.argmax(1) == y).float().mean())
    return acc, loss


def train_one(
    data: Dataset,
    model: str,
    activation: str,
    seed: int,
    cfg: TrainConfig,
    *,
    device: str = "cpu",
    backend: str = "eager",
    measure: bool = True,
) -> dict[str, Any]:
    """Train one model with one activation and one seed; return its result row.

    Deterministic given ``seed`` (initialisation and batch order both derive
    from it) for a fixed torch version, device and thread count.

    Args:
        data: The data set.
        model: A key of :data:`.models.MODELS`.
        activation: An activation spec.
        seed: Seed of the initialisation and the batch order.
        cfg: The configuration.
        device: ``"cpu"`` or ``"cuda"``.
        backend: ``"eager"`` (:mod:`eafo_sym.nn`), ``"fused"`` (:mod:`eafo_sym.fused`)
            or ``"compile"`` (:mod:`eafo_sym.nn` under ``torch.compile``).
        measure: Take the layer measurements after training.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    dev = torch.device(device)
    xtr, ytr = (torch.as_tensor(a, device=dev) for a in data.part("train"))
    xva, yva = (torch.as_tensor(a, device=dev) for a in data.part("val"))
    xte, yte = (torch.as_tensor(a, device=dev) for a in data.part("test"))

    torch.manual_seed(seed)
    net = build(
        model,
        activation,
        shape=tuple(data.x.shape[2:]),
        classes=data.n_classes,
        backend="fused" if backend == "fused" else "eager",
        **cfg.size,
    ).to(dev)
    step_net = torch.compile(net) if backend == "compile" else net
    opt = torch.optim.AdamW(_param_groups(net, cfg.weight_decay), lr=cfg.lr)
    n = len(ytr)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total, warmup = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, total, warmup, cfg.min_lr / cfg.lr)
    )
    order = torch.Generator().manual_seed(seed)  # batch order on the CPU: same on every device
    loss_fn = nn.CrossEntropyLoss()

    saved = saved_tensor_mib(net, xtr[: cfg.batch_size]) if backend != "compile" else None
    _peak_rss_reset()
    rss0 = _peak_rss_mib()
    epoch_seconds = []
    final_loss = math.nan
    for _ in range(cfg.epochs):
        e0 = time.perf_counter()
        net.train()
        perm = torch.randperm(n, generator=order).to(dev)
        total_loss = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            loss = loss_fn(step_net(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
            sched.step()
            total_loss += float(loss.detach()) * len(idx)
        final_loss = total_loss / n
        epoch_seconds.append(round(time.perf_counter() - e0, 4))
        if not math.isfinite(final_loss):
            break  # diverged: record it rather than train on NaNs
    peak = _peak_rss_mib()

    val_acc, val_loss = _evaluate(net, xva, yva)
    test_acc, test_loss = _evaluate(net, xte, yte)
    row: dict[str, Any] = {
        "data": data.name,
        "model": model,
        "activation": activation,
        "seed": seed,
        "backend": backend,
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "val_accuracy": val_acc,
        "val_loss": val_loss,
        "final_loss": final_loss,
        "epochs": cfg.epochs,
        "epoch_seconds": epoch_seconds,
        "saved_tensor_mib": None if saved is None else round(saved, 4),
        "peak_rss_mib": round(peak, 1),
        "peak_rss_growth_mib": round(peak - rss0, 1),
        "n_params": sum(p.numel() for p in net.parameters()),
        "act_params": _act_params(net),
        "config": asdict(cfg),
        "device": device,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    if measure and math.isfinite(final_loss):
        row["layers"] = measure_layers(net, xva, seed=seed)
        row["entropy_delta"] = DELTA
        row["observe_hook"] = _observe_hook(net, xva)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    # CPU time of this process: less distorted than wall time on a shared machine.
    row["cpu_seconds"] = round(time.process_time() - c0, 3)
    return row
