"""The experiment's run loop: every (model, activation, seed) cell trained, its results written.

:func:`plan` turns the choices of ``eafo-sym experiment`` into a checked
:class:`Plan` (the profile's defaults filled in, every name validated, the
output folder checked) before anything trains. :func:`run_experiment` trains
the plan's cells in order and writes into the plan's folder:

* ``split.json``: the data split (its seed, the pixel statistics, the indices);
* ``rows.jsonl``: one result row per finished cell, flushed as the cell
  finishes, so a run that is cut off keeps the rows it finished;
* ``summary.md`` and ``accuracy.png``: the tables and the plot of :mod:`.report`;
* ``meta.json``: the spelled-out command, the configurations, versions, wall
  time and the hash of the generated activation code that produced the rows.

:func:`rewrite_report` redoes ``summary.md`` and ``accuracy.png`` from a
folder's rows without training. torch is imported when a plan is made, not
when this module is.

>>> output_folder(None, smoke=True, device="cpu").as_posix()
'results/digits_smoke'
>>> plan(seeds=0)
Traceback (most recent call last):
...
ValueError: --seeds must be positive, got 0
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import report

__all__ = [
    "DEFAULT_OUT",
    "Plan",
    "RunResult",
    "output_folder",
    "plan",
    "rewrite_report",
    "run_experiment",
]

#: Where each profile writes when no folder is given.
DEFAULT_OUT = {
    "cpu": "results/digits",
    "cuda": "results/digits_cuda",
    "smoke": "results/digits_smoke",
}


def output_folder(out: str | os.PathLike | None, *, smoke: bool, device: str) -> Path:
    """``out``, or the default folder of the profile that ``smoke`` and ``device`` select."""
    return Path(out if out is not None else DEFAULT_OUT["smoke" if smoke else device])


def _title(profile: str) -> str:
    return "Digits" if profile == "cpu" else f"Digits ({profile} profile)"


@dataclass(frozen=True)
class Plan:
    """A checked experiment: which cells to train, how, and where the results go.

    Attributes:
        models: Model names (keys of :data:`eafo_sym.experiment.models.MODELS`).
        activations: Names in ``eafo_sym.nn.ACTIVATIONS``, in table order.
        seeds: Seeds ``0 .. seeds - 1`` per (model, activation) cell.
        device: ``"cpu"`` or ``"cuda"``.
        smoke: The seconds-long test profile instead of the device's.
        threads: torch CPU threads while training.
        split_seed: Seed of the data split.
        baseline: Activation of the paired comparison.
        epochs: Epochs instead of the profile's (None: the profile's).
        out: Output folder as given (None: the profile's default).
    """

    models: tuple[str, ...]
    activations: tuple[str, ...]
    seeds: int
    device: str = "cpu"
    smoke: bool = False
    threads: int = 2
    split_seed: int = 0
    baseline: str = "gelu"
    epochs: int | None = None
    out: str | None = None

    @property
    def profile(self) -> str:
        """The configuration profile: ``"smoke"``, or the device's (``"cpu"``, ``"cuda"``)."""
        return "smoke" if self.smoke else self.device

    @property
    def folder(self) -> Path:
        """Where the results go."""
        return output_folder(self.out, smoke=self.smoke, device=self.device)

    @property
    def cells(self) -> list[tuple[str, str, int]]:
        """Every (model, activation, seed), in training order.

        >>> Plan(("mlp",), ("crrelu", "gelu"), seeds=2).cells
        [('mlp', 'crrelu', 0), ('mlp', 'crrelu', 1), ('mlp', 'gelu', 0), ('mlp', 'gelu', 1)]
        """
        return [(m, a, s) for m in self.models for a in self.activations for s in range(self.seeds)]

    def command_line(self) -> str:
        """The fully spelled-out command that reproduces this run (written to ``meta.json``).

        >>> p = Plan(("mlp", "vit"), ("crrelu", "gelu"), seeds=2, smoke=True)
        >>> p.command_line().split(" --")
        ['eafo-sym experiment', 'models mlp,vit', 'activations crrelu,gelu', 'seeds 2',
         'device cpu', 'threads 2', 'split-seed 0', 'smoke']
        """
        parts = ["eafo-sym", "experiment", "--models", ",".join(self.models)]
        parts += ["--activations", ",".join(self.activations), "--seeds", str(self.seeds)]
        parts += ["--device", self.device, "--threads", str(self.threads)]
        parts += ["--split-seed", str(self.split_seed)]
        if self.smoke:
            parts.append("--smoke")
        if self.epochs is not None:
            parts += ["--epochs", str(self.epochs)]
        if self.out:
            parts += ["--out", str(self.out)]
        return " ".join(parts)


def _positive(name: str, value: int | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"--{name} must be positive, got {value}")


def _import_torch() -> Any:
    # OpenMP threads that busy-wait make small models 10-50x slower on a shared
    # CPU (measured here: 680 ms instead of 30 ms a step). Only effective if
    # torch is not loaded yet, hence before the import.
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        raise ValueError(
            "eafo-sym experiment needs torch: pip install 'eafo_sym[experiment]'"
        ) from None
    return torch


def plan(
    *,
    models: list[str] | None = None,
    activations: list[str] | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
    out: str | None = None,
    device: str = "cpu",
    smoke: bool = False,
    threads: int = 2,
    split_seed: int = 0,
    baseline: str = "gelu",
    force: bool = False,
) -> Plan:
    """Check the choices of ``eafo-sym experiment`` and fill in the profile's defaults.

    Everything that can be wrong is found here, before the first cell trains;
    messages name the command line's flags.

    Args:
        models: Model names (default ``mlp, vit``).
        activations: Activation names, or ``["default"]`` (the paper's
            baselines, CRReLU and every derived activation) or ``["all"]``
            (default: ``default``; with ``smoke``: ``crrelu, gelu``).
        seeds: Seeds per cell (default 5; with ``smoke``: 2).
        epochs: Epochs instead of the profile's.
        out: Output folder (default: :data:`DEFAULT_OUT` of the profile).
        device: ``"cpu"`` or ``"cuda"``.
        smoke: The seconds-long test profile.
        threads: torch CPU threads.
        split_seed: Seed of the data split.
        baseline: Activation of the paired comparison (must be among the activations).
        force: Overwrite the results of an earlier run in ``out``.

    Raises:
        ValueError: A count is not positive, a name is unknown, torch or the
            CUDA device is missing, timm_vit cannot be built, or ``out``
            already holds results and ``force`` is False.
    """
    _positive("threads", threads)
    _positive("epochs", epochs)
    _positive("seeds", seeds)
    torch = _import_torch()
    from . import models as zoo  # imports torch: after _import_torch has set the wait policy

    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but torch sees no CUDA device")
    model_names = models or ["mlp", "vit"]
    for m in model_names:
        if m not in zoo.MODELS:
            raise ValueError(f"unknown model {m!r}; known: {', '.join(zoo.MODELS)}")
    acts = activations or (["crrelu", "gelu"] if smoke else ["default"])
    if acts == ["default"]:
        acts = zoo.default_activations()
    elif acts == ["all"]:
        acts = zoo.available_activations()
    for a in acts:
        zoo.act_layer(a)  # ValueError naming the known ones
    if baseline not in acts:
        raise ValueError(
            f"--baseline {baseline!r} is not among the activations ({', '.join(acts)}); "
            "the paired comparison needs it"
        )
    if "timm_vit" in model_names:
        zoo.build("timm_vit", acts[0])  # fail now, not after an hour of other models
    result = Plan(
        models=tuple(model_names),
        activations=tuple(acts),
        seeds=seeds if seeds is not None else (2 if smoke else 5),
        device=device,
        smoke=smoke,
        threads=threads,
        split_seed=split_seed,
        baseline=baseline,
        epochs=epochs,
        out=out,
    )
    if (result.folder / "rows.jsonl").exists() and not force:
        raise ValueError(
            f"{result.folder} already holds the results of a run (rows.jsonl); "
            "pass --force to overwrite them, or choose another --out"
        )
    return result


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_experiment` trained and wrote.

    Attributes:
        rows: One result row per cell, in training order.
        seconds: Wall time of the training loop.
        summary: The Markdown of ``summary.md``.
        folder: Where the files are.
    """

    rows: list[dict[str, Any]]
    seconds: float
    summary: str
    folder: Path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_split(path: Path, digits: Any, split_seed: int) -> None:
    payload = {
        "split_seed": split_seed,
        "pixel_mean": digits.mean,
        "pixel_std": digits.std,
        **{k: v.tolist() for k, v in digits.splits.items()},
    }
    path.write_text(json.dumps(payload) + "\n", encoding="utf-8")


def run_experiment(p: Plan, *, progress: bool = True) -> RunResult:
    """Train every cell of ``p`` and write the results into ``p.folder``.

    Deterministic algorithms and ``p.threads`` torch threads are set while
    training and restored afterwards. The reported numbers are those of the
    final epoch (no early stopping or model selection).

    Args:
        p: A plan from :func:`plan`.
        progress: Show a progress bar on stderr.

    Returns:
        The rows, the wall time, the summary and the folder.
    """
    import torch
    from tqdm.auto import tqdm

    from .. import nn as generated_nn
    from . import data, train

    out = p.folder
    out.mkdir(parents=True, exist_ok=True)
    configs = {}
    for m in p.models:
        cfg = train.CONFIGS[p.profile][m]
        if p.epochs is not None:
            cfg = replace(cfg, epochs=p.epochs, warmup_epochs=min(cfg.warmup_epochs, p.epochs))
        configs[m] = cfg

    digits = data.load(split_seed=p.split_seed)
    _write_split(out / "split.json", digits, p.split_seed)

    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(p.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    rows = []
    t0 = time.perf_counter()
    try:
        with (
            open(out / "rows.jsonl", "w", encoding="utf-8") as fh,
            tqdm(
                p.cells, desc="experiment", unit="run", file=sys.stderr, disable=not progress
            ) as bar,
        ):
            for m, a, s in bar:
                bar.set_postfix_str(f"{m} {a} seed {s}")
                row = train.train_one(digits, m, a, s, configs[m], device=p.device)
                row["profile"] = p.profile
                rows.append(row)
                fh.write(json.dumps(row) + "\n")
                fh.flush()  # a cut-off run still leaves its finished rows
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)
    wall = time.perf_counter() - t0

    summary = report.summary_markdown(rows, baseline=p.baseline, title=_title(p.profile))
    (out / "summary.md").write_text(summary, encoding="utf-8")
    report.plot(rows, out / "accuracy.png", baseline=p.baseline)
    meta = {
        "command": p.command_line(),
        "profile": p.profile,
        "models": list(p.models),
        "activations": list(p.activations),
        "seeds": p.seeds,
        "configs": {m: c.__dict__ for m, c in configs.items()},
        "wall_seconds": round(wall, 1),
        "threads": p.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "torch_version": torch.__version__,
        # Which generated activation code produced these numbers (nn.py is regenerated
        # by eafo-sym codegen; a rounding-level change there shifts losses in late digits).
        "nn_py_sha256": _sha256(Path(generated_nn.__file__)),
        "python": platform.python_version(),
        "selection": "final epoch (no early stopping or model selection)",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return RunResult(rows, wall, summary, out)


def rewrite_report(out: str | os.PathLike, baseline: str = "gelu") -> str:
    """Redo ``summary.md`` and ``accuracy.png`` from ``out/rows.jsonl``; return the summary.

    Raises:
        OSError: ``out/rows.jsonl`` cannot be read.
        ValueError: It holds no rows, or a line that is not JSON.
    """
    out = Path(out)
    rows = report.read_rows(out / "rows.jsonl")
    if not rows:
        raise ValueError(f"{out / 'rows.jsonl'} holds no rows")
    text = report.summary_markdown(
        rows, baseline=baseline, title=_title(rows[0].get("profile", "cpu"))
    )
    (out / "summary.md").write_text(text, encoding="utf-8")
    report.plot(rows, out / "accuracy.png", baseline=baseline)
    return text
