// The part of eafo_sym/csrc/fused.cpp before the kernels: includes, the guards' and the math
// helpers, and the operand checks. ``eafo-sym codegen --backend cpp`` pastes the section below
// into the generated file byte for byte (eafo_sym.codegen.assemblers.cpp).

// eafo-sym template: prelude
// Only the headers the kernels use: torch/extension.h (all of ATen and pybind11) would double
// the build time, and the extension is a library of torch operators, not a Python module.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/scalar_tensor.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include <array>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using at::vec::Vectorized;

// Lane selects. x86's min, max and masked blends are one instruction each; at::vec's blendv
// takes a vector mask, which AVX-512 turns into a mask register and back on every call.
// eafo_where_nan(m, a, b): b where m is nan, else a.
template <typename V>
inline V eafo_where_nan(const V& m, const V& a, const V& b) {
  return V::blendv(a, b, m.isnan());
}
// eafo_min_or(a, b): min(a, b), and b where a is nan.
template <typename V>
inline V eafo_min_or(const V& a, const V& b) {
  return V::blendv(at::vec::clamp_max(a, b), b, a.isnan());
}
#if defined(CPU_CAPABILITY_AVX512)
inline Vectorized<float> eafo_where_nan(
    const Vectorized<float>& m, const Vectorized<float>& a, const Vectorized<float>& b) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q), a, b);
}
inline Vectorized<double> eafo_where_nan(
    const Vectorized<double>& m, const Vectorized<double>& a, const Vectorized<double>& b) {
  return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(m, m, _CMP_UNORD_Q), a, b);
}
inline Vectorized<float> eafo_min_or(const Vectorized<float>& a, const Vectorized<float>& b) {
  return _mm512_min_ps(a, b);
}
inline Vectorized<double> eafo_min_or(const Vectorized<double>& a, const Vectorized<double>& b) {
  return _mm512_min_pd(a, b);
}
#elif defined(CPU_CAPABILITY_AVX2)
inline Vectorized<float> eafo_where_nan(
    const Vectorized<float>& m, const Vectorized<float>& a, const Vectorized<float>& b) {
  return _mm256_blendv_ps(a, b, _mm256_cmp_ps(m, m, _CMP_UNORD_Q));
}
inline Vectorized<double> eafo_where_nan(
    const Vectorized<double>& m, const Vectorized<double>& a, const Vectorized<double>& b) {
  return _mm256_blendv_pd(a, b, _mm256_cmp_pd(m, m, _CMP_UNORD_Q));
}
inline Vectorized<float> eafo_min_or(const Vectorized<float>& a, const Vectorized<float>& b) {
  return _mm256_min_ps(a, b);
}
inline Vectorized<double> eafo_min_or(const Vectorized<double>& a, const Vectorized<double>& b) {
  return _mm256_min_pd(a, b);
}
#endif

// T * finite(A) for a decaying T (eafo_sym.codegen.stable.decay_guard): A's nan and +-inf
// become +-the largest finite value, as the torch modules' _finite: min(A, big) maps nan to
// big, then clamp_min bounds -inf. With the plain value of A's parameters (nan where one of
// them is not finite) A passes unchanged: a nan or infinite parameter propagates.
template <typename V>
inline V eafo_finite(const V& a) {
  using T = typename V::value_type;
  return at::vec::clamp_min(eafo_min_or(a, V(std::numeric_limits<T>::max())),
                            V(-std::numeric_limits<T>::max()));
}
template <typename V>
inline V eafo_finite(const V& a, const V& plain) {
  return eafo_where_nan(plain, eafo_finite(a), a);
}

// zero_guard: a nan product becomes 0 (a zero factor wins over an overflowed cofactor), or
// stays nan with the plain value of a non-finite parameter; adding clamp(z, 0, 0) of each
// zero factor keeps a nan input nan.
template <typename V>
inline V eafo_nan_to_zero(const V& p) {
  return eafo_where_nan(p, p, V(typename V::value_type(0)));
}
template <typename V>
inline V eafo_nan_to_zero(const V& p, const V& plain) {
  return eafo_where_nan(p, p, plain);
}
template <typename V>
inline V eafo_nan_or_zero(const V& z) {
  return eafo_where_nan(z, V(typename V::value_type(0)), z);
}

// The plain value of some parameters: 0 where all are finite, nan where one is not.
template <typename V>
inline V eafo_plain(std::initializer_list<double> values) {
  using T = typename V::value_type;
  for (double v : values) {
    if (!std::isfinite(v)) {
      return V(std::numeric_limits<T>::quiet_NaN());
    }
  }
  return V(T(0));
}

