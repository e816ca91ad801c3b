"""An empirical check on CPU: CRReLU against GELU, ReLU and ReLU's corrections.

The paper's vision-transformer recipe (``docs/mathematics.md`` §13: AdamW
with weight decay 0.05, truncated-normal initialisation, gradient clipping at
1.0, cosine schedule with linear warm-up, cross-entropy, ``eps = 0.01``),
scaled down to scikit-learn's 8x8 digits, so that it runs in minutes on two
CPU cores.

Modules (imported on demand; this package never imports torch at import time,
and :mod:`eafo_sym` never imports this package):

* :mod:`~eafo_sym.experiment.data`: the digits and their fixed stratified split.
* :mod:`~eafo_sym.experiment.models`: an MLP, a tiny ViT and (optionally) timm's ViT.
* :mod:`~eafo_sym.experiment.train`: one training run -> one result row.
* :mod:`~eafo_sym.experiment.run`: the run loop: a checked plan, every cell
  trained, rows, split, summary, plot and meta written.
* :mod:`~eafo_sym.experiment.stats`: mean/std and paired t-intervals (no torch).
* :mod:`~eafo_sym.experiment.report`: JSON rows, the Markdown table and the plot (no torch).
"""
