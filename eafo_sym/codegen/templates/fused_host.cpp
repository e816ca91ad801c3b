// The functions torch calls for one activation: the operators' CPU kernels (checks, dtype
// dispatch, allocation), their meta kernels (shapes only, for fake tensors and tracing) and their
// autograd. ``eafo-sym codegen --backend cpp`` pastes these sections into eafo_sym/csrc/fused.cpp
// once per activation (eafo_sym.codegen.assemblers.cpp), with these words replaced:
//
//   ACTIVATION    the registry name (crrelu), the operators' name stem
//   CLASS_NAME    the module's class name (CRReLU), for messages
//   NUM_PARAMS    the number of parameters
//   , PARAM_DECLS the parameters as arguments (", const at::Tensor& epsilon"), or nothing
//   , PARAM_NAMES the parameters' names (", epsilon"), or nothing
//   , SAVED_PARAMS the saved parameters (", s[1]"), or nothing
//   PARAM_LIST    the parameters' names ("epsilon"), or nothing
//   GRAD_TYPES    one "at::Tensor" per gradient (input and parameters)
//   NEEDS_PARAM_GRADS  whether a parameter needs its gradient ("ctx->needs_input_grad(1)")
//   , UNDEFINED_PARAM_GRADS  one ", at::Tensor()" per parameter
//   BACKWARD_BODY the section "backward with parameters" or "backward without parameters"
//
// The sections "parameter gradients" and "backward autograd with parameters" are pasted only
// where the activation has parameters.

// eafo-sym template: forward
at::Tensor ACTIVATION_forward(const at::Tensor& x, PARAM_DECLS) {
  auto o = eafo_operands(x, nullptr, {PARAM_LIST});
  AT_DISPATCH_FLOATING_TYPES(o.x.scalar_type(), "ACTIVATION", [&] {
    ACTIVATION_fwd_k<scalar_t>(
        o.x.data_ptr<scalar_t>(), o.out.data_ptr<scalar_t>(), o.x.numel(), o.params.data());
  });
  return o.out;
}

at::Tensor ACTIVATION_backward_input(const at::Tensor& grad, const at::Tensor& x, PARAM_DECLS) {
  auto o = eafo_operands(x, &grad, {PARAM_LIST});
  AT_DISPATCH_FLOATING_TYPES(o.x.scalar_type(), "ACTIVATION_backward_input", [&] {
    ACTIVATION_bwd_x_k<scalar_t>(o.x.data_ptr<scalar_t>(), o.g.data_ptr<scalar_t>(),
        o.out.data_ptr<scalar_t>(), o.x.numel(), o.params.data());
  });
  return o.out;
}

at::Tensor ACTIVATION_meta(const at::Tensor& x, PARAM_DECLS) {
  return at::empty_like(x);
}

at::Tensor ACTIVATION_backward_input_meta(
    const at::Tensor& grad, const at::Tensor& x, PARAM_DECLS) {
  return at::empty_like(x);
}

// eafo-sym template: parameter gradients
std::tuple<GRAD_TYPES> ACTIVATION_backward(
    const at::Tensor& grad, const at::Tensor& x, PARAM_DECLS) {
  auto o = eafo_operands(x, &grad, {PARAM_LIST});
  std::array<double, NUM_PARAMS> sums{};
  AT_DISPATCH_FLOATING_TYPES(o.x.scalar_type(), "ACTIVATION_backward", [&] {
    sums = ACTIVATION_bwd_k<scalar_t>(o.x.data_ptr<scalar_t>(), o.g.data_ptr<scalar_t>(),
        o.out.data_ptr<scalar_t>(), o.x.numel(), o.params.data());
  });
  const std::array<at::Tensor, NUM_PARAMS> ps{PARAM_LIST};
  std::array<at::Tensor, NUM_PARAMS> gs;
  for (int j = 0; j < NUM_PARAMS; ++j) {
    gs[j] = at::scalar_tensor(sums[j], ps[j].options());
  }
  return std::tuple_cat(std::make_tuple(o.out), gs);
}

std::tuple<GRAD_TYPES> ACTIVATION_backward_meta(
    const at::Tensor& grad, const at::Tensor& x, PARAM_DECLS) {
  const std::array<at::Tensor, NUM_PARAMS> ps{PARAM_LIST};
  std::array<at::Tensor, NUM_PARAMS> gs;
  for (int j = 0; j < NUM_PARAMS; ++j) {
    gs[j] = at::empty_like(ps[j]);
  }
  return std::tuple_cat(std::make_tuple(at::empty_like(x)), gs);
}

