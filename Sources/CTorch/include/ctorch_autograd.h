/*
 * CTorch autograd: tensors that carry gradients, the operations a convolutional
 * VAE needs, Adam/AdamW, gradient clipping, checkpoint archives, and script
 * modules built from TorchScript source (for export).
 *
 * Same rules as ctorch.h: every function catches every C++ exception; those
 * that can fail return 0 on success and -1 on failure with the message in
 * tb_last_error(). Tensors are `tb_tensor` handles (free with tb_tensor_free);
 * every operation returns a NEW handle through `out`, tch-rs style. Prefixes:
 *   tb_at_      tensor creation, operations, autograd
 *   tb_opt_     optimizers
 *   tb_archive_ checkpoint files (named tensors and optimizer state)
 *   tb_script_  modules assembled in C++ from TorchScript source
 */
#ifndef TIMBRE_CTORCH_AUTOGRAD_H
#define TIMBRE_CTORCH_AUTOGRAD_H

#include "ctorch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_optimizer_s *tb_optimizer;
typedef struct tb_archive_s *tb_archive;

/* Gradient recording (thread-local, like torch.set_grad_enabled). */
void tb_set_grad_enabled(int enabled);
int tb_is_grad_enabled(void);

/* Creation. float32 unless stated. */
int tb_at_from_floats(const float *data, const int64_t *dims, int ndim, int requires_grad, tb_tensor *out);
int tb_at_from_ints(const int64_t *data, const int64_t *dims, int ndim, tb_tensor *out); /* int64 */
int tb_at_full(const int64_t *dims, int ndim, double value, tb_tensor *out);
/* Draws from libtorch's global generator (seed with tb_manual_seed). */
int tb_at_randn(const int64_t *dims, int ndim, tb_tensor *out);
int tb_at_rand(const int64_t *dims, int ndim, tb_tensor *out);
int tb_at_hann_window(int64_t length, tb_tensor *out); /* periodic, as torch.hann_window */
/* Overwrites t's values in place, without recording (count must equal numel). */
int tb_at_copy_from(tb_tensor t, const float *data, int64_t count);
int tb_at_copy_(tb_tensor dst, tb_tensor src);
int tb_at_clone(tb_tensor t, tb_tensor *out);
int tb_at_detach(tb_tensor t, tb_tensor *out);
int tb_at_set_requires_grad(tb_tensor t, int requires_grad);
int tb_at_requires_grad(tb_tensor t); /* 1, 0 */
int tb_at_numel(tb_tensor t, int64_t *out);
int tb_at_item(tb_tensor t, double *out);

/* Autograd. */
int tb_at_backward(tb_tensor loss);
/* The accumulated gradient; *out is NULL when t has none yet. */
int tb_at_grad(tb_tensor t, tb_tensor *out);
int tb_at_zero_grad(tb_tensor t);

/* Element-wise. */
enum {
  TB_NEG = 0, TB_EXP, TB_LOG, TB_SQRT, TB_ABS, TB_TANH, TB_SIGMOID, TB_RELU, TB_SIN, TB_COS,
  TB_SQUARE, TB_SOFTPLUS, TB_GELU, TB_LOG1P, TB_RSQRT, TB_ELU,
  TB_TO_FLOAT /* cast to float32 (from a float64 result) */,
  TB_TO_HALF /* cast to float16 (compact shipped weights) */
};
int tb_at_unary(int kind, tb_tensor a, tb_tensor *out);
enum { TB_ADD = 0, TB_SUB, TB_MUL, TB_DIV, TB_MAXIMUM, TB_MINIMUM, TB_POW, TB_ATAN2 };
int tb_at_binary(int kind, tb_tensor a, tb_tensor b, tb_tensor *out); /* broadcasting */
enum { TB_ADD_S = 0, TB_MUL_S, TB_POW_S, TB_CLAMP_MIN_S, TB_CLAMP_MAX_S, TB_LEAKY_RELU_S, TB_RSUB_S, TB_GT_S,
       TB_REMAINDER_S /* torch.remainder: the sign of the divisor */ };
int tb_at_scalar(int kind, tb_tensor a, double s, tb_tensor *out);
/* Reductions over `dims` (all dimensions when ndims is 0). */
enum { TB_SUM = 0, TB_MEAN, TB_AMAX, TB_AMIN, TB_NORM };
int tb_at_reduce(int kind, tb_tensor a, const int64_t *dims, int ndims, int keepdim, tb_tensor *out);

/* Linear algebra and convolutions; `bias` may be NULL. Weights as in torch.nn.functional. */
int tb_at_matmul(tb_tensor a, tb_tensor b, tb_tensor *out);
int tb_at_linear(tb_tensor x, tb_tensor weight, tb_tensor bias, tb_tensor *out);
int tb_at_conv1d(tb_tensor x, tb_tensor weight, tb_tensor bias, int64_t stride, int64_t padding,
                 int64_t dilation, int64_t groups, tb_tensor *out);
int tb_at_conv_transpose1d(tb_tensor x, tb_tensor weight, tb_tensor bias, int64_t stride, int64_t padding,
                           int64_t output_padding, int64_t groups, int64_t dilation, tb_tensor *out);
