"""The study's plan and run loop: every cell trained (in parallel if asked), its row kept.

:func:`plan` turns the choices of ``eafo-sym experiment`` into a checked
:class:`Plan` (the profile's defaults filled in, every name validated, the
output folder checked) before anything trains. :func:`run_experiment` runs
the plan's cells with :func:`.cells.execute` and writes into the plan's folder
(opened with :class:`eafo_sym.outputs.OutputDir`: ours or refused, atomic
writes, no links followed):

* ``rows.jsonl``: one row per finished cell, in the plan's order, rewritten
  atomically as each cell finishes, so a run that is cut off keeps every row
  it finished and ``--resume`` skips them;
* ``data.json``: how each data set was made (generator arguments, checksums, split);
* ``meta.json``: the spelled-out command, configurations, versions, wall time,
  the hash of the generated code and what was skipped and why;
* the report of :mod:`.report`: ``summary.md`` and the plots.

By default the folder is new (``results/runs/study-<UTC time>``): a run never
writes into the committed results unless told to with ``--out`` and ``--force``.

>>> plan(seeds=0)
Traceback (most recent call last):
...
ValueError: --seeds must be positive, got 0
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import report
from .cells import PARTS, Cell, execute, generated_code_sha256, merge_rows, row_key

__all__ = [
    "OWNER",
    "Plan",
    "RunResult",
    "default_out",
    "plan",
    "rewrite_report",
    "run_experiment",
    "write_meta",
]

#: Who writes the study's folders (recorded in their marker, see :mod:`eafo_sym.outputs`).
OWNER = "eafo-sym experiment"
#: The study's data sets and models by default.
DEFAULT_DATA = ("digits", "mnist1d")
DEFAULT_MODELS = ("mlp", "vit", "convnext", "timm_vit")
#: Where the ablations run (the data set that is not saturated).
ABLATION_DATA = ("mnist1d",)
#: The cost part: every activation of the main comparison with the eager and fused
#: modules, and these under torch.compile (each compilation takes half a minute on 2 cores);
#: epochs timed (the first is dropped).
COMPILE_ACTIVATIONS = ("gelu", "crrelu")
COST_BACKENDS = ("eager", "fused", "compile")
COST_EPOCHS = 3


def default_out(now: float | None = None) -> str:
    """A new folder for a run started at ``now`` (seconds since the epoch; default: now).

    >>> default_out(0)
    'results/runs/study-19700101-000000'
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"results/runs/study-{stamp}"


