"""Shared fixtures and settings for the test suite."""

import os
import tempfile

import pytest

# Hypothesis: deterministic and bounded, so CI time does not vary run to run.
try:
    from hypothesis import settings

    settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # pragma: no cover
    pass

# The derivation cache of a test run lives in a fresh directory: tests neither read a
# developer's cached results nor leave entries in their home directory.
os.environ.setdefault("EAFO_SYM_CACHE_DIR", tempfile.mkdtemp(prefix="eafo_sym_test_cache_"))


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(20250101)
