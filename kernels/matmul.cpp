// The matrix-product kernel called from generated code, on Eigen's GEMM/GEMV.
//
// Large products (2^20 multiply-adds or more) may be split across threads by
// blocks of output columns (or rows, for tall thin results), each block an
// independent single-threaded Eigen product: latent_rt_set_matmul_threads sets
// how many (1 by default, so that evaluations already running in parallel, one
// per thread, are not oversubscribed).
#include "kernels/kernels.hpp"

// Threads are ours (blocks below); Eigen's own OpenMP GEMM would also spin up
// for small products.
#define EIGEN_DONT_PARALLELIZE
// This file is compiled with -march=native and the runtime's Eigen users are not:
// the same Eigen templates instantiated in both are weak symbols the linker merges,
// and code built for one packet size then ran with the other's (a crash in
// gemm_pack_lhs once runtime/inference/pathfinder.cpp multiplied dynamic
// matrices). Renaming Eigen's namespace here keeps the two sets apart.
#define Eigen latent_kernels_eigen
#include <Eigen/Dense>

#include <algorithm>
#include <atomic>
#include <vector>

namespace {
using Strided = Eigen::Map<const Eigen::MatrixXd, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
using ColMajor = Eigen::Map<const Eigen::MatrixXd, 0, Eigen::OuterStride<>>;
using RowMajor = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                            Eigen::OuterStride<>>;
using FloatMap = Eigen::Map<Eigen::MatrixXf>;

constexpr int64_t kParallelProductSize = int64_t{1} << 20;
std::atomic<int> g_threads{1};

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

// An operand described by its pointer and strides; a block of it is the same
// description moved along.
struct Operand {
  const double* p;
  int64_t rows, cols, rs, cs;
  Operand rows_block(int64_t r0, int64_t r1) const { return {p + r0 * rs, r1 - r0, cols, rs, cs}; }
  Operand cols_block(int64_t c0, int64_t c1) const { return {p + c0 * cs, rows, c1 - c0, rs, cs}; }
};

// A float scratch buffer that only grows (no allocation per call).
float* scratch(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

// n doubles rounded to float (a loop the compiler vectorises: this file is built
// with -march=native).
void round_to_float(const double* from, float* to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) to[i] = static_cast<float>(from[i]);
}

// Calls f with a float copy of operand o. The copy keeps o's layout (column- or
// row-major), so rounding is one contiguous pass per column or row and the GEMM
// reads the transposed layout itself; a transposing copy of a weight matrix
// (g W' in a backward pass) cost as much as the product. Other strides are
// gathered element by element.
template <class F>
void with_float_operand(const Operand& o, std::vector<float>& buffer, F&& f) {
  float* p = scratch(buffer, o.rows * o.cols);
  if (o.rs == 1 || o.rows == 1) {
    const int64_t ld = o.cols == 1 ? o.rows : o.cs;
    for (int64_t j = 0; j < o.cols; ++j) round_to_float(o.p + j * ld, p + j * o.rows, o.rows);
    f(Eigen::Map<const Eigen::MatrixXf>(p, o.rows, o.cols));
  } else if (o.cs == 1 || o.cols == 1) {
    const int64_t ld = o.rows == 1 ? o.cols : o.rs;
    for (int64_t i = 0; i < o.rows; ++i) round_to_float(o.p + i * ld, p + i * o.cols, o.cols);
    f(Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(p, o.rows, o.cols));
  } else {
    FloatMap copy(p, o.rows, o.cols);
    with_operand(o.p, o.rows, o.cols, o.rs, o.cs, [&](const auto& x) { copy = x.template cast<float>(); });
    f(Eigen::Map<const Eigen::MatrixXf>(p, o.rows, o.cols));
  }
}

// c (m x n, leading dimension ldc) = or += a b, one thread.
void product(const Operand& a, const Operand& b, double* c, int64_t ldc, bool accumulate, bool single) {
  const int64_t m = a.rows, n = b.cols, k = a.cols;
  Eigen::Map<Eigen::MatrixXd, 0, Eigen::OuterStride<>> out(c, m, n, Eigen::OuterStride<>(ldc));
  if (single) {
    // Operands rounded to float, the result widened back: half the memory
    // traffic and twice the vector width of double.
    thread_local std::vector<float> va, vb, vc;
    FloatMap fc(scratch(vc, m * n), m, n);
    with_float_operand(a, va, [&](const auto& fa) {
      with_float_operand(b, vb, [&](const auto& fb) { fc.noalias() = fa * fb; });
    });
    if (accumulate)
      out += fc.cast<double>();
    else
      out = fc.cast<double>();
    return;
  }
  with_operand(a.p, m, k, a.rs, a.cs, [&](const auto& A) {
    with_operand(b.p, k, n, b.rs, b.cs, [&](const auto& B) {
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

}  // namespace

extern "C" void latent_rt_set_matmul_threads(int threads) { g_threads = std::max(1, threads); }

extern "C" void latent_rt_matmul(int64_t m, int64_t n, int64_t k, const double* a, int64_t ars, int64_t acs,
                                 const double* b, int64_t brs, int64_t bcs, double* c, int64_t flags) {
  // bit 0: c += a b (a gradient written straight into the output), else c = a b.
  const bool accumulate = flags & 1, single = flags & 2;
  const Operand A{a, m, k, ars, acs}, B{b, k, n, brs, bcs};
  const int threads = g_threads.load(std::memory_order_relaxed);
  const bool split_columns = n >= m;
  const int64_t extent = split_columns ? n : m;
  const int blocks = m * n * k >= kParallelProductSize ? static_cast<int>(std::min<int64_t>(threads, extent / 16)) : 1;
  if (blocks <= 1) return product(A, B, c, m, accumulate, single);
#pragma omp parallel for num_threads(blocks) schedule(static)
  for (int t = 0; t < blocks; ++t) {
    const int64_t begin = extent * t / blocks, end = extent * (t + 1) / blocks;
    if (split_columns)
      product(A, B.cols_block(begin, end), c + begin * m, m, accumulate, single);
    else
      product(A.rows_block(begin, end), B, c + begin, m, accumulate, single);
  }
}
