// CTorch autograd: tensors with gradients, VAE operations, optimizers,
// checkpoint archives and script modules built from source. Every entry point
// runs inside PROTECT (internal.h) and reports through tb_last_error().

#include "ctorch_autograd.h"
#include "internal.h"

#include <torch/torch.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

struct tb_optimizer_s {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
};
struct tb_archive_s {
  std::unique_ptr<torch::serialize::OutputArchive> output;
  std::unique_ptr<torch::serialize::InputArchive> input;
};

namespace {

std::vector<int64_t> dims_of(const int64_t *dims, int ndim) { return std::vector<int64_t>(dims, dims + ndim); }

int give(at::Tensor t, tb_tensor *out) {
  *out = new tb_tensor_s{std::move(t)};
  return 0;
}

c10::optional<at::Tensor> optional_tensor(tb_tensor t) {
  if (!t) return c10::nullopt;
  return t->tensor;
}

std::vector<at::Tensor> tensor_list(const tb_tensor *params, int count) {
  std::vector<at::Tensor> list;
  list.reserve(count);
  for (int i = 0; i < count; ++i) list.push_back(params[i]->tensor);
  return list;
}

}  // namespace

extern "C" {

void tb_set_grad_enabled(int enabled) {
  try {
    c10::GradMode::set_enabled(enabled != 0);
  } catch (...) {
  }
}

int tb_is_grad_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }

int tb_at_from_floats(const float *data, const int64_t *dims, int ndim, int requires_grad, tb_tensor *out) {
  PROTECT({
    at::Tensor t = at::empty(dims_of(dims, ndim), at::kFloat);
    if (t.numel() > 0) std::memcpy(t.data_ptr<float>(), data, sizeof(float) * t.numel());
    if (requires_grad) t.set_requires_grad(true);
    return give(t, out);
  })
}

int tb_at_from_ints(const int64_t *data, const int64_t *dims, int ndim, tb_tensor *out) {
  PROTECT({
    at::Tensor t = at::empty(dims_of(dims, ndim), at::kLong);
    if (t.numel() > 0) std::memcpy(t.data_ptr<int64_t>(), data, sizeof(int64_t) * t.numel());
    return give(t, out);
  })
}

int tb_at_full(const int64_t *dims, int ndim, double value, tb_tensor *out) {
  PROTECT(return give(at::full(dims_of(dims, ndim), value, at::kFloat), out);)
}

int tb_at_randn(const int64_t *dims, int ndim, tb_tensor *out) {
  PROTECT(return give(at::randn(dims_of(dims, ndim), at::kFloat), out);)
}

int tb_at_rand(const int64_t *dims, int ndim, tb_tensor *out) {
  PROTECT(return give(at::rand(dims_of(dims, ndim), at::kFloat), out);)
}

int tb_at_hann_window(int64_t length, tb_tensor *out) {
  PROTECT(return give(at::hann_window(length, at::kFloat), out);)
}

int tb_at_copy_from(tb_tensor t, const float *data, int64_t count) {
  PROTECT({
    TORCH_CHECK(t->tensor.scalar_type() == at::kFloat, "copy_from needs a float32 tensor");
    TORCH_CHECK(t->tensor.numel() == count, "tensor has ", t->tensor.numel(), " elements, not ", count);
    at::NoGradGuard guard;
    at::Tensor src = at::from_blob(const_cast<float *>(data), t->tensor.sizes(), at::kFloat);
    t->tensor.copy_(src);
    return 0;
  })
}

int tb_at_copy_(tb_tensor dst, tb_tensor src) {
  PROTECT({
    TORCH_CHECK(dst->tensor.sizes() == src->tensor.sizes(), "shape ", src->tensor.sizes(),
                " does not match ", dst->tensor.sizes());
    at::NoGradGuard guard;
    dst->tensor.copy_(src->tensor);
    return 0;
  })
}

int tb_at_clone(tb_tensor t, tb_tensor *out) { PROTECT(return give(t->tensor.clone(), out);) }

int tb_at_detach(tb_tensor t, tb_tensor *out) { PROTECT(return give(t->tensor.detach(), out);) }

int tb_at_set_requires_grad(tb_tensor t, int requires_grad) {
  PROTECT({
    t->tensor.set_requires_grad(requires_grad != 0);
    return 0;
  })
}

