"""Fused CPU activation modules: the modules of :mod:`eafo_sym.nn`, one kernel per pass.

Each class here subclasses its :mod:`eafo_sym.nn` namesake (same parameters,
same ``state_dict``, drop-in) and runs float32/float64 CPU tensors through C++
kernels printed from the same SymPy forms (:mod:`eafo_sym.codegen.assemblers.cpp`,
committed as ``eafo_sym/csrc/fused.cpp``): the forward in one pass, the
backward (input gradient and parameter-gradient sums) in one more, saving only
the input. Everything else falls back to the printed torch code of the parent
class: other dtypes, other devices, parameters that are not 0-dim, and
tracing under ``torch.compile`` (so that Inductor fuses the torch code itself).

The kernels are compiled on first use with ``torch.utils.cpp_extension``
(needs a C++ compiler and ninja; about a minute, once: the build is cached
under ``TORCH_EXTENSIONS_DIR`` or ``~/.cache/torch_extensions``).
:func:`load` builds ahead of time, :func:`available` tells whether a build
works here without raising.

>>> from eafo_sym.fused import CRReLU, eligible
>>> half = torch.ones(3, dtype=torch.float16)
>>> eligible(half, ())                    # float16: the printed torch code runs, no build
False
>>> CRReLU()(half).dtype
torch.float16
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
from pathlib import Path
from types import ModuleType

import torch

from . import nn as _nn
from .codegen.files import source_digest

__all__ = ["ACTIVATIONS", "SOURCE_PATH", "available", "eligible", "get_act_layer", "load"]

log = logging.getLogger(__name__)

#: The generated C++ source (``eafo-sym codegen --backend cpp`` writes it).
SOURCE_PATH = Path(__file__).resolve().parent / "csrc" / "fused.cpp"

#: dtypes the kernels are instantiated for.
FUSED_DTYPES = (torch.float32, torch.float64)

_lock = threading.Lock()
_ext: ModuleType | None = None

# SIMD flags per ATen CPU capability: the kernels must use the same
# at::vec::Vectorized specialisation (AVX2 or AVX-512) as the running torch.
_CAPABILITY_FLAGS = {
    "AVX512": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma",
               "-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512"],
    "AVX2": ["-mavx2", "-mfma", "-mf16c", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"],
}


def _build_flags() -> tuple[str, list[str], list[str]]:
    """(capability, compile flags, link flags) for this machine's torch."""
    cap = torch.backends.cpu.get_cpu_capability()
    flags = ["-O3", *_CAPABILITY_FLAGS.get(cap, [])]
    ldflags: list[str] = []
    # at::parallel_for splits work only when the kernels are compiled with OpenMP,
    # the backend torch itself uses here (its libgomp is already loaded).
    if "OpenMP" in torch.__config__.parallel_info() and sys.platform.startswith("linux"):
        flags.append("-fopenmp")
        ldflags.append("-fopenmp")
    return cap, flags, ldflags


def load(verbose: bool = False) -> ModuleType:
    """Build (first call in a fresh cache: about a minute) and import the fused kernels.

    Args:
        verbose: Show the compiler's output.

    Returns:
        The extension module (functions ``<name>_fwd``, ``<name>_bwd_x``, ``<name>_bwd``).

    Raises:
        RuntimeError: If the source is missing or the build fails; the message
            says what is needed.
    """
    global _ext
    if _ext is not None:
        return _ext
    with _lock:
        if _ext is not None:
            return _ext
        if not SOURCE_PATH.is_file():
            raise RuntimeError(
                f"fused kernel source {SOURCE_PATH} is missing; regenerate it with "
                "`eafo-sym codegen --backend cpp`"
            )
        _find_ninja()
        from torch.utils.cpp_extension import load_inline

        text = SOURCE_PATH.read_text()
        cap, flags, ldflags = _build_flags()
        name = f"eafo_sym_fused_{cap.lower()}_{source_digest(text)}"
        log.info("eafo_sym.fused: building %s (once; cached by torch.utils.cpp_extension)", name)
        try:
            _ext = load_inline(
                name=name,
                cpp_sources=[text],
                extra_cflags=flags,
                extra_ldflags=ldflags,
                verbose=verbose,
            )
        except Exception as err:  # the compiler's own message is in err
            raise RuntimeError(f"building the fused kernels failed: {err}") from err
        return _ext


def _find_ninja() -> None:
    """Put ninja on PATH for torch's builder, or say that it is missing."""
    if shutil.which("ninja"):
        return
    try:
        import ninja  # the PyPI wheel; its binary may be off PATH outside an activated venv
    except ImportError:
        raise RuntimeError(
            "building the fused kernels needs ninja (pip install ninja) and a C++ compiler"
        ) from None
    os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")


def available() -> bool:
    """Whether the fused kernels build (or are built) here; logs the reason when not."""
    try:
        load()
    except RuntimeError as err:
        log.warning("%s", err)
        return False
    return True


def eligible(x: torch.Tensor, params: tuple[torch.Tensor, ...]) -> bool:
    """Whether the fused kernels take this call (else the torch code runs).

    Float32/float64 CPU tensors with 0-dim CPU parameters, outside
    ``torch.compile`` tracing (Inductor fuses the torch code itself there).
    """
    return (
        x.device.type == "cpu"
        and x.dtype in FUSED_DTYPES
        and not torch.compiler.is_compiling()
        and all(p.dim() == 0 and p.device.type == "cpu" for p in params)
    )


class _FusedFunction(torch.autograd.Function):
    """Forward and backward through the fused kernels; saves the input and the 0-dim parameters."""

    @staticmethod
    def forward(ctx, name, x, *params):
        ext = load()
        ctx.name = name
        ctx.save_for_backward(x, *params)
        return getattr(ext, f"{name}_fwd")(x, list(params))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        x, *params = ctx.saved_tensors
        ext = load()
        g = grad_output.to(x.dtype)
        if any(ctx.needs_input_grad[2:]):
            gx, *gp = getattr(ext, f"{ctx.name}_bwd")(x, params, g)
            return (None, gx, *gp)
        return (None, getattr(ext, f"{ctx.name}_bwd_x")(x, params, g), *[None] * len(params))


def _fused_class(name: str, base: type) -> type:
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The kernels take the parameters in the printed functions' order (nn.PARAMETERS).
        params = tuple(self._arguments(x))
        if eligible(x, params):
            return _FusedFunction.apply(name, x, *params)
        return base.forward(self, x)

    doc = (
        f"{base.__name__} with fused CPU kernels (float32/float64); see :mod:`eafo_sym.fused`.\n\n"
        f"    Same parameters and state_dict as :class:`eafo_sym.nn.{base.__name__}`, which\n"
        f"    it subclasses; other dtypes and devices use that class's torch code.\n"
    )
    attrs = {"forward": forward, "__doc__": doc, "__module__": __name__}
    return type(base.__name__, (base,), attrs)


#: Registry name -> fused class, as :data:`eafo_sym.nn.ACTIVATIONS`.
ACTIVATIONS: dict[str, type] = {
    name: _fused_class(name, cls) for name, cls in _nn.ACTIVATIONS.items()
}
globals().update({cls.__name__: cls for cls in ACTIVATIONS.values()})
__all__ += sorted(cls.__name__ for cls in ACTIVATIONS.values())


def get_act_layer(name):
    """The fused class registered as ``name``; classes pass through (timm's convention)."""
    if isinstance(name, type):
        return name
    _nn.get_act_layer(name)  # an unknown name: the same ValueError as eafo_sym.nn's
    return ACTIVATIONS[name]
