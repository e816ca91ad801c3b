"""The derivation cache (``eafo_sym.cache``): memory, disk, staleness, corruption, opt-out."""

import pickle
import subprocess
import sys

import pytest
import sympy as sp

from eafo_sym import cache
from eafo_sym.laws import normal

CALLS = []


@cache.memoize(disk=True)
def _square_plus(expr, law):
    CALLS.append(1)
    return sp.expand(expr**2) + law.pdf


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.DIR_ENV, str(tmp_path))
    monkeypatch.delenv(cache.OFF_ENV, raising=False)
    _square_plus.cache_clear()
    CALLS.clear()
    return tmp_path


def test_memory_then_disk(cache_dir):
    x = sp.Symbol("x")
    first = _square_plus(x + 1, normal())
    assert _square_plus(x + 1, normal()) == first and len(CALLS) == 1  # memory
    (entry,) = cache_dir.glob("*.pkl")
    _square_plus.cache_clear()
    assert _square_plus(x + 1, normal()) == first and len(CALLS) == 1  # disk, not recomputed
    assert entry.stat().st_size > 0
    _square_plus(x + 2, normal())
    assert len(CALLS) == 2 and len(list(cache_dir.glob("*.pkl"))) == 2


def test_corrupt_and_truncated_entries_are_recomputed(cache_dir):
    x = sp.Symbol("x")
    good = _square_plus(x, normal())
    (entry,) = cache_dir.glob("*.pkl")
    for damage in (b"garbage", entry.read_bytes()[:-5], b""):
        entry.write_bytes(damage)
        _square_plus.cache_clear()
        CALLS.clear()
        assert _square_plus(x, normal()) == good
        assert len(CALLS) == 1, "a damaged entry must be recomputed, not trusted"
        assert entry.read_bytes().startswith(b"eafo_sym cache 1\n")  # rewritten


def test_a_foreign_entry_with_a_valid_checksum_is_not_used(cache_dir):
    """An entry written for other inputs (or by other code) under the same file name is ignored."""
    x = sp.Symbol("x")
    _square_plus(x, normal())
    (entry,) = cache_dir.glob("*.pkl")
    payload = pickle.dumps(("another key", sp.Integer(42)))
    import hashlib

    entry.write_bytes(b"eafo_sym cache 1\n" + hashlib.sha256(payload).hexdigest().encode()
                      + b"\n" + payload)
    _square_plus.cache_clear()
    CALLS.clear()
    assert _square_plus(x, normal()) != 42 and len(CALLS) == 1


def test_the_key_holds_the_versions_and_code_digest():
    text = cache._versions()
    assert "sympy=" + sp.__version__ in text and "code=" in text and "eafo_sym=" in text


def test_opt_out(cache_dir, monkeypatch):
    monkeypatch.setenv(cache.OFF_ENV, "1")
    assert not cache.disk_enabled()
    _square_plus(sp.Symbol("x"), normal())
    assert list(cache_dir.glob("*.pkl")) == []


def test_unkeyable_arguments_run_uncached(cache_dir):
    @cache.memoize
    def ident(v):
        CALLS.append(1)
        return v

    obj = object()
    assert ident(obj) is obj and ident(obj) is obj and len(CALLS) == 2


def test_unwritable_directory_is_not_an_error(tmp_path, monkeypatch):
    target = tmp_path / "file-not-dir"
    target.write_text("")
    monkeypatch.setenv(cache.DIR_ENV, str(target))
    _square_plus.cache_clear()
    assert _square_plus(sp.Symbol("y"), normal()) is not None


def test_a_second_process_reads_the_derivation(tmp_path):
    """The point of the disk cache: the next process does not derive CRReLU again."""
    code = (
        "import eafo_sym.symbolic.eafo as e, eafo_sym.cache as c\n"
        "calls = []\n"
        "orig = e.taylor_coefficients\n"
        "e.taylor_coefficients = lambda *a, **k: calls.append(1) or orig(*a, **k)\n"
        "d = e.derive_crrelu()\n"
        "print(len(calls), d.shape)\n"
    )
    env = {**__import__("os").environ, cache.DIR_ENV: str(tmp_path)}
    env.pop(cache.OFF_ENV, None)
    run = [sys.executable, "-c", code]
    first = subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout
    second = subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout
    assert first.split()[0] == "1" and second.split()[0] == "0"
    assert first.split(maxsplit=1)[1] == second.split(maxsplit=1)[1]


def test_clear(cache_dir):
    _square_plus(sp.Symbol("z"), normal())
    assert cache.clear() == 1 and list(cache_dir.glob("*.pkl")) == []
