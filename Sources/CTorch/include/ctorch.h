/*
 * CTorch: a thin C interface over libtorch (TorchScript modules and tensors).
 *
 * Every function catches every C++ exception. Functions that can fail return
 * 0 on success and -1 on failure; the message is then kept in a thread-local
 * slot that `tb_last_error()` returns (valid until the next call on this
 * thread). Swift's runtime cannot unwind C++ exceptions, so nothing may
 * escape this layer. Names are grouped by prefix, after tch-rs:
 *   tb_       global settings (threads, random seed)
 *   tb_module_ script modules
 *   tb_method_ compiled methods looked up once and called many times
 *   tb_tensor_ tensors returned by methods
 *   tb_bench_  the bare libtorch baseline used by `timbre bench inference`
 */
#ifndef TIMBRE_CTORCH_H
#define TIMBRE_CTORCH_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_module_s *tb_module;
typedef struct tb_method_s *tb_method;
typedef struct tb_tensor_s *tb_tensor;

/* Last error on this thread, or "" when none. */
const char *tb_last_error(void);
/* Frees a string returned through a `char **` out parameter. */
void tb_string_free(char *s);

/* Global settings. */
void tb_set_num_threads(int n);
int tb_get_num_threads(void);
/* Fails once any inter-op work has started (libtorch allows setting it once). */
int tb_set_num_interop_threads(int n);
int tb_get_num_interop_threads(void);
void tb_manual_seed(uint64_t seed);
/* libtorch version, e.g. "1.13.0". */
const char *tb_version(void);

/* Modules. */
int tb_module_load(const char *path, tb_module *out);
/* An independent copy: parameters and buffers (streaming state) are copied. */
int tb_module_deepcopy(tb_module m, tb_module *out);
/* Like tb_module_deepcopy, but the copy's parameters are the original's tensors (shared, read-only during inference). */
int tb_module_instance_sharing_parameters(tb_module m, tb_module *out);
/* 1 when both modules hold the same parameter tensors (same names, same tensors), else 0. */
int tb_module_parameters_shared(tb_module a, tb_module b);
int tb_module_save(tb_module m, const char *path);
void tb_module_free(tb_module m);
/* Names of every compiled method, separated by '\n'. */
int tb_module_method_names(tb_module m, char **out);
/* Names of every attribute (parameters, buffers, plain attributes), '\n'-separated. */
int tb_module_attribute_names(tb_module m, char **out);
/* 1 when present, 0 when not, -1 on error. */
int tb_module_has_method(tb_module m, const char *name);
int tb_module_has_attribute(tb_module m, const char *name);
/* An attribute's value rendered as JSON (tensors as {"shape":[..],"dtype":"..","values":[..]}). */
int tb_module_attribute_json(tb_module m, const char *name, char **out);
/* Calls a method with no arguments; the result rendered as JSON. */
int tb_module_call_json(tb_module m, const char *method, char **out);
/* Calls a method with scalar arguments given as text, each converted per its
 * kind (nn_tilde's type codes: 0 bool, 1 int, 2 float, 3 str); result as JSON. */
int tb_module_call_scalars_json(tb_module m, const char *method, const char *const *args,
                                const int *kinds, int count, char **out);

/* Methods: looked up once, called many times. */
int tb_method_get(tb_module m, const char *name, tb_method *out);
void tb_method_free(tb_method f);
/* Runs the method on a [batch, channels, frames] float input (copied once into a
 * tensor) under inference mode. The output is checked to be a 3-D tensor; it is
 * returned as a handle to read its shape and copy it out once. */
int tb_method_call(tb_method f, const float *input, int64_t batch, int64_t channels,
                   int64_t frames, tb_tensor *out);
/* The same, copying a 3-D output straight into `output` when it holds at most
 * `capacity` floats; `out_dims` receives its shape. */
int tb_method_call_into(tb_method f, const float *input, int64_t batch, int64_t channels,
                        int64_t frames, float *output, int64_t capacity, int64_t out_dims[3]);

/* Batched streams (several nodes of one model in one call). A streaming export such
 * as RAVE's keeps its state in buffers with one row per batch element (cached_conv
 * allocates 64 and uses the first `batch`), so one instance can run several
 * independent streams, each stream's state swapped into a row around the call.
 *
 * tb_module_batch_rows probes a throwaway copy: every `count` methods (name,
 * input channels, frames) is called twice on noise at batch 1 and once at batch 2.
 * `*rows` receives the rows a batched call may use: the first dimension of the
 * state buffers when every buffer the calls change is a float buffer of that many
 * rows (only row 0 changed, updated in place), with their names in `*names`
 * ('\n'-separated: the stream's state); 0 when the calls change no state at all
 * (any batch works); 1 when the model cannot batch, with the reason in `*reason`.
 * Free both strings with tb_string_free. */
int tb_module_batch_rows(tb_module m, const char *const *methods, const int64_t *channels,
                         const int64_t *frames, int count, int64_t *rows, char **reason, char **names);
typedef struct tb_batch_state_s *tb_batch_state;
/* The named float buffers of `m` (contiguous, first dimension `rows`), in the order given. */
int tb_batch_state_create(tb_module m, int64_t rows, const char *names, tb_batch_state *out);
void tb_batch_state_free(tb_batch_state s);
/* Floats one row holds over all the state buffers. */
int64_t tb_batch_state_row_floats(tb_batch_state s);
/* Copies row `row` of every state buffer to `dst` / from `src` (row_floats floats). */
int tb_batch_state_save(tb_batch_state s, int64_t row, float *dst);
int tb_batch_state_load(tb_batch_state s, int64_t row, const float *src);

/* Tensors. */
void tb_tensor_free(tb_tensor t);
int tb_tensor_ndim(tb_tensor t);
int64_t tb_tensor_size(tb_tensor t, int dim);
/* Copies all elements, converted to float32 in C order, into dst (count floats). */
int tb_tensor_copy_to(tb_tensor t, float *dst, int64_t count);

/* The baseline for `timbre bench inference`: a plain loop that calls
 * get_method(name) on the module with a preallocated input tensor of
 * [1, channels, frames] zeros... filled with the given samples, under inference
 * mode, `iterations` times; each call's wall time in seconds goes to `seconds`. */
int tb_bench_baseline(tb_module m, const char *method, const float *input, int64_t channels,
                      int64_t frames, int iterations, double *seconds);

#ifdef __cplusplus
}
#endif

/* Autograd tensors, optimizers, archives and assembled script modules (training, export). */
#include "ctorch_autograd.h"

#endif
