"""The CPU study: activations told apart on two small data sets, with the paper's premise tested.

The paper's vision-transformer recipe (``docs/mathematics.md`` §13: AdamW
with weight decay 0.05, truncated-normal initialisation, gradient clipping at
1.0, cosine schedule with linear warm-up, cross-entropy, ``eps = 0.01``
untuned) at this study's own, small sizes, on scikit-learn's 8x8 digits and on
MNIST-1D (generated offline), for an MLP, a tiny ViT, a small ConvNeXt and
(where timm imports) timm's ViT. Every (part, data set, model, activation,
seed) cell is an independent job.

Modules (imported on demand; this package never imports torch at import time,
and :mod:`eafo_sym` never imports this package):

* :mod:`~eafo_sym.experiment.data`: the digits and MNIST-1D with fixed stratified splits.
* :mod:`~eafo_sym.experiment.models`: the models, the activation specs of the
  ablations, the hook for the dynamic modules.
* :mod:`~eafo_sym.experiment.train`: one training run -> one row, with the
  layer measurements (output entropy, distance from normal, learned eps).
* :mod:`~eafo_sym.experiment.entropy`: the layer-entropy estimator (no torch).
* :mod:`~eafo_sym.experiment.cells`: the cell function and the executor
  (also runs unchanged on Dask or Ray).
* :mod:`~eafo_sym.experiment.run`: the checked plan and the run loop
  (resumable, writes through :class:`eafo_sym.outputs.OutputDir`).
* :mod:`~eafo_sym.experiment.stats`: mean/std, paired t-intervals, Holm,
  Spearman with a bootstrap CI (no torch).
* :mod:`~eafo_sym.experiment.report`: the numbers of the summary, its tables and plots (no torch).

**On a cluster.** :func:`~eafo_sym.experiment.cells.run_cell` takes a
:class:`~eafo_sym.experiment.cells.Cell` and returns a JSON-ready row, and
:func:`~eafo_sym.experiment.cells.merge_rows` orders rows by the plan::

    from dask.distributed import Client
    from eafo_sym.experiment import cells, run
    plan = run.plan(out="results/runs/cluster")
    client = Client("scheduler:8786")
    rows = client.gather(client.map(cells.run_cell, plan.cells, threads=1))
    rows = cells.merge_rows(rows, plan.cells)  # the same file whatever the order

(with Ray: ``ray.get([ray.remote(cells.run_cell).remote(c, threads=1) for c in plan.cells])``).
Write them with :func:`~eafo_sym.experiment.report.write_report` into an
:class:`~eafo_sym.outputs.OutputDir`.
"""