int tb_at_requires_grad(tb_tensor t) { return t->tensor.requires_grad() ? 1 : 0; }

int tb_at_numel(tb_tensor t, int64_t *out) {
  PROTECT({
    *out = t->tensor.numel();
    return 0;
  })
}

int tb_at_item(tb_tensor t, double *out) {
  PROTECT({
    *out = t->tensor.item<double>();
    return 0;
  })
}

int tb_at_backward(tb_tensor loss) {
  PROTECT({
    loss->tensor.backward();
    return 0;
  })
}

int tb_at_grad(tb_tensor t, tb_tensor *out) {
  PROTECT({
    const at::Tensor &g = t->tensor.grad();
    *out = g.defined() ? new tb_tensor_s{g.detach()} : nullptr;
    return 0;
  })
}

int tb_at_zero_grad(tb_tensor t) {
  PROTECT({
    auto &g = t->tensor.mutable_grad();
    if (g.defined()) g = at::Tensor();
    return 0;
  })
}

int tb_at_unary(int kind, tb_tensor a, tb_tensor *out) {
  PROTECT({
    const at::Tensor &x = a->tensor;
    at::Tensor y;
    switch (kind) {
      case TB_NEG: y = -x; break;
      case TB_EXP: y = x.exp(); break;
      case TB_LOG: y = x.log(); break;
      case TB_SQRT: y = x.sqrt(); break;
      case TB_ABS: y = x.abs(); break;
      case TB_TANH: y = x.tanh(); break;
      case TB_SIGMOID: y = x.sigmoid(); break;
      case TB_RELU: y = x.relu(); break;
      case TB_SIN: y = x.sin(); break;
      case TB_COS: y = x.cos(); break;
      case TB_SQUARE: y = x.square(); break;
      case TB_SOFTPLUS: y = at::softplus(x); break;
      case TB_GELU: y = at::gelu(x); break;
      case TB_LOG1P: y = x.log1p(); break;
      case TB_RSQRT: y = x.rsqrt(); break;
      case TB_ELU: y = at::elu(x); break;
      case TB_TO_FLOAT: y = x.to(at::kFloat); break;
      case TB_TO_HALF: y = x.to(at::kHalf); break;
      default: TORCH_CHECK(false, "unknown unary operation ", kind);
    }
    return give(y, out);
  })
}

int tb_at_binary(int kind, tb_tensor a, tb_tensor b, tb_tensor *out) {
  PROTECT({
    const at::Tensor &x = a->tensor, &z = b->tensor;
    at::Tensor y;
    switch (kind) {
      case TB_ADD: y = x + z; break;
      case TB_SUB: y = x - z; break;
      case TB_MUL: y = x * z; break;
      case TB_DIV: y = x / z; break;
      case TB_MAXIMUM: y = at::maximum(x, z); break;
      case TB_MINIMUM: y = at::minimum(x, z); break;
      case TB_POW: y = x.pow(z); break;
      case TB_ATAN2: y = at::atan2(x, z); break;
      default: TORCH_CHECK(false, "unknown binary operation ", kind);
    }
    return give(y, out);
  })
}

int tb_at_scalar(int kind, tb_tensor a, double s, tb_tensor *out) {
  PROTECT({
    const at::Tensor &x = a->tensor;
    at::Tensor y;
    switch (kind) {
      case TB_ADD_S: y = x + s; break;
      case TB_MUL_S: y = x * s; break;
      case TB_POW_S: y = x.pow(s); break;
      case TB_CLAMP_MIN_S: y = x.clamp_min(s); break;
      case TB_CLAMP_MAX_S: y = x.clamp_max(s); break;
      case TB_LEAKY_RELU_S: y = at::leaky_relu(x, s); break;
      case TB_RSUB_S: y = s - x; break;
      case TB_GT_S: y = (x > s).to(at::kFloat); break;
      case TB_REMAINDER_S: y = x.remainder(s); break;
      default: TORCH_CHECK(false, "unknown scalar operation ", kind);
    }
    return give(y, out);
  })
}

