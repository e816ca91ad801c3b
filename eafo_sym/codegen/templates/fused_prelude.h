// The part of eafo_sym/csrc/fused.cpp before the kernels: includes, the guards' helpers and the
// argument checks. ``eafo-sym codegen --backend cpp`` pastes the section below into the generated
// file byte for byte (eafo_sym.codegen.assemblers.cpp).

// eafo-sym template: prelude
#include <torch/extension.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <array>
#include <limits>
#include <vector>

namespace {

// T * finite(A) for a decaying T (eafo_sym.codegen.stable.decay_guard): A's nan
// and +-inf become +-the largest finite value, as the torch modules' _finite.
template <typename V>
inline V eafo_finite(const V& a) {
  using T = typename V::value_type;
  const V big(std::numeric_limits<T>::max());
  const V low(-std::numeric_limits<T>::max());
  return V::blendv(at::vec::clamp(a, low, big), big, a.isnan());
}

// zero_guard: a nan product becomes 0 (a zero factor wins over an overflowed
// cofactor); adding clamp(z, 0, 0) of each zero factor keeps a nan input nan.
template <typename V>
inline V eafo_nan_to_zero(const V& p) {
  return V::blendv(p, V(typename V::value_type(0)), p.isnan());
}
template <typename V>
inline V eafo_nan_or_zero(const V& z) {
  return V::blendv(V(typename V::value_type(0)), z, z.isnan());
}

inline void eafo_check(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.device().is_cpu(),
              "eafo_sym fused kernels run on CPU tensors; ", what, " is on ", t.device());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble,
              "eafo_sym fused kernels take float32 or float64; ", what, " is ", t.scalar_type());
}

inline void eafo_check_grad(const at::Tensor& x, const at::Tensor& g) {
  eafo_check(x, "x");
  TORCH_CHECK(g.sizes() == x.sizes() && g.scalar_type() == x.scalar_type(),
              "grad_output must match x in shape and dtype");
}

// The parameters' values (0-dim tensors of any floating dtype), in double.
inline std::vector<double> eafo_params(const std::vector<at::Tensor>& ps, size_t n) {
  TORCH_CHECK(ps.size() == n, "expected ", n, " parameters, got ", ps.size());
  std::vector<double> v;
  for (const auto& p : ps) {
    TORCH_CHECK(p.dim() == 0,
                "eafo_sym fused kernels take 0-dim parameters, got shape ", p.sizes());
    v.push_back(p.item<double>());
  }
  return v;
}

// What every host function starts with: the operands checked and made contiguous, the
// parameters' values, and an output like x. A forward has no g (nullptr).
struct EafoOperands {
  std::vector<double> params;
  at::Tensor x, g, out;
};

inline EafoOperands eafo_operands(const at::Tensor& x, const std::vector<at::Tensor>& ps,
                                  size_t n, const at::Tensor* g = nullptr) {
  if (g == nullptr) {
    eafo_check(x, "x");
  } else {
    eafo_check_grad(x, *g);
  }
  EafoOperands o{eafo_params(ps, n), x.contiguous(), g ? g->contiguous() : at::Tensor(), {}};
  o.out = at::empty_like(o.x);
  return o;
}

}  // namespace
