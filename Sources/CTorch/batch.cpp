// Batched streams: probing whether a model's state has one row per batch element,
// and swapping one stream's rows in and out around a batched call.

#include "ctorch.h"

#include <torch/script.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "internal.h"

struct tb_batch_state_s {
  std::vector<at::Tensor> buffers;
  std::vector<int64_t> row_numel;
  int64_t rows = 0;
  int64_t row_floats = 0;
};

namespace {

struct Snapshot {
  at::Tensor value;  // a clone
  const void *data;
  std::vector<int64_t> sizes;
};

std::map<std::string, Snapshot> snapshot(const torch::jit::Module &m) {
  std::map<std::string, Snapshot> out;
  for (const auto &b : m.named_buffers(/*recurse=*/true)) {
    out[b.name] = Snapshot{b.value.clone(), b.value.data_ptr(), b.value.sizes().vec()};
  }
  return out;
}

// Plain (non-tensor) attributes that a call could change: ints, floats, bools.
std::map<std::string, c10::IValue> scalars(const torch::jit::Module &m) {
  std::map<std::string, c10::IValue> out;
  for (const auto &a : m.named_attributes(/*recurse=*/true)) {
    if (a.value.isInt() || a.value.isDouble() || a.value.isBool()) out[a.name] = a.value;
  }
  return out;
}

}  // namespace

int tb_module_batch_rows(tb_module m, const char *const *methods, const int64_t *channels,
                         const int64_t *frames, int count, int64_t *rows, char **reason, char **names) {
  PROTECT({
    c10::InferenceMode guard;
    torch::jit::Module probe = m->module.deepcopy();
    *names = nullptr;
    *reason = nullptr;
    auto refuse = [&](const std::string &why) {
      *rows = 1;
      *reason = ctorch_internal::copy_string(why);
      return 0;
    };
    // The candidate row count: the most common first dimension of float buffers of 2+ dimensions.
    std::map<int64_t, int> firsts;
    for (const auto &b : probe.named_buffers(true)) {
      if (b.value.scalar_type() == at::kFloat && b.value.dim() >= 2 && b.value.size(0) >= 2) firsts[b.value.size(0)] += 1;
    }
    int64_t candidate = 0;
    int best = 0;
    for (const auto &entry : firsts) {
      if (entry.second > best) { best = entry.second; candidate = entry.first; }
    }
    auto before = snapshot(probe);
    auto scalarsBefore = scalars(probe);
    at::manual_seed(1);
    for (int i = 0; i < count; ++i) {
      auto method = probe.get_method(methods[i]);
      for (int k = 0; k < 2; ++k) {
        at::Tensor x = at::randn({1, channels[i], frames[i]}) * 0.1;
        method({x});
      }
    }
    auto after = snapshot(probe);
    bool changed = false;
    std::string state;
    for (const auto &entry : before) {
      auto found = after.find(entry.first);
      if (found == after.end()) return refuse("buffer '" + entry.first + "' disappears after a call");
      const Snapshot &a = found->second;
      if (a.sizes != entry.second.sizes || a.data != entry.second.data) {
        return refuse("the calls replace buffer '" + entry.first + "' instead of updating it in place");
      }
      const at::Tensor &old = entry.second.value;
      at::Tensor now = a.value;
      if (old.numel() == 0 || old.equal(now)) continue;
      changed = true;
      if (candidate < 2 || now.scalar_type() != at::kFloat || now.size(0) != candidate) {
        return refuse("state buffer '" + entry.first + "' has no row per batch element");
      }
      if (!old.narrow(0, 1, candidate - 1).equal(now.narrow(0, 1, candidate - 1))) {
        return refuse("a batch-1 call changes rows of '" + entry.first + "' other than the first");
      }
      if (!now.is_contiguous()) return refuse("state buffer '" + entry.first + "' is not contiguous");
      state += (state.empty() ? "" : "\n") + entry.first;
    }
    auto scalarsAfter = scalars(probe);
    for (const auto &entry : scalarsBefore) {
      auto found = scalarsAfter.find(entry.first);
      if (found == scalarsAfter.end() || !(found->second == entry.second)) {
        return refuse("the calls change attribute '" + entry.first + "'");
      }
    }
    for (const auto &entry : after) {
      if (before.find(entry.first) == before.end()) return refuse("the calls add buffer '" + entry.first + "'");
    }
    // A batch of two must go through and come back as two.
    for (int i = 0; i < count; ++i) {
      auto method = probe.get_method(methods[i]);
      at::Tensor x = at::randn({2, channels[i], frames[i]}) * 0.1;
      auto y = method({x});
      if (!y.isTensor() || y.toTensor().dim() < 1 || y.toTensor().size(0) != 2) {
        return refuse(std::string("method '") + methods[i] + "' does not return a batch of two for two inputs");
      }
    }
    *rows = changed ? candidate : 0;
    if (changed) *names = ctorch_internal::copy_string(state);
    return 0;
  })
}

int tb_batch_state_create(tb_module m, int64_t rows, const char *names, tb_batch_state *out) {
  PROTECT({
    TORCH_CHECK(rows >= 2, "a batch state needs at least two rows, not ", rows);
    std::map<std::string, at::Tensor> buffers;
    for (const auto &b : m->module.named_buffers(true)) buffers[b.name] = b.value;
    auto state = std::make_unique<tb_batch_state_s>();
    state->rows = rows;
    std::string list(names);
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find('\n', start);
      if (end == std::string::npos) end = list.size();
      std::string name = list.substr(start, end - start);
      start = end + 1;
      if (name.empty()) continue;
      auto found = buffers.find(name);
      TORCH_CHECK(found != buffers.end(), "no buffer '", name, "'");
      const at::Tensor &t = found->second;
      TORCH_CHECK(t.scalar_type() == at::kFloat && t.dim() >= 1 && t.size(0) == rows && t.is_contiguous(),
                  "buffer '", name, "' is not a contiguous float buffer of ", rows, " rows");
      state->buffers.push_back(t);
      state->row_numel.push_back(t.numel() / rows);
      state->row_floats += t.numel() / rows;
    }
    *out = state.release();
    return 0;
  })
}

void tb_batch_state_free(tb_batch_state s) { delete s; }

int64_t tb_batch_state_row_floats(tb_batch_state s) { return s->row_floats; }

int tb_batch_state_save(tb_batch_state s, int64_t row, float *dst) {
  if (row < 0 || row >= s->rows) {
    ctorch_internal::set_error("state row out of range");
    return -1;
  }
  for (size_t i = 0; i < s->buffers.size(); ++i) {
    const float *src = static_cast<const float *>(s->buffers[i].data_ptr()) + row * s->row_numel[i];
    std::memcpy(dst, src, sizeof(float) * s->row_numel[i]);
    dst += s->row_numel[i];
  }
  return 0;
}

int tb_batch_state_load(tb_batch_state s, int64_t row, const float *src) {
  if (row < 0 || row >= s->rows) {
    ctorch_internal::set_error("state row out of range");
    return -1;
  }
  for (size_t i = 0; i < s->buffers.size(); ++i) {
    float *dst = static_cast<float *>(s->buffers[i].data_ptr()) + row * s->row_numel[i];
    std::memcpy(dst, src, sizeof(float) * s->row_numel[i]);
    src += s->row_numel[i];
  }
  return 0;
}
