"""The result rows on disk of :mod:`eafo_sym.experiment.report` (the tables are its doctests)."""

from __future__ import annotations

import pytest

from eafo_sym.experiment import report


def test_read_rows_rejects_bad_json(tmp_path):
    bad = tmp_path / "rows.jsonl"
    bad.write_text('{"a": 1}\n\nnot json\n')
    with pytest.raises(ValueError, match="rows.jsonl:3"):
        report.read_rows(bad)