// eafo-sym template: autograd
// The backward calls the backward operators below autograd (one dispatch each) unless a graph
// of the backward is being recorded (create_graph=True); then they go through their own autograd,
// which refuses to be differentiated again.
struct ACTIVATION_function : public torch::autograd::Function<ACTIVATION_function> {
  static at::Tensor forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& x, PARAM_DECLS) {
    ctx->save_for_backward({x, PARAM_NAMES});
    at::AutoDispatchBelowADInplaceOrView below;
    static const auto op = eafo_op<at::Tensor(const at::Tensor&, PARAM_DECLS)>("eafo_sym::ACTIVATION");
    return op.call(x, PARAM_NAMES);
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const bool record = c10::GradMode::is_enabled();
    std::optional<at::AutoDispatchBelowADInplaceOrView> below;
    if (!record) {
      below.emplace();
    }
    BACKWARD_BODY
  }
};

// eafo-sym template: backward without parameters
    static const auto op = eafo_op<at::Tensor(const at::Tensor&, const at::Tensor&)>(
        "eafo_sym::ACTIVATION_backward_input");
    return {op.call(grads[0], s[0])};

// eafo-sym template: backward with parameters
    if (NEEDS_PARAM_GRADS) {
      static const auto op = eafo_op<std::tuple<GRAD_TYPES>(
          const at::Tensor&, const at::Tensor&, PARAM_DECLS)>("eafo_sym::ACTIVATION_backward");
      return eafo_list(op.call(grads[0], s[0], SAVED_PARAMS));
    }
    static const auto op = eafo_op<at::Tensor(const at::Tensor&, const at::Tensor&, PARAM_DECLS)>(
        "eafo_sym::ACTIVATION_backward_input");
    return {op.call(grads[0], s[0], SAVED_PARAMS), UNDEFINED_PARAM_GRADS};

// eafo-sym template: backward autograd
// The backward operators are differentiable once: their own backward says what to use instead.
[[noreturn]] inline void ACTIVATION_no_double_backward() {
  TORCH_CHECK(false,
      "eafo_sym.fused.CLASS_NAME: the fused kernels have no second derivative; for gradients "
      "of gradients (create_graph=True, then backward again) use eafo_sym.nn.CLASS_NAME");
}

struct ACTIVATION_backward_input_function
    : public torch::autograd::Function<ACTIVATION_backward_input_function> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& grad,
                            const at::Tensor& x, PARAM_DECLS) {
    at::AutoDispatchBelowADInplaceOrView below;
    static const auto op = eafo_op<at::Tensor(const at::Tensor&, const at::Tensor&, PARAM_DECLS)>(
        "eafo_sym::ACTIVATION_backward_input");
    return op.call(grad, x, PARAM_NAMES);
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    ACTIVATION_no_double_backward();
  }
};

at::Tensor ACTIVATION_autograd(const at::Tensor& x, PARAM_DECLS) {
  return ACTIVATION_function::apply(x, PARAM_NAMES);
}

at::Tensor ACTIVATION_backward_input_autograd(
    const at::Tensor& grad, const at::Tensor& x, PARAM_DECLS) {
  return ACTIVATION_backward_input_function::apply(grad, x, PARAM_NAMES);
}

// eafo-sym template: backward autograd with parameters
struct ACTIVATION_backward_function
    : public torch::autograd::Function<ACTIVATION_backward_function> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
      const at::Tensor& grad, const at::Tensor& x, PARAM_DECLS) {
    at::AutoDispatchBelowADInplaceOrView below;
    static const auto op = eafo_op<std::tuple<GRAD_TYPES>(
        const at::Tensor&, const at::Tensor&, PARAM_DECLS)>("eafo_sym::ACTIVATION_backward");
    return eafo_list(op.call(grad, x, PARAM_NAMES));
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    ACTIVATION_no_double_backward();
  }
};

std::tuple<GRAD_TYPES> ACTIVATION_backward_autograd(
    const at::Tensor& grad, const at::Tensor& x, PARAM_DECLS) {
  return eafo_tuple<NUM_PARAMS + 1>(ACTIVATION_backward_function::apply(grad, x, PARAM_NAMES));
}
