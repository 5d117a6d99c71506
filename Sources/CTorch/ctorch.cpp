// CTorch: the only C++ in timbre. Every entry point runs its body inside
// PROTECT, which catches every exception and stores its message.

#include "ctorch.h"

#include <torch/script.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <unordered_map>

// The handle structs, the thread-local last error and PROTECT are shared with
// autograd.cpp through internal.h.
#include "internal.h"

namespace ctorch_internal {
thread_local std::string last_error;
}

using ctorch_internal::last_error;
using ctorch_internal::copy_string;
using ctorch_internal::set_error;

namespace {

void json_string(std::ostringstream &os, const std::string &s) {
  os << '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': os << "\\\""; break;
      case '\\': os << "\\\\"; break;
      case '\n': os << "\\n"; break;
      case '\r': os << "\\r"; break;
      case '\t': os << "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          os << buf;
        } else {
          os << c;
        }
    }
  }
  os << '"';
}

void json_double(std::ostringstream &os, double v) {
  if (std::isfinite(v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    os << buf;
  } else {
    os << "null";
  }
}

// Tensors render with their shape and dtype; values only when small, so a
// description never dumps a weight matrix.
void json_tensor(std::ostringstream &os, const at::Tensor &t) {
  os << "{\"shape\":[";
  for (int64_t i = 0; i < t.dim(); ++i) os << (i ? "," : "") << t.size(i);
  os << "],\"dtype\":";
  json_string(os, std::string(c10::toString(t.scalar_type())));
  if (t.numel() <= 64) {
    os << ",\"values\":[";
    auto flat = t.detach().reshape({-1}).to(at::kDouble).contiguous();
    const double *p = flat.data_ptr<double>();
    for (int64_t i = 0; i < flat.numel(); ++i) {
      if (i) os << ",";
      if (t.scalar_type() == at::kBool || c10::isIntegralType(t.scalar_type(), true))
        os << static_cast<long long>(p[i]);
      else
        json_double(os, p[i]);
    }
    os << "]";
  }
  os << "}";
}

void json_ivalue(std::ostringstream &os, const c10::IValue &v) {
  if (v.isNone()) {
    os << "null";
  } else if (v.isBool()) {
    os << (v.toBool() ? "true" : "false");
  } else if (v.isInt()) {
    os << v.toInt();
  } else if (v.isDouble()) {
    json_double(os, v.toDouble());
  } else if (v.isString()) {
    json_string(os, v.toStringRef());
  } else if (v.isTensor()) {
    json_tensor(os, v.toTensor());
  } else if (v.isList()) {
    os << "[";
    auto list = v.toListRef();
    for (size_t i = 0; i < list.size(); ++i) {
      if (i) os << ",";
      json_ivalue(os, list[i]);
    }
    os << "]";
  } else if (v.isTuple()) {
    os << "[";
    const auto &elements = v.toTupleRef().elements();
    for (size_t i = 0; i < elements.size(); ++i) {
      if (i) os << ",";
      json_ivalue(os, elements[i]);
    }
    os << "]";
  } else if (v.isGenericDict()) {
    os << "{";
    bool first = true;
    for (const auto &entry : v.toGenericDict()) {
      if (!first) os << ",";
      first = false;
      std::ostringstream key;
      json_ivalue(key, entry.key());
      std::string k = key.str();
      if (k.empty() || k[0] != '"') json_string(os, k); else os << k;
      os << ":";
      json_ivalue(os, entry.value());
    }
    os << "}";
  } else if (v.isModule() || v.isObject()) {
    json_string(os, "<object " + v.type()->str() + ">");
  } else {
    json_string(os, "<" + v.tagKind() + ">");
  }
}

std::string render(const c10::IValue &v) {
  std::ostringstream os;
  json_ivalue(os, v);
  return os.str();
}

at::Tensor input_tensor(const float *input, int64_t batch, int64_t channels, int64_t frames) {
  TORCH_CHECK(batch > 0 && channels > 0 && frames > 0, "input shape [", batch, ", ", channels, ", ",
              frames, "] has an empty dimension");
  at::Tensor x = at::empty({batch, channels, frames}, at::kFloat);
  std::memcpy(x.data_ptr<float>(), input, sizeof(float) * batch * channels * frames);
  return x;
}

at::Tensor checked_output(const c10::IValue &result, const std::string &name) {
  TORCH_CHECK(result.isTensor(), "method '", name, "' returned ", result.tagKind(), ", not a tensor");
  at::Tensor y = result.toTensor();
  TORCH_CHECK(y.dim() == 3, "method '", name, "' returned a tensor of ", y.dim(),
              " dimensions; nn~ models return [batch, channels, frames]");
  if (y.scalar_type() != at::kFloat) y = y.to(at::kFloat);
  return y.contiguous();
}

}  // namespace