int tb_at_reduce(int kind, tb_tensor a, const int64_t *dims, int ndims, int keepdim, tb_tensor *out) {
  PROTECT({
    const at::Tensor &x = a->tensor;
    std::vector<int64_t> d = dims_of(dims, ndims);
    bool all = ndims == 0;
    at::Tensor y;
    switch (kind) {
      case TB_SUM: y = all ? x.sum() : x.sum(d, keepdim != 0); break;
      case TB_MEAN: y = all ? x.mean() : x.mean(d, keepdim != 0); break;
      case TB_AMAX: y = x.amax(d, keepdim != 0); break;
      case TB_AMIN: y = x.amin(d, keepdim != 0); break;
      case TB_NORM: y = all ? x.norm() : at::norm(x, 2, d, keepdim != 0); break;
      default: TORCH_CHECK(false, "unknown reduction ", kind);
    }
    return give(y, out);
  })
}

int tb_at_matmul(tb_tensor a, tb_tensor b, tb_tensor *out) { PROTECT(return give(at::matmul(a->tensor, b->tensor), out);) }

int tb_at_linear(tb_tensor x, tb_tensor weight, tb_tensor bias, tb_tensor *out) {
  PROTECT(return give(at::linear(x->tensor, weight->tensor, optional_tensor(bias)), out);)
}

int tb_at_conv1d(tb_tensor x, tb_tensor weight, tb_tensor bias, int64_t stride, int64_t padding,
                 int64_t dilation, int64_t groups, tb_tensor *out) {
  PROTECT(return give(at::conv1d(x->tensor, weight->tensor, optional_tensor(bias), {stride}, {padding},
                                 {dilation}, groups), out);)
}

int tb_at_conv_transpose1d(tb_tensor x, tb_tensor weight, tb_tensor bias, int64_t stride, int64_t padding,
                           int64_t output_padding, int64_t groups, int64_t dilation, tb_tensor *out) {
  PROTECT(return give(at::conv_transpose1d(x->tensor, weight->tensor, optional_tensor(bias), {stride},
                                           {padding}, {output_padding}, groups, {dilation}), out);)
}

int tb_at_conv2d(tb_tensor x, tb_tensor weight, tb_tensor bias, const int64_t *stride, const int64_t *padding,
                 const int64_t *dilation, int64_t groups, tb_tensor *out) {
  PROTECT(return give(at::conv2d(x->tensor, weight->tensor, optional_tensor(bias), dims_of(stride, 2),
                                 dims_of(padding, 2), dims_of(dilation, 2), groups), out);)
}

int tb_at_conv_transpose2d(tb_tensor x, tb_tensor weight, tb_tensor bias, const int64_t *stride,
                           const int64_t *padding, const int64_t *output_padding, int64_t groups,
                           const int64_t *dilation, tb_tensor *out) {
  PROTECT(return give(at::conv_transpose2d(x->tensor, weight->tensor, optional_tensor(bias), dims_of(stride, 2),
                                           dims_of(padding, 2), dims_of(output_padding, 2), groups,
                                           dims_of(dilation, 2)), out);)
}

int tb_at_group_norm(tb_tensor x, int64_t groups, tb_tensor weight, tb_tensor bias, double eps, tb_tensor *out) {
  PROTECT(return give(at::group_norm(x->tensor, groups, optional_tensor(weight), optional_tensor(bias), eps), out);)
}

int tb_at_layer_norm(tb_tensor x, const int64_t *shape, int ndim, tb_tensor weight, tb_tensor bias, double eps,
                     tb_tensor *out) {
  PROTECT(return give(at::layer_norm(x->tensor, dims_of(shape, ndim), optional_tensor(weight),
                                     optional_tensor(bias), eps), out);)
}

int tb_at_reshape(tb_tensor a, const int64_t *dims, int ndim, tb_tensor *out) {
  PROTECT(return give(a->tensor.reshape(dims_of(dims, ndim)), out);)
}

int tb_at_permute(tb_tensor a, const int64_t *dims, int ndim, tb_tensor *out) {
  PROTECT(return give(a->tensor.permute(dims_of(dims, ndim)), out);)
}

int tb_at_transpose(tb_tensor a, int64_t dim0, int64_t dim1, tb_tensor *out) {
  PROTECT(return give(a->tensor.transpose(dim0, dim1), out);)
}

int tb_at_narrow(tb_tensor a, int64_t dim, int64_t start, int64_t length, tb_tensor *out) {
  PROTECT(return give(a->tensor.narrow(dim, start, length), out);)
}

