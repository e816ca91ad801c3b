// The functions Python calls for one activation: checks, dtype dispatch, allocation.
// ``eafo-sym codegen --backend cpp`` pastes these sections into eafo_sym/csrc/fused.cpp once per
// activation (eafo_sym.codegen.assemblers.cpp), with ACTIVATION replaced by the activation's name
// and NUM_PARAMS by its number of parameters; "parameter gradients" only where it has any.

// eafo-sym template: forward
at::Tensor ACTIVATION_fwd(const at::Tensor& x, const std::vector<at::Tensor>& ps) {
  eafo_check(x, "x");
  const auto pv = eafo_params(ps, NUM_PARAMS);
  const auto xc = x.contiguous();
  auto out = at::empty_like(xc);
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "ACTIVATION_fwd", [&] {
    ACTIVATION_fwd_k<scalar_t>(
        xc.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), xc.numel(), pv.data());
  });
  return out;
}

at::Tensor ACTIVATION_bwd_x(
    const at::Tensor& x, const std::vector<at::Tensor>& ps, const at::Tensor& g) {
  eafo_check_grad(x, g);
  const auto pv = eafo_params(ps, NUM_PARAMS);
  const auto xc = x.contiguous();
  const auto gc = g.contiguous();
  auto out = at::empty_like(xc);
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "ACTIVATION_bwd_x", [&] {
    ACTIVATION_bwd_x_k<scalar_t>(xc.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(),
        out.data_ptr<scalar_t>(), xc.numel(), pv.data());
  });
  return out;
}

// eafo-sym template: parameter gradients
std::vector<at::Tensor> ACTIVATION_bwd(
    const at::Tensor& x, const std::vector<at::Tensor>& ps, const at::Tensor& g) {
  eafo_check_grad(x, g);
  const auto pv = eafo_params(ps, NUM_PARAMS);
  const auto xc = x.contiguous();
  const auto gc = g.contiguous();
  auto out = at::empty_like(xc);
  std::array<double, NUM_PARAMS> sums{};
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "ACTIVATION_bwd", [&] {
    sums = ACTIVATION_bwd_k<scalar_t>(xc.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(),
        out.data_ptr<scalar_t>(), xc.numel(), pv.data());
  });
  std::vector<at::Tensor> res{out};
  for (int j = 0; j < NUM_PARAMS; ++j) {
    res.push_back(at::scalar_tensor(sums[j], ps[j].options()));
  }
  return res;
}
