"""The study's unit of work: one cell, a pure function from a :class:`Cell` to a result row.

A cell is one (part, data set, model, activation, seed, backend). :func:`run_cell`
trains it in the calling process and returns a JSON-ready row carrying the
package version, the hash of the generated code and the data checksum; it
takes and returns plain picklable values and touches no file, so the same
function runs unchanged on any executor:

* locally, :func:`execute` with ``jobs=1`` (in this process) or ``jobs > 1``
  (a :class:`concurrent.futures.ProcessPoolExecutor`);
* on a Dask cluster: ``client.gather(client.map(run_cell, cells, threads=1))``;
* on Ray: ``ray.get([ray.remote(run_cell).remote(c, threads=1) for c in cells])``.

Rows come back in any order; :func:`merge_rows` orders them by the plan, so
the written file is the same whatever the executor and the number of jobs.

>>> c = Cell("main", "digits", "mlp", "gelu", 0)
>>> c.key
('main', 'digits', 'mlp', 'gelu', 0, 'eager')
>>> row_key({"part": "main", "data": "digits", "model": "mlp", "activation": "gelu",
...          "seed": 0, "backend": "eager"}) == c.key
True
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["PARTS", "Cell", "execute", "generated_code_sha256", "merge_rows", "row_key", "run_cell"]

#: The parts of the study: the activation comparison, the CRReLU ablations, the cost.
PARTS = ("main", "ablations", "cost")


@dataclass(frozen=True)
class Cell:
    """One independent job of the study.

    Attributes:
        part: One of :data:`PARTS`.
        data: Data set name.
        model: Model name.
        activation: Activation spec.
        seed: Training seed.
        backend: ``"eager"``, ``"fused"`` or ``"compile"`` (the cost part compares them).
        profile: Configuration profile (``"cpu"``, ``"smoke"``, ``"cuda"``).
        epochs: Epochs instead of the profile's (None: the profile's).
        device: torch device.
        split_seed: Seed of the data split.
    """

    part: str
    data: str
    model: str
    activation: str
    seed: int
    backend: str = "eager"
    profile: str = "cpu"
    epochs: int | None = None
    device: str = "cpu"
    split_seed: int = 0

    @property
    def key(self) -> tuple[str, str, str, str, int, str]:
        """What identifies the cell's row (for resuming and merging)."""
        return (self.part, self.data, self.model, self.activation, self.seed, self.backend)


def row_key(row: Mapping[str, Any]) -> tuple[str, str, str, str, int, str]:
    """The :attr:`Cell.key` of a result row."""
    return (
        row["part"], row["data"], row["model"], row["activation"], int(row["seed"]),
        row.get("backend", "eager"),
    )  # fmt: skip


@lru_cache(maxsize=1)
def generated_code_sha256() -> str:
    """SHA-256 over the generated files the runs execute (``nn.py``, ``csrc/fused.cpp``)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for rel in ("nn.py", "csrc/fused.cpp"):
        h.update(rel.encode() + b"\0" + (root / rel).read_bytes())
    return h.hexdigest()


def run_cell(cell: Cell, threads: int = 1) -> dict[str, Any]:
    """Train one cell with ``threads`` torch threads and return its row (no file written).

    Args:
        cell: The cell.
        threads: torch intra-op threads for this job.
    """
    # Busy-waiting OpenMP threads make small models 10-50x slower on a shared CPU;
    # the setting only takes effect before torch is first imported in this process.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from .._version import __version__
    from . import data, train

    old = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        ds = data.load(cell.data, split_seed=cell.split_seed)
        cfg = train.config_for(cell.profile, cell.data, cell.model, cell.epochs)
        row = train.train_one(
            ds,
            cell.model,
            cell.activation,
            cell.seed,
            cfg,
            device=cell.device,
            backend=cell.backend,
            measure=cell.part != "cost",
        )
    finally:
        torch.set_num_threads(old)
        torch.use_deterministic_algorithms(old_det)
    return {
        "part": cell.part,
        **row,
        "profile": cell.profile,
        "split_seed": cell.split_seed,
        "package_version": __version__,
        "generated_code_sha256": generated_code_sha256(),
        "data_sha256": ds.checksum,
    }


def _worker_init(env: dict[str, str]) -> None:
    os.environ.update(env)


def execute(
    cells: Sequence[Cell],
    *,
    jobs: int = 1,
    threads: int = 1,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    on_error: Callable[[Cell, BaseException], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``cells`` with ``jobs`` worker processes; call ``on_row`` as each row arrives.

    Args:
        cells: The cells.
        jobs: 1 runs them in this process, in order; more starts a process
            pool (spawned, so no torch state is inherited) of that many workers.
        threads: torch threads per job (choose ``jobs * threads <= cores``).
        on_row: Called with each finished row, in the order they finish.
        on_error: Called with a cell that raised and its exception (default: re-raise).

    Returns:
        The rows, in the order they finished.
    """
    rows: list[dict[str, Any]] = []

    def done(row: dict[str, Any]) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    def failed(cell: Cell, exc: BaseException) -> None:
        if on_error is None:
            raise exc
        on_error(cell, exc)

    if jobs == 1:
        for cell in cells:
            try:
                row = run_cell(cell, threads)
            except Exception as exc:  # noqa: BLE001 - handed to on_error
                failed(cell, exc)
            else:
                done(row)
        return rows
    import multiprocessing

    env = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(env,),
    ) as pool:
        futures = {pool.submit(run_cell, c, threads): c for c in cells}
        try:
            for fut in as_completed(futures):
                exc = fut.exception()
                if exc is not None:
                    failed(futures[fut], exc)
                else:
                    done(fut.result())
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return rows


def merge_rows(
    rows: Iterable[Mapping[str, Any]], order: Sequence[Cell] = ()
) -> list[dict[str, Any]]:
    """Rows in the plan's order (others after them, in their order), one per key.

    A later row with the same key replaces an earlier one.

    >>> a = {"part": "main", "data": "d", "model": "m", "activation": "gelu", "seed": 1}
    >>> b = {**a, "seed": 0}
    >>> [r["seed"] for r in merge_rows([a, b])]  # no plan: the order they came in
    [1, 0]
    >>> [r["seed"] for r in merge_rows([a, b, {**a, "test_accuracy": 0.5}])]  # later wins
    [1, 0]
    >>> [r["seed"] for r in merge_rows([b, a], [Cell("main", "d", "m", "gelu", 1)])]
    [1, 0]
    """
    rank = {c.key: i for i, c in enumerate(order)}
    unique = {row_key(r): dict(r) for r in rows}
    # Rows outside the plan (a resumed run that selects less) keep their relative order.
    first = {k: i for i, k in enumerate(unique)}
    return [unique[k] for k in sorted(unique, key=lambda k: (rank.get(k, len(rank)), first[k]))]


def cell_dict(cell: Cell) -> dict[str, Any]:
    """The cell as a plain dict (for ``meta.json``)."""
    return asdict(cell)