/* 2-D: stride, padding, dilation (and output_padding) are [h, w] pairs. */
int tb_at_conv2d(tb_tensor x, tb_tensor weight, tb_tensor bias, const int64_t *stride, const int64_t *padding,
                 const int64_t *dilation, int64_t groups, tb_tensor *out);
int tb_at_conv_transpose2d(tb_tensor x, tb_tensor weight, tb_tensor bias, const int64_t *stride,
                           const int64_t *padding, const int64_t *output_padding, int64_t groups,
                           const int64_t *dilation, tb_tensor *out);

/* Normalisations; weight and bias may be NULL. */
int tb_at_group_norm(tb_tensor x, int64_t groups, tb_tensor weight, tb_tensor bias, double eps, tb_tensor *out);
int tb_at_layer_norm(tb_tensor x, const int64_t *shape, int ndim, tb_tensor weight, tb_tensor bias, double eps,
                     tb_tensor *out);

/* Shapes. */
int tb_at_reshape(tb_tensor a, const int64_t *dims, int ndim, tb_tensor *out);
int tb_at_permute(tb_tensor a, const int64_t *dims, int ndim, tb_tensor *out);
int tb_at_transpose(tb_tensor a, int64_t dim0, int64_t dim1, tb_tensor *out);
int tb_at_narrow(tb_tensor a, int64_t dim, int64_t start, int64_t length, tb_tensor *out);
int tb_at_cat(const tb_tensor *tensors, int count, int64_t dim, tb_tensor *out);
int tb_at_unsqueeze(tb_tensor a, int64_t dim, tb_tensor *out);
int tb_at_squeeze(tb_tensor a, int64_t dim, tb_tensor *out);
int tb_at_expand(tb_tensor a, const int64_t *dims, int ndim, tb_tensor *out);
int tb_at_index_select(tb_tensor a, int64_t dim, tb_tensor index, tb_tensor *out);
/* torch.nn.functional.pad: mode 0 constant, 1 reflect, 2 replicate. */
int tb_at_pad(tb_tensor a, const int64_t *pads, int npads, int mode, double value, tb_tensor *out);

/* Nearest-neighbour upsampling of [batch, channels, frames] to `frames` output frames. */
int tb_at_upsample_nearest1d(tb_tensor a, int64_t frames, tb_tensor *out);
/* Linear interpolation of [batch, channels, frames] to `frames` output frames
 * (F.interpolate(mode="linear", align_corners=...)). */
int tb_at_upsample_linear1d(tb_tensor a, int64_t frames, int align_corners, tb_tensor *out);

/* Running sum along `dim` (torch.cumsum); with `float64` nonzero it accumulates and
 * returns float64 (torch.cumsum(..., dtype=torch.float64)). */
int tb_at_cumsum(tb_tensor a, int64_t dim, int float64, tb_tensor *out);

/* Spectra. stft takes [batch, samples] and returns [batch, bins, frames, 2]
 * (real, imaginary; centred frames, reflect padding, onesided); istft takes that
 * layout back to [batch, length]. `window` may be NULL (rectangular). */
int tb_at_stft(tb_tensor x, int64_t n_fft, int64_t hop, tb_tensor window, tb_tensor *out);
int tb_at_istft(tb_tensor spec, int64_t n_fft, int64_t hop, tb_tensor window, int64_t length, tb_tensor *out);

/* Optimizers over a list of parameters: Adam (decoupled 0) or AdamW (decoupled 1). */
int tb_opt_adam(const tb_tensor *params, int count, double lr, double beta1, double beta2, double eps,
                double weight_decay, int decoupled, tb_optimizer *out);
int tb_opt_step(tb_optimizer o);
int tb_opt_zero_grad(tb_optimizer o);
int tb_opt_set_lr(tb_optimizer o, double lr);
void tb_opt_free(tb_optimizer o);
/* torch.nn.utils.clip_grad_norm_: the total norm before clipping goes to *total_norm. */
int tb_clip_grad_norm(const tb_tensor *params, int count, double max_norm, double *total_norm);

/* Checkpoint archives (torch::serialize): named tensors and optimizer state in one file. */
int tb_archive_new(tb_archive *out);
int tb_archive_load(const char *path, tb_archive *out);
int tb_archive_write_tensor(tb_archive a, const char *name, tb_tensor t);
int tb_archive_read_tensor(tb_archive a, const char *name, tb_tensor *out);
int tb_archive_write_optimizer(tb_archive a, const char *name, tb_optimizer o);
int tb_archive_read_optimizer(tb_archive a, const char *name, tb_optimizer o);
int tb_archive_save(tb_archive a, const char *path);
void tb_archive_free(tb_archive a);

/* Script modules assembled from TorchScript source (torch::jit::Module). */
int tb_script_new(const char *class_name, tb_module *out);
/* kind 0 parameter, 1 buffer. The tensor is detached and copied. */
int tb_script_register_tensor(tb_module m, const char *name, tb_tensor t, int kind);
int tb_script_register_int(tb_module m, const char *name, int64_t value);
int tb_script_register_string_list(tb_module m, const char *name, const char *const *values, int count);
int tb_script_define(tb_module m, const char *source);
/* Calls a method with tensor arguments; the result must be a tensor. */
int tb_script_call(tb_module m, const char *method, const tb_tensor *args, int count, tb_tensor *out);

#ifdef __cplusplus
}
#endif

#endif
