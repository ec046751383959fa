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

// p moved along by `offset` elements of floats or doubles.
void* advance(const void* p, bool single, int64_t offset) {
  char* bytes = static_cast<char*>(const_cast<void*>(p));
  return bytes + offset * static_cast<int64_t>(single ? sizeof(float) : sizeof(double));
}

// An operand described by its pointer, element type and strides (in elements);
// a block of it is the same description moved along.
struct Operand {
  const void* p;
  int64_t rows, cols, rs, cs;
  bool single;  // holds floats
  const void* at(int64_t offset) const { return advance(p, single, offset); }
  const double* doubles() const { return static_cast<const double*>(p); }
  const float* floats() const { return static_cast<const float*>(p); }
  Operand rows_block(int64_t r0, int64_t r1) const { return {at(r0 * rs), r1 - r0, cols, rs, cs, single}; }
  Operand cols_block(int64_t c0, int64_t c1) const { return {at(c0 * cs), rows, c1 - c0, rs, cs, single}; }
};

// The result: m x n, column-major with leading dimension ldc, doubles or floats.
struct Result {
  void* p;
  int64_t ldc;
  bool single;
  Result block(int64_t offset) const { return {advance(p, single, offset), ldc, single}; }
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

// Calls f with operand o in single precision: o itself when it holds floats (in
// its layout), else a float copy. The copy keeps o's layout (column- or
// row-major), so rounding is one contiguous pass per column or row and the GEMM
// reads the transposed layout itself; a transposing copy of a weight matrix
// (g W' in a backward pass) cost as much as the product. Other strides are
// gathered element by element.
template <class F>
void with_float_operand(const Operand& o, std::vector<float>& buffer, F&& f) {
  using ColMajorF = Eigen::Map<const Eigen::MatrixXf, 0, Eigen::OuterStride<>>;
  using RowMajorF = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                               Eigen::OuterStride<>>;
  const bool col_major = o.rs == 1 || o.rows == 1, row_major = o.cs == 1 || o.cols == 1;
  const int64_t col_ld = o.cols == 1 ? o.rows : o.cs, row_ld = o.rows == 1 ? o.cols : o.rs;
  if (o.single && col_major) return f(ColMajorF(o.floats(), o.rows, o.cols, Eigen::OuterStride<>(col_ld)));
  if (o.single && row_major) return f(RowMajorF(o.floats(), o.rows, o.cols, Eigen::OuterStride<>(row_ld)));
  float* p = scratch(buffer, o.rows * o.cols);
  if (o.single) {
    for (int64_t j = 0; j < o.cols; ++j)
      for (int64_t i = 0; i < o.rows; ++i) p[i + j * o.rows] = o.floats()[i * o.rs + j * o.cs];
    f(ColMajorF(p, o.rows, o.cols, Eigen::OuterStride<>(o.rows)));
  } else if (col_major) {
    for (int64_t j = 0; j < o.cols; ++j) round_to_float(o.doubles() + j * col_ld, p + j * o.rows, o.rows);
    f(ColMajorF(p, o.rows, o.cols, Eigen::OuterStride<>(o.rows)));
  } else if (row_major) {
    for (int64_t i = 0; i < o.rows; ++i) round_to_float(o.doubles() + i * row_ld, p + i * o.cols, o.cols);
    f(RowMajorF(p, o.rows, o.cols, Eigen::OuterStride<>(o.cols)));
  } else {
    FloatMap copy(p, o.rows, o.cols);
    with_operand(o.doubles(), o.rows, o.cols, o.rs, o.cs, [&](const auto& x) { copy = x.template cast<float>(); });
    f(ColMajorF(p, o.rows, o.cols, Eigen::OuterStride<>(o.rows)));
  }
}

// c (m x n) = or += a b, one thread.
void product(const Operand& a, const Operand& b, const Result& c, bool accumulate, bool single) {
  const int64_t m = a.rows, n = b.cols, k = a.cols;
  if (single) {
    // Operands in float, the result widened back unless it is kept in float:
    // half the memory traffic and twice the vector width of double.
    thread_local std::vector<float> va, vb, vc;
    const bool direct = c.single && !accumulate;
    float* fp = direct ? static_cast<float*>(c.p) : scratch(vc, m * n);
    Eigen::Map<Eigen::MatrixXf, 0, Eigen::OuterStride<>> fc(fp, m, n, Eigen::OuterStride<>(direct ? c.ldc : m));
    with_float_operand(a, va, [&](const auto& fa) {
      with_float_operand(b, vb, [&](const auto& fb) { fc.noalias() = fa * fb; });
    });
    if (direct) return;
    Eigen::Map<Eigen::MatrixXd, 0, Eigen::OuterStride<>> out(static_cast<double*>(c.p), m, n,
                                                              Eigen::OuterStride<>(c.ldc));
    if (accumulate)
      out += fc.cast<double>();
    else
      out = fc.cast<double>();
    return;
  }
  Eigen::Map<Eigen::MatrixXd, 0, Eigen::OuterStride<>> out(static_cast<double*>(c.p), m, n,
                                                            Eigen::OuterStride<>(c.ldc));
  with_operand(a.doubles(), m, k, a.rs, a.cs, [&](const auto& A) {
    with_operand(b.doubles(), k, n, b.rs, b.cs, [&](const auto& B) {
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

extern "C" void latent_rt_matmul(int64_t m, int64_t n, int64_t k, const void* a, int64_t ars, int64_t acs,
                                 const void* b, int64_t brs, int64_t bcs, void* c, int64_t flags) {
  using namespace latent::matmul_flags;
  // c += a b (a gradient written straight into the output), else c = a b.
  const bool accumulate = flags & kAccumulate, single = flags & kSingle;
  const Operand A{a, m, k, ars, acs, single && (flags & kFloatA)}, B{b, k, n, brs, bcs, single && (flags & kFloatB)};
  const Result C{c, m, single && !accumulate && (flags & kFloatC)};
  const int threads = g_threads.load(std::memory_order_relaxed);
  const bool split_columns = n >= m;
  const int64_t extent = split_columns ? n : m;
  const int blocks = m * n * k >= kParallelProductSize ? static_cast<int>(std::min<int64_t>(threads, extent / 16)) : 1;
  if (blocks <= 1) return product(A, B, C, accumulate, single);
#pragma omp parallel for num_threads(blocks) schedule(static)
  for (int t = 0; t < blocks; ++t) {
    const int64_t begin = extent * t / blocks, end = extent * (t + 1) / blocks;
    if (split_columns)
      product(A, B.cols_block(begin, end), C.block(begin * m), accumulate, single);
    else
      product(A.rows_block(begin, end), B, C.block(begin), accumulate, single);
  }
}
