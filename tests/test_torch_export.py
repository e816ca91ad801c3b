"""The generated modules under TorchScript, torch.export and ONNX (onnxruntime), every module.

References: the eager module (its values and gradients), torch.finfo for the TorchScript
table of dtype limits, and onnxruntime running the exported graph, infinities and nan
included.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eafo_sym import catalog  # noqa: E402
from eafo_sym import nn as gen  # noqa: E402

NAMES = sorted(catalog.names())
EDGES = [float("inf"), -float("inf"), float("nan"), 0.0, -0.0, 1e-8, 1.0, -1.0, 2.5, -3.7,
         30.0, -30.0, 88.0, -88.0, 3e38, -3e38]


@pytest.mark.parametrize("name", NAMES)
def test_torchscript_script_save_load(name):
    m = gen.ACTIVATIONS[name]()
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(m), buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    torch.manual_seed(0)
    xs = torch.randn(4, 5) * 3
    x1, x2 = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    y1, y2 = m(x1), loaded(x2)
    torch.testing.assert_close(y1, y2)
    y1.pow(2).sum().backward()
    y2.pow(2).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    for p1, p2 in zip(m.parameters(), loaded.parameters(), strict=True):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-5, atol=1e-6)
    edges = torch.tensor(EDGES)
    torch.testing.assert_close(loaded(edges), m(edges).detach(), equal_nan=True)


def test_torchscript_dtype_limits_are_torch_finfo():
    limit = torch.jit.script(gen._largest)
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        assert limit(dtype) == torch.finfo(dtype).max


@pytest.mark.parametrize("name", ["crrelu", "prelu", "silu"])
def test_torch_export_runs_the_printed_forward(name):
    m = gen.ACTIVATIONS[name]().eval()
    edges = torch.tensor(EDGES)
    prog = torch.export.export(m, (edges,))
    torch.testing.assert_close(prog.module()(edges), m(edges).detach(), equal_nan=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_onnx_dynamo_export_matches_onnxruntime(name):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    m = gen.ACTIVATIONS[name]().eval()
    xs = torch.tensor(EDGES, dtype=torch.float32)
    prog = torch.onnx.export(m, (xs,), dynamo=True, verbose=False)
    sess = ort.InferenceSession(prog.model_proto.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    torch.manual_seed(1)
    for batch in (xs, torch.randn(16) * 4):
        (got,) = sess.run(None, {sess.get_inputs()[0].name: batch.numpy()})
        with torch.no_grad():
            ref = m(batch)
        assert np.array_equal(np.isnan(got), torch.isnan(ref).numpy()), name
        assert np.array_equal(np.isinf(got), torch.isinf(ref).numpy()), name
        torch.testing.assert_close(torch.from_numpy(got), ref, equal_nan=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["crrelu", "leaky_relu", "prelu", "gelu", "eafo_softplus"])
def test_torch_compile_fullgraph_with_no_graph_break(name):
    """The traced Function has no jvp (Dynamo breaks the graph at one); same values and grads."""
    m = gen.ACTIVATIONS[name]()
    explained = torch._dynamo.explain(m)(torch.randn(8))
    assert explained.graph_break_count == 0, explained.break_reasons
    compiled = torch.compile(gen.ACTIVATIONS[name](), fullgraph=True)
    torch.manual_seed(0)
    xs = torch.randn(64) * 3
    x1, x2 = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    y1, y2 = m(x1), compiled(x2)
    torch.testing.assert_close(y1, y2)
    y1.sum().backward()
    y2.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
