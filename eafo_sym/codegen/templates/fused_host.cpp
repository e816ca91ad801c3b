// The functions Python calls for one activation: checks, dtype dispatch, allocation.
// ``eafo-sym codegen --backend cpp`` pastes these sections into eafo_sym/csrc/fused.cpp once per
// activation (eafo_sym.codegen.assemblers.cpp), with ACTIVATION replaced by the activation's name
// and NUM_PARAMS by its number of parameters; "parameter gradients" only where it has any.

// eafo-sym template: forward
at::Tensor ACTIVATION_fwd(const at::Tensor& x, const std::vector<at::Tensor>& ps) {
  auto o = eafo_operands(x, ps, NUM_PARAMS);
  AT_DISPATCH_FLOATING_TYPES(o.x.scalar_type(), "ACTIVATION_fwd", [&] {
    ACTIVATION_fwd_k<scalar_t>(
        o.x.data_ptr<scalar_t>(), o.out.data_ptr<scalar_t>(), o.x.numel(), o.params.data());
  });
  return o.out;
}

at::Tensor ACTIVATION_bwd_x(
    const at::Tensor& x, const std::vector<at::Tensor>& ps, const at::Tensor& g) {
  auto o = eafo_operands(x, ps, NUM_PARAMS, &g);
  AT_DISPATCH_FLOATING_TYPES(o.x.scalar_type(), "ACTIVATION_bwd_x", [&] {
    ACTIVATION_bwd_x_k<scalar_t>(o.x.data_ptr<scalar_t>(), o.g.data_ptr<scalar_t>(),
        o.out.data_ptr<scalar_t>(), o.x.numel(), o.params.data());
  });
  return o.out;
}

// eafo-sym template: parameter gradients
std::vector<at::Tensor> ACTIVATION_bwd(
    const at::Tensor& x, const std::vector<at::Tensor>& ps, const at::Tensor& g) {
  auto o = eafo_operands(x, ps, NUM_PARAMS, &g);
  std::array<double, NUM_PARAMS> sums{};
  AT_DISPATCH_FLOATING_TYPES(o.x.scalar_type(), "ACTIVATION_bwd", [&] {
    sums = ACTIVATION_bwd_k<scalar_t>(o.x.data_ptr<scalar_t>(), o.g.data_ptr<scalar_t>(),
        o.out.data_ptr<scalar_t>(), o.x.numel(), o.params.data());
  });
  std::vector<at::Tensor> res{o.out};
  for (int j = 0; j < NUM_PARAMS; ++j) {
    res.push_back(at::scalar_tensor(sums[j], ps[j].options()));
  }
  return res;
}