// exp, inlined. at::vec's exp is a call into SLEEF, and a call spills every live vector
// register (all of them are caller-saved): in these kernels it costs more than the exp.
// float32 on AVX2/AVX-512: exp(a) = 2^n e^r, n = round(a / ln 2), |r| <= ln(2)/2 (Cody-Waite),
// e^r by Cephes' expf polynomial: within 2 ulps wherever the result is at least 2^-125.5;
// smaller results flush to 0 (SLEEF's are subnormal there), an overflow is inf. The clamp
// passes a nan through (x86's max and min return their second operand) and keeps n in
// [-126, 128]; 2^n is applied as 2^(n-1) * 2, so that n = 128 overflows in the multiply.
template <typename V>
inline V eafo_exp(const V& a) {
  return a.exp();
}
#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512)
inline Vectorized<float> eafo_exp(const Vectorized<float>& a) {
  using V = Vectorized<float>;
  using I = Vectorized<int32_t>;
  const V x = at::vec::clamp(a, V(-87.33654f), V(88.8f));
  const V n = (x * V(1.44269504088896341f)).round();
  V r = at::vec::fnmadd(n, V(0.693359375f), x);
  r = at::vec::fnmadd(n, V(-2.12194440e-4f), r);
  V p(1.9875691500e-4f);
  p = at::vec::fmadd(p, r, V(1.3981999507e-3f));
  p = at::vec::fmadd(p, r, V(8.3334519073e-3f));
  p = at::vec::fmadd(p, r, V(4.1665795894e-2f));
  p = at::vec::fmadd(p, r, V(1.6666665459e-1f));
  p = at::vec::fmadd(p, r, V(5.0000001201e-1f));
  p = at::vec::fmadd(p, r * r, r + V(1.0f));
  const I e = (at::vec::convert_to_int_of_same_size(n) + I(126)) << I(23);
  return p * at::vec::cast<float>(e) * V(2.0f);
}
#endif

inline void eafo_check(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.device().is_cpu(),
              "eafo_sym fused kernels run on CPU tensors; ", what, " is on ", t.device());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble,
              "eafo_sym fused kernels take float32 or float64; ", what, " is ", t.scalar_type());
}

// A parameter's value: a 0-dim tensor of any floating dtype (read directly where it is on the
// CPU: item() is a dispatcher call).
inline double eafo_value(const at::Tensor& p) {
  TORCH_CHECK(p.dim() == 0,
              "eafo_sym fused kernels take 0-dim parameters, got shape ", p.sizes());
  if (p.is_cpu() && p.scalar_type() == at::kFloat) {
    return *p.const_data_ptr<float>();
  }
  if (p.is_cpu() && p.scalar_type() == at::kDouble) {
    return *p.const_data_ptr<double>();
  }
  return p.item<double>();
}

// ``t`` with the strides of ``like`` (a dense tensor of the same shape): ``t`` itself where they
// agree, else a copy.
inline at::Tensor eafo_laid_out_as(const at::Tensor& t, const at::Tensor& like) {
  if (t.strides() == like.strides()) {
    return t;
  }
  return at::empty_like(like).copy_(t);
}

// What every host function starts with: the operands checked, the parameters' values, and the
// output laid out as empty_like(x) lays it out. A dense x (contiguous, channels_last or any
// other order of its dimensions) is used as it is and its output has its strides; the kernels
// then run over the elements in memory order. A forward has no g (nullptr).
struct EafoOperands {
  std::vector<double> params;
  at::Tensor x, g, out;
};

inline EafoOperands eafo_operands(const at::Tensor& x, const at::Tensor* g,
                                  std::initializer_list<at::Tensor> ps) {
  eafo_check(x, "x");
  EafoOperands o;
  o.params.reserve(ps.size());
  for (const auto& p : ps) {
    o.params.push_back(eafo_value(p));
  }
  o.out = at::empty_like(x);
  o.x = eafo_laid_out_as(x, o.out);
  if (g != nullptr) {
    TORCH_CHECK(g->sizes() == x.sizes() && g->scalar_type() == x.scalar_type(),
                "grad must match x in shape and dtype");
    TORCH_CHECK(g->device().is_cpu(), "eafo_sym fused kernels run on CPU tensors; grad is on ",
                g->device());
    o.g = eafo_laid_out_as(*g, o.out);
  }
  return o;
}

// An operator of this library, called through the dispatcher (so that fake tensors, tracing and
// functionalization see it), looked up once.
template <typename Signature>
inline c10::TypedOperatorHandle<Signature> eafo_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

// A backward operator's outputs as autograd passes them (a list) and as the operator's
// schema returns them (a tuple).
template <typename... Ts>
inline torch::autograd::variable_list eafo_list(const std::tuple<Ts...>& t) {
  return std::apply([](const auto&... v) { return torch::autograd::variable_list{v...}; }, t);
}
template <size_t N, size_t... I>
inline auto eafo_tuple_of(const torch::autograd::variable_list& v, std::index_sequence<I...>) {
  return std::make_tuple(v[I]...);
}
template <size_t N>
inline auto eafo_tuple(const torch::autograd::variable_list& v) {
  return eafo_tuple_of<N>(v, std::make_index_sequence<N>());
}

}  // namespace
