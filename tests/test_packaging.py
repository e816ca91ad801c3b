"""Packaging: environment.yml mirrors pyproject.toml, README and CI agree, torch stays optional."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def _pyproject_requirements() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = set(map(_norm, data["dependencies"]))
    for extra in data["optional-dependencies"].values():
        reqs |= {_norm(r) for r in extra if not r.startswith("eafo_sym")}
    return reqs


def test_environment_yml_lists_the_same_requirements():
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip |= {_norm(d) for d in dep["pip"]}
        elif not re.match(r"^(python|pip)\b", dep):
            conda.add(_norm(dep))
    assert "-e." in pip, "environment.yml must install the package itself through pip"
    assert conda | (pip - {"-e."}) == _pyproject_requirements()


def test_sympy_is_pinned_exactly():
    assert "sympy==1.14.0" in _pyproject_requirements()
    assert "torch==2.13.0" in _pyproject_requirements()


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert test_cmd.strip() in (ROOT / ".ci" / "run").read_text()
    assert any("eafo-sym reproduce" in b for b in blocks)


def test_import_does_not_import_torch():
    code = "import sys, eafo_sym, eafo_sym.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_import_is_cheap_and_derives_nothing():
    code = (
        "import eafo_sym.catalog as a; "
        "assert not any(isinstance(v, a.Activation) and v.derived for v in a._REGISTRY.values())"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_license_file_and_spdx_expression():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the eafo_sym authors\n")
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text
    project = _project()
    assert project["license"] == "MIT"  # an SPDX expression, not the deprecated table
    assert project["license-files"] == ["LICENSE"]
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert "setuptools>=77" in build["requires"]  # the first setuptools with PEP 639


def test_authors_urls_and_typed_marker():
    project = _project()
    assert project["authors"] and all(a.get("name") for a in project["authors"])
    urls = project["urls"]
    assert urls and all(u.startswith("https://") for u in urls.values())
    assert (ROOT / "eafo_sym" / "py.typed").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in data["package-data"]["eafo_sym"]
    assert "Typing :: Typed" in project["classifiers"]


def test_installed_metadata_matches_pyproject():
    import importlib.metadata

    import eafo_sym

    if Path(eafo_sym.__file__).resolve().parents[1] != ROOT:
        pytest.skip("eafo_sym is imported from another checkout")
    meta = importlib.metadata.metadata("eafo_sym")
    hint = "the installed metadata is stale: pip install -e ."
    assert meta["License-Expression"] == "MIT", hint
    assert meta["Author"] == _project()["authors"][0]["name"], hint
    assert {u.split(", ")[0] for u in meta.get_all("Project-URL")} == set(_project()["urls"]), hint


def test_no_build_output_is_tracked():
    try:
        files = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert not [f for f in files if ".egg-info" in f or f.startswith(("build/", "dist/"))]