int tb_at_cat(const tb_tensor *tensors, int count, int64_t dim, tb_tensor *out) {
  PROTECT(return give(at::cat(tensor_list(tensors, count), dim), out);)
}

int tb_at_unsqueeze(tb_tensor a, int64_t dim, tb_tensor *out) { PROTECT(return give(a->tensor.unsqueeze(dim), out);) }

int tb_at_squeeze(tb_tensor a, int64_t dim, tb_tensor *out) { PROTECT(return give(a->tensor.squeeze(dim), out);) }

int tb_at_expand(tb_tensor a, const int64_t *dims, int ndim, tb_tensor *out) {
  PROTECT(return give(a->tensor.expand(dims_of(dims, ndim)), out);)
}

int tb_at_index_select(tb_tensor a, int64_t dim, tb_tensor index, tb_tensor *out) {
  PROTECT(return give(a->tensor.index_select(dim, index->tensor), out);)
}

int tb_at_pad(tb_tensor a, const int64_t *pads, int npads, int mode, double value, tb_tensor *out) {
  PROTECT({
    namespace F = torch::nn::functional;
    auto options = F::PadFuncOptions(dims_of(pads, npads));
    switch (mode) {
      case 0: options = options.mode(torch::kConstant).value(value); break;
      case 1: options = options.mode(torch::kReflect); break;
      case 2: options = options.mode(torch::kReplicate); break;
      default: TORCH_CHECK(false, "unknown padding mode ", mode);
    }
    return give(F::pad(a->tensor, options), out);
  })
}

int tb_at_upsample_nearest1d(tb_tensor a, int64_t frames, tb_tensor *out) {
  PROTECT(return give(at::upsample_nearest1d(a->tensor, at::IntArrayRef{frames}, c10::optional<double>()), out);)
}

int tb_at_upsample_linear1d(tb_tensor a, int64_t frames, int align_corners, tb_tensor *out) {
  PROTECT(return give(at::upsample_linear1d(a->tensor, at::IntArrayRef{frames}, align_corners != 0,
                                            c10::optional<double>()), out);)
}

int tb_at_cumsum(tb_tensor a, int64_t dim, int float64, tb_tensor *out) {
  PROTECT(return give(float64 ? a->tensor.cumsum(dim, at::kDouble) : a->tensor.cumsum(dim), out);)
}

