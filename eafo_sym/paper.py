"""The paper's own CRReLU (Algorithm 1, Appendix D.1), the reference the generated code is held to.

Plain autograd, one scalar parameter named ``lr`` (initial value 0.01), as in
the paper's pseudocode. Tests and benchmarks compare :class:`eafo_sym.nn.CRReLU`
against it; it imports torch, so ``import eafo_sym`` does not import this module.
"""

import torch
import torch.nn.functional as F  # noqa: N812 - the paper's spelling

__all__ = ["PaperCRReLU"]


class PaperCRReLU(torch.nn.Module):
    """``relu(x) + lr * x * exp(-x**2/2)`` with ``lr`` an ``nn.Parameter``.

    >>> m = PaperCRReLU()
    >>> round(float(m(torch.tensor([1.0])).detach()[0]), 6)  # 1 + 0.01*exp(-1/2) in float32
    1.006065
    """

    def __init__(self, lr: float = 0.01):
        super().__init__()
        self.lr = torch.nn.Parameter(torch.tensor(lr))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x) + self.lr * x * torch.exp(-(x**2) / 2)
