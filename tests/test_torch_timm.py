"""timm's act_layer names: register_timm and the automatic registration.

timm itself is used where it imports (it needs a torchvision that matches torch; skipped
cleanly otherwise); the registration mechanism is also checked on a stand-in package laid
out like timm's registry, in a fresh interpreter, for both import orders.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from eafo_sym import nn as gen  # noqa: E402


def _timm():
    try:
        import timm
    except Exception as err:  # a CUDA torchvision raises RuntimeError/OSError, not ImportError
        pytest.skip(f"timm does not import here: {type(err).__name__}: {err}")
    return timm


def test_timm_create_model_with_crrelu():
    timm = _timm()
    gen.register_timm()
    from timm.layers import get_act_layer

    assert get_act_layer("crrelu") is gen.CRReLU
    model = timm.create_model("resnet18", pretrained=False, act_layer="crrelu", num_classes=3)
    assert any(isinstance(m, gen.CRReLU) for m in model.modules())
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 3)


_FAKE = {
    "timm/__init__.py": "from .layers import create_act\n",
    "timm/layers/__init__.py": "from . import create_act\n",
    "timm/layers/create_act.py": textwrap.dedent('''
        _ACT_LAYER_DEFAULT = {"gelu": "timm's own gelu"}

        def get_act_layer(name):
            return _ACT_LAYER_DEFAULT[name.lower()]
    '''),
}


@pytest.mark.parametrize("order", ["timm first", "eafo_sym first"])
def test_registration_in_either_import_order(tmp_path, order):
    for rel, text in _FAKE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    imports = ["import timm", "import eafo_sym.nn"]
    if order == "eafo_sym first":
        imports.reverse()
    code = "\n".join([
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})",
        *imports,
        "from timm.layers.create_act import get_act_layer, _ACT_LAYER_DEFAULT",
        "import eafo_sym.nn as gen",
        "assert get_act_layer('crrelu') is gen.CRReLU",
        "assert get_act_layer('eafo_silu') is gen.EafoSiLU",
        "assert _ACT_LAYER_DEFAULT['gelu'] == \"timm's own gelu\"",  # not overridden
        "assert gen.register_timm(override=True)[:2] == ['celu', 'crrelu']",
        "assert get_act_layer('gelu') is gen.GELU",
        "print('ok')",
    ])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_register_timm_without_timm_says_so(monkeypatch):
    monkeypatch.setattr(gen, "_TIMM_REGISTRY", "no_such_timm_here.create_act")
    with pytest.raises(ImportError):
        gen.register_timm()
