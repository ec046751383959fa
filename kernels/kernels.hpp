// The functions generated code calls (the kernels layer: no LLVM, so that an
// exported model object links against this library alone). The JIT binds them
// by address (compiler/codegen/jit.cpp): the structural ones by the names below,
// the elementwise ones from KERNEL(...) entries of compiler/ir/ops.def.
#pragma once

#include <cstdint>

namespace latent::runtime_symbols {
inline constexpr const char* matmul = "latent_rt_matmul";
inline constexpr const char* check_failed = "latent_rt_check_failed";
inline constexpr const char* print = "latent_rt_print";
inline constexpr const char* rng = "latent_rt_rng";
}  // namespace latent::runtime_symbols

namespace latent::matmul_flags {  // latent_rt_matmul's flags
inline constexpr int64_t kAccumulate = 1, kSingle = 2, kFloatA = 4, kFloatB = 8, kFloatC = 16;
}

extern "C" {
// C (m x n, contiguous column-major) = A (m x k) * B (k x n); strides in elements.
// flags: bit 0: C += A B instead; bit 1: compute the product in single precision;
// with bit 1, bits 2, 3 and 4 say that A, B and C hold floats, not doubles (the
// generated code stores operands and results that only products and elementwise
// code read in single precision; C as floats only without bit 0).
void latent_rt_matmul(int64_t m, int64_t n, int64_t k, const void* a, int64_t a_row_stride, int64_t a_col_stride,
                      const void* b, int64_t b_row_stride, int64_t b_col_stride, void* c, int64_t flags);
// Threads for large products (1 by default); set by drivers that run one evaluation at a time.
void latent_rt_set_matmul_threads(int threads);
// ctx is the EvalContext* the caller passed to the generated function.
void latent_rt_check_failed(void* ctx, int64_t message, const double* values, int64_t count);
void latent_rt_print(void* ctx, int64_t message, const double* values, int64_t count);
// A draw of sampler `sampler` (kernels/random.hpp) with its parameters.
double latent_rt_rng(void* ctx, int64_t sampler, const double* params);
double latent_rt_lgamma(double x);
double latent_rt_digamma(double x);
double latent_rt_trigamma(double x);
// log P(T <= t) for T ~ student_t(nu, 0, 1); NaN for NaN arguments or nu <= 0.
double latent_rt_student_t_lcdf(double t, double nu);
// log Phi(x), the standard normal log CDF (asymptotic series below x = -37.5).
double latent_rt_log_phi(double x);
// The standard normal quantile; NaN outside [0, 1].
double latent_rt_inv_phi(double p);
// log P(a, x) and log Q(a, x), the regularised incomplete gamma functions; NaN for
// a <= 0 or x < 0.
double latent_rt_log_gamma_p(double x, double a);
double latent_rt_log_gamma_q(double x, double a);
}
