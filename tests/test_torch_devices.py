"""The printed torch code on every device torch has here (CUDA where present, else skipped).

Each module runs on the device in float32 and float64 and is compared with the same module
on the CPU in float64: values, input and parameter gradients, and the double backward.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from eafo_sym import catalog  # noqa: E402
from eafo_sym import nn as gen  # noqa: E402

NAMES = sorted(catalog.names())
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                    reason="no CUDA device here")),
]


def _run(m, xs):
    x = xs.clone().requires_grad_()
    y = m(x)
    params = list(m.parameters())
    first = torch.autograd.grad(y.sum(), params, retain_graph=True) if params else ()
    (gx,) = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
    second = torch.autograd.grad(gx.pow(2).sum(), [x, *params])
    return [t.detach().cpu().double() for t in (y, gx, *second, *first)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", NAMES)
def test_device_matches_cpu_float64(name, dtype, device):
    torch.manual_seed(0)
    xs = torch.randn(3, 64, dtype=torch.float64) * 3
    ref = _run(gen.ACTIVATIONS[name]().double(), xs)
    got = _run(gen.ACTIVATIONS[name]().to(device=device, dtype=dtype), xs.to(device, dtype))
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * max(1.0, b.abs().max().item()))
