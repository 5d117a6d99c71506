// Shared by the shim's C++ files (not part of the public C interface): the
// handle structs, the thread-local last error, and PROTECT, so that every
// entry point in every file reports through the same tb_last_error().
#ifndef TIMBRE_CTORCH_INTERNAL_H
#define TIMBRE_CTORCH_INTERNAL_H

#include <torch/script.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

struct tb_module_s {
  torch::jit::Module module;
};
struct tb_method_s {
  torch::jit::Module module;  // keeps the owner alive while the method is used
  torch::jit::Method method;
};
struct tb_tensor_s {
  at::Tensor tensor;
};

namespace ctorch_internal {

// One slot per thread, defined in ctorch.cpp.
extern thread_local std::string last_error;

inline void set_error(const std::string &message) {
  last_error = message.empty() ? "unknown libtorch error" : message;
}

// A malloc'd copy for a `char **` out parameter (freed by tb_string_free).
inline char *copy_string(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

}  // namespace ctorch_internal

// Runs a body that returns on success; any exception becomes the thread's last
// error and the entry point returns -1. Swift cannot unwind C++ exceptions.
#define PROTECT(...)                                          \
  try {                                                        \
    ctorch_internal::last_error.clear();                       \
    __VA_ARGS__                                                \
  } catch (const c10::Error &e) {                              \
    ctorch_internal::set_error(e.what_without_backtrace());    \
  } catch (const std::exception &e) {                          \
    ctorch_internal::set_error(e.what());                      \
  } catch (...) {                                              \
    ctorch_internal::set_error("unknown C++ exception");       \
  }                                                            \
  return -1;

#endif
