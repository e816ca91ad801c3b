"""Collection rules for ``pytest --doctest-modules`` over the package.

Modules that import torch at the top (the generated ``eafo_sym/nn.py``, the
experiment) cannot even be imported where torch is absent; skip collecting
their doctests there instead of failing. Their tests skip with importorskip.
"""

import importlib.util

# The deprecated module names only re-export (and warn when imported).
collect_ignore = ["eafo_sym/activations.py", "eafo_sym/distributions.py"]
collect_ignore_glob = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += [
        "eafo_sym/nn.py", "eafo_sym/fused/*.py", "eafo_sym/paper.py", "eafo_sym/experiment/*.py"
    ]
if importlib.util.find_spec("sklearn") is None:
    collect_ignore_glob += ["eafo_sym/experiment/*.py"]