@dataclass(frozen=True)
class Plan:
    """A checked study: which cells to run, how, and where the results go.

    Attributes:
        data: Data set names.
        models: Model names (keys of :data:`eafo_sym.experiment.models.MODELS`).
        activations: Activation specs of the main comparison, in table order.
        seeds: Seeds ``0 .. seeds - 1`` per cell.
        parts: Which of :data:`.cells.PARTS` run.
        out: The output folder.
        ablations: CRReLU variants of the ablation part.
        ablation_data: Data sets of the ablation part.
        compile_activations: Activations of the cost part timed under torch.compile too.
        cost_backends: Backends of the cost part.
        device: ``"cpu"`` or ``"cuda"``.
        smoke: The seconds-long test profile instead of the device's.
        jobs: Worker processes.
        threads: torch threads per job.
        split_seed: Seed of the data splits.
        baseline: Activation of the paired comparison.
        epochs: Epochs instead of the profile's (None: the profile's).
        resume: Keep the folder's finished rows and run only the others.
        force: Replace the results of an earlier run (and adopt a folder that is not ours).
        skipped: ``(what, why)`` for every part of the default study left out.
    """

    data: tuple[str, ...]
    models: tuple[str, ...]
    activations: tuple[str, ...]
    seeds: int
    parts: tuple[str, ...] = PARTS
    out: str = "results/runs/study"
    ablations: tuple[str, ...] = ()
    ablation_data: tuple[str, ...] = ABLATION_DATA
    compile_activations: tuple[str, ...] = COMPILE_ACTIVATIONS
    cost_backends: tuple[str, ...] = COST_BACKENDS
    device: str = "cpu"
    smoke: bool = False
    jobs: int = 1
    threads: int = 2
    split_seed: int = 0
    baseline: str = "gelu"
    epochs: int | None = None
    resume: bool = False
    force: bool = False
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def profile(self) -> str:
        """The configuration profile: ``"smoke"``, or the device's (``"cpu"``, ``"cuda"``)."""
        return "smoke" if self.smoke else self.device

    @property
    def folder(self) -> Path:
        """Where the results go."""
        return Path(self.out)

    def _models_for(self, data: str) -> list[str]:
        # timm's ViT takes square images only: it is left out for the 1-D signals.
        return [m for m in self.models if not (m == "timm_vit" and data != "digits")]

    @property
    def cells(self) -> list[Cell]:
        """Every cell, in the order the rows are written.

        >>> p = Plan(("digits",), ("mlp",), ("gelu", "crrelu"), seeds=2, parts=("main",))
        >>> [(c.activation, c.seed) for c in p.cells]
        [('gelu', 0), ('gelu', 1), ('crrelu', 0), ('crrelu', 1)]
        """
        common = {"profile": self.profile, "device": self.device, "split_seed": self.split_seed}
        out: list[Cell] = []
        if "main" in self.parts:
            out += [
                Cell("main", d, m, a, s, epochs=self.epochs, **common)
                for d in self.data for m in self._models_for(d)
                for a in self.activations for s in range(self.seeds)
            ]  # fmt: skip
        if "ablations" in self.parts:
            out += [
                Cell("ablations", d, m, a, s, epochs=self.epochs, **common)
                for d in self.ablation_data if d in self.data for m in self._models_for(d)
                for a in self.ablations for s in range(self.seeds)
            ]  # fmt: skip
        if "cost" in self.parts:
            cost_data = next((d for d in ("mnist1d", *self.data) if d in self.data), None)
            out += [
                Cell("cost", cost_data, m, a, 0, b, epochs=COST_EPOCHS, **common)
                for m in self._models_for(cost_data) if cost_data
                for a in self.activations for b in self.cost_backends
                if b != "compile" or a in self.compile_activations
            ]  # fmt: skip
        return out

    def command_line(self) -> str:
        """The fully spelled-out command that reproduces this run (written to ``meta.json``).

        >>> p = Plan(("digits",), ("mlp",), ("gelu",), seeds=2, parts=("main",), smoke=True)
        >>> p.command_line()
        'eafo-sym experiment --only main --data digits --models mlp --activations gelu \
--seeds 2 --device cpu --jobs 1 --threads 2 --split-seed 0 --smoke --out results/runs/study'
        """
        parts = ["eafo-sym", "experiment", "--only", ",".join(self.parts)]
        parts += ["--data", ",".join(self.data), "--models", ",".join(self.models)]
        parts += ["--activations", ",".join(self.activations), "--seeds", str(self.seeds)]
        parts += ["--device", self.device, "--jobs", str(self.jobs), "--threads", str(self.threads)]
        parts += ["--split-seed", str(self.split_seed)]
        if self.smoke:
            parts.append("--smoke")
        if self.epochs is not None:
            parts += ["--epochs", str(self.epochs)]
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


def _timm_reason(zoo: Any) -> str | None:
    try:
        zoo.build("timm_vit", "gelu")
    except ValueError as exc:
        return str(exc)
    return None