int tb_at_stft(tb_tensor x, int64_t n_fft, int64_t hop, tb_tensor window, tb_tensor *out) {
  PROTECT({
    at::Tensor s = at::stft(x->tensor, n_fft, hop, n_fft, optional_tensor(window), /*center=*/true, "reflect",
                            /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
    return give(at::view_as_real(s), out);
  })
}

int tb_at_istft(tb_tensor spec, int64_t n_fft, int64_t hop, tb_tensor window, int64_t length, tb_tensor *out) {
  PROTECT({
    at::Tensor s = at::view_as_complex(spec->tensor.contiguous());
    return give(at::istft(s, n_fft, hop, n_fft, optional_tensor(window), /*center=*/true, /*normalized=*/false,
                          /*onesided=*/true, length, /*return_complex=*/false), out);
  })
}

int tb_opt_adam(const tb_tensor *params, int count, double lr, double beta1, double beta2, double eps,
                double weight_decay, int decoupled, tb_optimizer *out) {
  PROTECT({
    auto list = tensor_list(params, count);
    std::unique_ptr<torch::optim::Optimizer> o;
    if (decoupled) {
      o = std::make_unique<torch::optim::AdamW>(
          list, torch::optim::AdamWOptions(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay));
    } else {
      o = std::make_unique<torch::optim::Adam>(
          list, torch::optim::AdamOptions(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay));
    }
    *out = new tb_optimizer_s{std::move(o)};
    return 0;
  })
}

int tb_opt_step(tb_optimizer o) {
  PROTECT({
    o->optimizer->step();
    return 0;
  })
}

int tb_opt_zero_grad(tb_optimizer o) {
  PROTECT({
    o->optimizer->zero_grad();
    return 0;
  })
}

int tb_opt_set_lr(tb_optimizer o, double lr) {
  PROTECT({
    for (auto &group : o->optimizer->param_groups()) group.options().set_lr(lr);
    return 0;
  })
}

void tb_opt_free(tb_optimizer o) { delete o; }

int tb_clip_grad_norm(const tb_tensor *params, int count, double max_norm, double *total_norm) {
  PROTECT({
    *total_norm = torch::nn::utils::clip_grad_norm_(tensor_list(params, count), max_norm);
    return 0;
  })
}

int tb_archive_new(tb_archive *out) {
  PROTECT({
    auto a = new tb_archive_s;
    a->output = std::make_unique<torch::serialize::OutputArchive>();
    *out = a;
    return 0;
  })
}

int tb_archive_load(const char *path, tb_archive *out) {
  PROTECT({
    auto input = std::make_unique<torch::serialize::InputArchive>();
    input->load_from(std::string(path));
    auto a = new tb_archive_s;
    a->input = std::move(input);
    *out = a;
    return 0;
  })
}

int tb_archive_write_tensor(tb_archive a, const char *name, tb_tensor t) {
  PROTECT({
    TORCH_CHECK(a->output, "archive is open for reading");
    a->output->write(name, t->tensor.detach());
    return 0;
  })
}

int tb_archive_read_tensor(tb_archive a, const char *name, tb_tensor *out) {
  PROTECT({
    TORCH_CHECK(a->input, "archive is open for writing");
    at::Tensor t;
    TORCH_CHECK(a->input->try_read(name, t), "the checkpoint has no tensor '", name, "'");
    return give(t, out);
  })
}

int tb_archive_write_optimizer(tb_archive a, const char *name, tb_optimizer o) {
  PROTECT({
    TORCH_CHECK(a->output, "archive is open for reading");
    torch::serialize::OutputArchive sub;
    o->optimizer->save(sub);
    a->output->write(name, sub);
    return 0;
  })
}

int tb_archive_read_optimizer(tb_archive a, const char *name, tb_optimizer o) {
  PROTECT({
    TORCH_CHECK(a->input, "archive is open for writing");
    torch::serialize::InputArchive sub;
    TORCH_CHECK(a->input->try_read(name, sub), "the checkpoint has no optimizer state '", name, "'");
    o->optimizer->load(sub);
    return 0;
  })
}

int tb_archive_save(tb_archive a, const char *path) {
  PROTECT({
    TORCH_CHECK(a->output, "archive is open for reading");
    a->output->save_to(std::string(path));
    return 0;
  })
}

void tb_archive_free(tb_archive a) { delete a; }

int tb_script_new(const char *class_name, tb_module *out) {
  PROTECT({
    *out = new tb_module_s{torch::jit::Module(c10::QualifiedName(std::string("__torch__.") + class_name))};
    return 0;
  })
}

int tb_script_register_tensor(tb_module m, const char *name, tb_tensor t, int kind) {
  PROTECT({
    at::Tensor v = t->tensor.detach().clone();
    if (kind == 0) m->module.register_parameter(name, v, false);
    else m->module.register_buffer(name, v);
    return 0;
  })
}

int tb_script_register_int(tb_module m, const char *name, int64_t value) {
  PROTECT({
    m->module.register_attribute(name, c10::IntType::get(), value);
    return 0;
  })
}

int tb_script_register_string_list(tb_module m, const char *name, const char *const *values, int count) {
  PROTECT({
    c10::List<std::string> list;
    for (int i = 0; i < count; ++i) list.push_back(values[i]);
    m->module.register_attribute(name, c10::ListType::ofStrings(), list);
    return 0;
  })
}

int tb_script_define(tb_module m, const char *source) {
  PROTECT({
    m->module.define(std::string(source));
    return 0;
  })
}

int tb_script_call(tb_module m, const char *method, const tb_tensor *args, int count, tb_tensor *out) {
  PROTECT({
    auto found = m->module.find_method(method);
    TORCH_CHECK(found.has_value(), "the module has no method '", method, "'");
    std::vector<c10::IValue> values;
    for (int i = 0; i < count; ++i) values.emplace_back(args[i]->tensor);
    c10::IValue result = (*found)(values);
    TORCH_CHECK(result.isTensor(), "method '", method, "' returned ", result.tagKind(), ", not a tensor");
    return give(result.toTensor(), out);
  })
}

}  // extern "C"