extern "C" {

const char *tb_last_error(void) { return last_error.c_str(); }

void tb_string_free(char *s) { std::free(s); }

void tb_set_num_threads(int n) {
  try {
    at::set_num_threads(n < 1 ? 1 : n);
  } catch (...) {
  }
}

int tb_get_num_threads(void) {
  try {
    return at::get_num_threads();
  } catch (...) {
    return 1;
  }
}

int tb_set_num_interop_threads(int n) {
  PROTECT(at::set_num_interop_threads(n < 1 ? 1 : n); return 0;)
}

int tb_get_num_interop_threads(void) {
  try {
    return at::get_num_interop_threads();
  } catch (...) {
    return 1;
  }
}

void tb_manual_seed(uint64_t seed) {
  try {
    torch::manual_seed(seed);
  } catch (...) {
  }
}

const char *tb_version(void) { return TORCH_VERSION; }

int tb_module_load(const char *path, tb_module *out) {
  PROTECT({
    auto module = torch::jit::load(std::string(path), at::kCPU);
    module.eval();
    *out = new tb_module_s{std::move(module)};
    return 0;
  })
}

int tb_module_deepcopy(tb_module m, tb_module *out) {
  PROTECT({
    *out = new tb_module_s{m->module.deepcopy()};
    return 0;
  })
}

// A deep copy whose parameters are the original's tensors: every buffer (streaming
// caches included) and plain attribute is its own, the weights are shared. Instances
// of one model then read the same weights, which stay in the shared cache while
// several of them run (inference never writes parameters).
int tb_module_instance_sharing_parameters(tb_module m, tb_module *out) {
  PROTECT({
    // The parameters go into the deep copy's memo as themselves, so they are never copied:
    // copying every weight only to replace it below cost a transient copy of the model (39 MB
    // for a v2_small RAVE) per instance, which glibc's heap kept as resident memory after
    // live swaps. Buffers and attributes (a stream's state) are still copied.
    c10::IValue::HashAliasedIValueMap memo;
    for (const auto &parameter : m->module.parameters(/*recurse=*/true)) {
      memo[c10::IValue(parameter)] = c10::IValue(parameter);
    }
    torch::jit::Module copy(m->module._ivalue()->deepcopy(memo));
    // Kept as the guarantee (a parameter the memo missed would be a copy here).
    std::unordered_map<std::string, torch::jit::Module> originals;
    for (const auto &entry : m->module.named_modules()) originals.emplace(entry.name, entry.value);
    for (const auto &entry : copy.named_modules()) {
      auto found = originals.find(entry.name);
      if (found == originals.end()) continue;
      torch::jit::Module sub = entry.value;
      for (const auto &parameter : sub.named_parameters(/*recurse=*/false)) {
        sub.setattr(parameter.name, found->second.attr(parameter.name));
      }
    }
    *out = new tb_module_s{std::move(copy)};
    return 0;
  })
}

int tb_module_parameters_shared(tb_module a, tb_module b) {
  try {
    auto pa = a->module.named_parameters(true), pb = b->module.named_parameters(true);
    if (pa.size() != pb.size()) return 0;
    auto ia = pa.begin();
    for (auto ib = pb.begin(); ib != pb.end(); ++ia, ++ib) {
      if ((*ia).name != (*ib).name || !(*ia).value.is_same((*ib).value)) return 0;
    }
    return 1;
  } catch (...) {
    return 0;
  }
}

int tb_module_save(tb_module m, const char *path) {
  PROTECT({
    m->module.save(std::string(path));
    return 0;
  })
}

void tb_module_free(tb_module m) { delete m; }

int tb_module_method_names(tb_module m, char **out) {
  PROTECT({
    std::string names;
    for (const auto &method : m->module.get_methods()) {
      if (!names.empty()) names += "\n";
      names += method.name();
    }
    *out = copy_string(names);
    return 0;
  })
}

int tb_module_attribute_names(tb_module m, char **out) {
  PROTECT({
    std::string names;
    auto type = m->module.type();
    for (size_t i = 0; i < type->numAttributes(); ++i) {
      if (!names.empty()) names += "\n";
      names += type->getAttributeName(i);
    }
    *out = copy_string(names);
    return 0;
  })
}

int tb_module_has_method(tb_module m, const char *name) {
  PROTECT(return m->module.find_method(name).has_value() ? 1 : 0;)
}

int tb_module_has_attribute(tb_module m, const char *name) {
  PROTECT(return m->module.hasattr(name) ? 1 : 0;)
}

int tb_module_attribute_json(tb_module m, const char *name, char **out) {
  PROTECT({
    TORCH_CHECK(m->module.hasattr(name), "the model has no attribute '", name, "'");
    *out = copy_string(render(m->module.attr(name)));
    return 0;
  })
}

int tb_module_call_json(tb_module m, const char *method, char **out) {
  PROTECT({
    auto found = m->module.find_method(method);
    TORCH_CHECK(found.has_value(), "the model has no method '", method, "'");
    c10::InferenceMode guard;
    *out = copy_string(render((*found)(std::vector<c10::IValue>{})));
    return 0;
  })
}

int tb_module_call_scalars_json(tb_module m, const char *method, const char *const *args,
                                const int *kinds, int count, char **out) {
  PROTECT({
    auto found = m->module.find_method(method);
    TORCH_CHECK(found.has_value(), "the model has no method '", method, "'");
    std::vector<c10::IValue> values;
    for (int i = 0; i < count; ++i) {
      std::string text(args[i]);
      switch (kinds[i]) {
        case 0: {
          bool v;
          if (text == "true" || text == "1" || text == "True") v = true;
          else if (text == "false" || text == "0" || text == "False") v = false;
          else TORCH_CHECK(false, "'", text, "' is not a bool (true/false/1/0)");
          values.emplace_back(v);
          break;
        }
        case 1: {
          size_t used = 0;
          long long v = std::stoll(text, &used);
          TORCH_CHECK(used == text.size(), "'", text, "' is not an integer");
          values.emplace_back(static_cast<int64_t>(v));
          break;
        }
        case 2: {
          size_t used = 0;
          double v = std::stod(text, &used);
          TORCH_CHECK(used == text.size(), "'", text, "' is not a number");
          values.emplace_back(v);
          break;
        }
        case 3:
          values.emplace_back(text);
          break;
        default:
          TORCH_CHECK(false, "argument ", i, " has an unsupported type code ", kinds[i]);
      }
    }
    c10::InferenceMode guard;
    *out = copy_string(render((*found)(values)));
    return 0;
  })
}

int tb_method_get(tb_module m, const char *name, tb_method *out) {
  PROTECT({
    auto found = m->module.find_method(name);
    TORCH_CHECK(found.has_value(), "the model has no method '", name, "'");
    *out = new tb_method_s{m->module, *found};
    return 0;
  })
}

void tb_method_free(tb_method f) { delete f; }

int tb_method_call(tb_method f, const float *input, int64_t batch, int64_t channels,
                   int64_t frames, tb_tensor *out) {
  PROTECT({
    c10::InferenceMode guard;
    at::Tensor x = input_tensor(input, batch, channels, frames);
    auto y = checked_output(f->method({x}), f->method.name());
    *out = new tb_tensor_s{std::move(y)};
    return 0;
  })
}

int tb_method_call_into(tb_method f, const float *input, int64_t batch, int64_t channels,
                        int64_t frames, float *output, int64_t capacity, int64_t out_dims[3]) {
  PROTECT({
    c10::InferenceMode guard;
    at::Tensor x = input_tensor(input, batch, channels, frames);
    auto y = checked_output(f->method({x}), f->method.name());
    for (int i = 0; i < 3; ++i) out_dims[i] = y.size(i);
    TORCH_CHECK(y.numel() <= capacity, "method '", f->method.name(), "' returned ", y.numel(),
                " values, more than the ", capacity, " the output buffer holds");
    std::memcpy(output, y.data_ptr<float>(), sizeof(float) * y.numel());
    return 0;
  })
}

void tb_tensor_free(tb_tensor t) { delete t; }

int tb_tensor_ndim(tb_tensor t) { return static_cast<int>(t->tensor.dim()); }

int64_t tb_tensor_size(tb_tensor t, int dim) {
  if (dim < 0 || dim >= t->tensor.dim()) return -1;
  return t->tensor.size(dim);
}

int tb_tensor_copy_to(tb_tensor t, float *dst, int64_t count) {
  PROTECT({
    at::Tensor x = t->tensor;
    if (x.scalar_type() != at::kFloat) x = x.to(at::kFloat);
    x = x.contiguous();
    TORCH_CHECK(x.numel() == count, "tensor has ", x.numel(), " elements, not ", count);
    std::memcpy(dst, x.data_ptr<float>(), sizeof(float) * count);
    return 0;
  })
}

int tb_bench_baseline(tb_module m, const char *method, const float *input, int64_t channels,
                      int64_t frames, int iterations, double *seconds) {
  PROTECT({
    c10::InferenceMode guard;
    at::Tensor x = at::empty({1, channels, frames}, at::kFloat);
    std::memcpy(x.data_ptr<float>(), input, sizeof(float) * channels * frames);
    auto f = m->module.get_method(method);
    for (int i = 0; i < iterations; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto y = f({x});
      auto end = std::chrono::steady_clock::now();
      seconds[i] = std::chrono::duration<double>(end - start).count();
    }
    return 0;
  })
}

}  // extern "C"
