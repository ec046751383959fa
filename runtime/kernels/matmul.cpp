// The matrix-product kernel called from generated code, on Eigen's GEMM/GEMV.
#include "codegen/runtime_symbols.hpp"

#include <Eigen/Dense>

namespace {
using Strided = Eigen::Map<const Eigen::MatrixXd, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
using ColMajor = Eigen::Map<const Eigen::MatrixXd, 0, Eigen::OuterStride<>>;
using RowMajor = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                            Eigen::OuterStride<>>;

// Calls f with the fastest Eigen map of a (rows x cols) operand with the given strides.
template <class F>
void with_operand(const double* p, int64_t rows, int64_t cols, int64_t rs, int64_t cs, F&& f) {
  if (rs == 1 || rows == 1) {
    f(ColMajor(p, rows, cols, Eigen::OuterStride<>(cols == 1 ? rows : cs)));
  } else if (cs == 1 || cols == 1) {
    f(RowMajor(p, rows, cols, Eigen::OuterStride<>(rows == 1 ? cols : rs)));
  } else {
    f(Strided(p, rows, cols, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(cs, rs)));
  }
}
// The product in single precision (operands rounded to float, the result
// widened back): half the memory traffic and twice the vector width of double.
void single_precision_product(int64_t m, int64_t n, int64_t k, const double* a, int64_t ars, int64_t acs,
                              const double* b, int64_t brs, int64_t bcs, double* c, bool accumulate) {
  thread_local Eigen::MatrixXf fa, fb, fc;
  with_operand(a, m, k, ars, acs, [&](const auto& A) { fa = A.template cast<float>(); });
  with_operand(b, k, n, brs, bcs, [&](const auto& B) { fb = B.template cast<float>(); });
  fc.resize(m, n);
  fc.noalias() = fa * fb;
  Eigen::Map<Eigen::MatrixXd> out(c, m, n);
  if (accumulate)
    out += fc.cast<double>();
  else
    out = fc.cast<double>();
}

}  // namespace

extern "C" void latent_rt_matmul(int64_t m, int64_t n, int64_t k, const double* a, int64_t ars, int64_t acs,
                                 const double* b, int64_t brs, int64_t bcs, double* c, int64_t flags) {
  // bit 0: c += a b (a gradient written straight into the output), else c = a b.
  const bool accumulate = flags & 1;
  if (flags & 2) return single_precision_product(m, n, k, a, ars, acs, b, brs, bcs, c, accumulate);
  Eigen::Map<Eigen::MatrixXd> out(c, m, n);
  with_operand(a, m, k, ars, acs, [&](const auto& A) {
    with_operand(b, k, n, brs, bcs, [&](const auto& B) {
      if (accumulate) {
        if (n == 1) out.col(0).noalias() += A * B.col(0);
        else if (m == 1) out.row(0).noalias() += A.row(0) * B;
        else out.noalias() += A * B;
      } else {
        if (n == 1) out.col(0).noalias() = A * B.col(0);
        else if (m == 1) out.row(0).noalias() = A.row(0) * B;
        else out.noalias() = A * B;
      }
    });
  });
}