def plan(
    *,
    data: list[str] | None = None,
    models: list[str] | None = None,
    activations: list[str] | None = None,
    only: list[str] | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
    out: str | None = None,
    device: str = "cpu",
    smoke: bool = False,
    jobs: int = 1,
    threads: int | None = None,
    split_seed: int = 0,
    baseline: str = "gelu",
    resume: bool = False,
    force: bool = False,
) -> Plan:
    """Check the choices of ``eafo-sym experiment`` and fill in the profile's defaults.

    Everything that can be wrong is found here, before the first cell trains;
    messages name the command line's flags.

    Args:
        data: Data set names (default: digits, mnist1d).
        models: Model names (default: mlp, vit, convnext and timm_vit where timm imports).
        activations: Activation specs, or ``["default"]`` (the paper's baselines,
            CRReLU, every ``eafo_*`` and the dynamic modules) or ``["all"]``
            (default: ``default``; with ``smoke``: ``gelu, crrelu``).
        only: Parts of :data:`.cells.PARTS` to run (default: all).
        seeds: Seeds per cell (default 5; with ``smoke``: 2).
        epochs: Epochs instead of the profile's.
        out: Output folder (default: a new one, :func:`default_out`).
        device: ``"cpu"`` or ``"cuda"``.
        smoke: The seconds-long test profile.
        jobs: Worker processes.
        threads: torch threads per job (default: the cores divided among the jobs).
        split_seed: Seed of the data splits.
        baseline: Activation of the paired comparison (must be among the activations).
        resume: Keep the finished rows of ``out`` and run the rest.
        force: Overwrite the results of an earlier run in ``out``.

    Raises:
        ValueError: A count is not positive, a name is unknown, torch or the
            CUDA device is missing, a model cannot be built, ``--resume`` has no
            folder to resume, or ``out`` already holds results and neither
            ``resume`` nor ``force`` is given.
    """
    for name, value in (("threads", threads), ("epochs", epochs), ("seeds", seeds),
                        ("jobs", jobs)):  # fmt: skip
        _positive(name, value)
    if resume and force:
        raise ValueError("--resume keeps the finished rows and --force discards them: pick one")
    if resume and out is None:
        raise ValueError("--resume needs --out: the folder of the run to resume")
    torch = _import_torch()
    from . import data as datasets
    from . import models as zoo  # imports torch: after _import_torch has set the wait policy

    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but torch sees no CUDA device")
    parts = only or list(PARTS)
    for p in parts:
        if p not in PARTS:
            raise ValueError(f"unknown part {p!r} for --only; known: {', '.join(PARTS)}")
    data_names = data or list(DEFAULT_DATA)
    for d in data_names:
        if d not in datasets.DATASETS:
            raise ValueError(f"unknown data set {d!r}; known: {', '.join(datasets.DATASETS)}")
    skipped: list[tuple[str, str]] = []
    if models is None:
        model_names = list(DEFAULT_MODELS)
        reason = _timm_reason(zoo)
        if reason is not None:
            model_names.remove("timm_vit")
            skipped.append(("model timm_vit", reason))
        if smoke:
            model_names = [m for m in model_names if m != "timm_vit"]
    else:
        model_names = list(models)
        for m in model_names:
            if m not in zoo.MODELS:
                raise ValueError(f"unknown model {m!r}; known: {', '.join(zoo.MODELS)}")
        if "timm_vit" in model_names:
            reason = _timm_reason(zoo)  # fail now, not after an hour of other models
            if reason is not None:
                raise ValueError(reason)
    acts = activations or (["gelu", "crrelu"] if smoke else ["default"])
    if acts == ["default"]:
        acts = zoo.default_activations()
    elif acts == ["all"]:
        acts = zoo.available_activations()
    dyn, why = zoo.dynamic_activations()
    if why is not None:
        skipped.append(("the dynamic modules", why))
    for a in acts:
        zoo.act_layer(a)  # ValueError naming the known ones
    if baseline not in acts and "main" in parts:
        raise ValueError(
            f"--baseline {baseline!r} is not among the activations ({', '.join(acts)}); "
            "the paired comparison needs it"
        )
    ablations = ("crrelu[eps=-0.1]", "crrelu[frozen]") if smoke else zoo.ABLATIONS
    if jobs > 1 and device == "cuda":
        raise ValueError("--jobs > 1 runs CPU processes; use --jobs 1 with --device cuda")
    cores = os.cpu_count() or 1
    result = Plan(
        data=tuple(data_names),
        models=tuple(model_names),
        activations=tuple(acts),
        seeds=seeds if seeds is not None else (2 if smoke else 5),
        parts=tuple(p for p in PARTS if p in parts),
        out=out if out is not None else default_out(),
        ablations=tuple(ablations),
        cost_backends=("eager", "fused") if smoke else COST_BACKENDS,
        device=device,
        smoke=smoke,
        jobs=jobs,
        threads=threads if threads is not None else max(1, cores // jobs),
        split_seed=split_seed,
        baseline=baseline,
        epochs=epochs,
        resume=resume,
        force=force,
        skipped=tuple(skipped),
    )
    rows = result.folder / "rows.jsonl"
    if resume and not rows.exists():
        raise ValueError(f"--resume: {result.folder} holds no rows.jsonl to resume")
    if rows.exists() and not (force or resume):
        raise ValueError(
            f"{result.folder} already holds the results of a run (rows.jsonl); "
            "pass --resume to finish it, --force to overwrite it, or choose another --out"
        )
    return result


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_experiment` ran and wrote.

    Attributes:
        rows: Every row of the folder (resumed ones included), in the plan's order.
        ran: How many cells this call ran.
        seconds: Wall time of this call's cells.
        summary: The Markdown of ``summary.md``.
        folder: Where the files are.
        failures: ``"cell: error"`` for every cell that raised.
    """

    rows: list[dict[str, Any]]
    ran: int
    seconds: float
    summary: str
    folder: Path
    failures: list[str]


def _data_info(p: Plan) -> dict[str, Any]:
    from . import data as datasets

    info = {}
    for name in p.data:
        ds = datasets.load(name, split_seed=p.split_seed)
        info[name] = {
            **ds.info,
            "sha256": ds.checksum,
            "shape": list(ds.x.shape),
            **{k: v.tolist() for k, v in ds.splits.items()},
        }
    return info


def _rows_text(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def run_experiment(p: Plan, *, progress: bool = True) -> RunResult:
    """Run the cells of ``p`` that have no row yet and write the results into ``p.folder``.

    Args:
        p: A plan from :func:`plan`.
        progress: Show a progress bar with the time left on stderr.

    Returns:
        The rows, the number of cells run, the wall time, the summary, the folder
        and the failures (a failed cell leaves no row; a ``--resume`` retries it).
    """
    from tqdm.auto import tqdm

    from ..outputs import OutputDir

    order = p.cells
    failures: list[str] = []
    with OutputDir.open(p.folder, owner=OWNER, force=p.force) as out:
        kept = report.read_rows(p.folder / "rows.jsonl") if p.resume else []
        rows = merge_rows(kept, order)
        done = {row_key(r) for r in rows}
        todo = [c for c in order if c.key not in done]
        info = _data_info(p)
        if p.resume:  # a resumed run that selects fewer data sets keeps the others' records
            info = {**(_read_json(p.folder / "data.json") or {}), **info}
        out.write_text("data.json", json.dumps(info, indent=1) + "\n")
        out.write_text("rows.jsonl", _rows_text(rows))
        # Written now too, so that a run cut off before the end still says what it was.
        write_meta(out, p, wall=0.0, ran=0, failures=[], finished=False)
        t0 = time.perf_counter()
        with tqdm(total=len(todo), desc="study", unit="cell", file=sys.stderr,
                  disable=not progress, smoothing=0.05) as bar:  # fmt: skip

            def keep(row: dict[str, Any]) -> None:
                rows.append(row)
                rows[:] = merge_rows(rows, order)
                out.write_text("rows.jsonl", _rows_text(rows))  # a cut-off run keeps this row
                bar.set_postfix_str(f"{row['data']} {row['model']} {row['activation']}")
                bar.update()

            def fail(cell: Cell, exc: BaseException) -> None:
                failures.append(f"{cell.key}: {type(exc).__name__}: {exc}")
                bar.update()

            execute(todo, jobs=p.jobs, threads=p.threads, on_row=keep, on_error=fail)
        wall = time.perf_counter() - t0
        meta = write_meta(out, p, wall=wall, ran=len(todo), failures=failures, finished=True)
        summary = report.write_report(out, rows, baseline=p.baseline, meta=meta)
    return RunResult(rows, len(todo), wall, summary, p.folder, failures)


def write_meta(
    out: Any, p: Plan, *, wall: float, ran: int, failures: list[str], finished: bool
) -> dict[str, Any]:
    """Write ``meta.json`` for plan ``p`` into ``out`` (an OutputDir); return it.

    ``wall_seconds`` adds ``wall`` to the total of the folder's earlier calls
    (``wall_seconds_before``), so a resumed study states its whole wall time.
    """
    import torch

    old = _read_json(p.folder / "meta.json") or {}
    before = old.get("wall_seconds_before", 0.0) if not old.get("finished", True) else (
        old.get("wall_seconds", 0.0)
    )
    before = before if p.resume and isinstance(before, (int, float)) else 0.0
    meta = {
        "command": p.command_line(),
        "finished": finished,
        "plan": {k: v for k, v in asdict(p).items() if k != "skipped"},
        "skipped": [{"what": w, "why": y} for w, y in p.skipped],
        "configs": _configs(p),
        "cells": len(p.cells),
        "ran_this_call": ran,
        "failures": failures,
        "wall_seconds_before": round(before, 1),
        "wall_seconds_this_call": round(wall, 1),
        "wall_seconds": round(before + wall, 1),
        "cpu_count": os.cpu_count(),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "generated_code_sha256": generated_code_sha256(),
        "selection": "final epoch (no early stopping or model selection); "
        "layer measurements on the validation split",
    }
    out.write_text("meta.json", json.dumps(meta, indent=2) + "\n")
    return meta


def _configs(p: Plan) -> dict[str, Any]:
    from . import train

    return {
        f"{d}/{m}": asdict(train.config_for(p.profile, d, m, p.epochs))
        for d in p.data for m in p._models_for(d)
    }  # fmt: skip


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def rewrite_report(out: str | os.PathLike, baseline: str = "gelu") -> str:
    """Redo ``summary.md`` and the plots from ``out/rows.jsonl``; return the summary.

    Raises:
        OSError: ``out/rows.jsonl`` cannot be read, or the folder is not this command's.
        ValueError: It holds no rows, or a line that is not JSON.
    """
    from ..outputs import OutputDir

    folder = Path(out)
    rows = report.read_rows(folder / "rows.jsonl")
    if not rows:
        raise ValueError(f"{folder / 'rows.jsonl'} holds no rows")
    meta = _read_json(folder / "meta.json")
    with OutputDir.open(folder, owner=OWNER) as o:
        return report.write_report(o, rows, baseline=baseline, meta=meta)
