// The matrix-product kernel (kernels/matmul.cpp) on every operand layout the
// generated code passes it (column-major with an outer stride, row-major, i.e. a
// transpose, and general strides), in double and in mixed precision (operands
// rounded to float), setting and accumulating, single-threaded and split over
// threads: against a plain triple loop.
#define BOOST_TEST_MODULE matmul_kernel
#include <boost/test/unit_test.hpp>

#include "kernels/kernels.hpp"

#include <array>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

namespace {

enum class Layout { ColMajor, RowMajor, Strided };

// A rows x cols operand stored in `layout`, with padding so that strides differ from the sizes.
template <class T = double>
struct Stored {
  std::vector<T> buffer;
  int64_t rs = 0, cs = 0;
};

template <class T = double>
Stored<T> store(const std::vector<double>& col_major, int64_t rows, int64_t cols, Layout layout) {
  Stored<T> s;
  switch (layout) {
    case Layout::ColMajor: s.rs = 1, s.cs = rows + 3; break;
    case Layout::RowMajor: s.rs = cols + 2, s.cs = 1; break;
    case Layout::Strided: s.rs = 2, s.cs = 2 * rows + 1; break;
  }
  s.buffer.assign(static_cast<size_t>((rows - 1) * s.rs + (cols - 1) * s.cs + 1), static_cast<T>(std::nan("")));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      s.buffer[static_cast<size_t>(i * s.rs + j * s.cs)] = static_cast<T>(col_major[static_cast<size_t>(i + j * rows)]);
  return s;
}

std::vector<double> random_matrix(std::mt19937_64& rng, int64_t rows, int64_t cols) {
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> m(static_cast<size_t>(rows * cols));
  for (double& v : m) v = normal(rng);
  return m;
}

// a (m x k) b (k x n), column-major, the plain way.
std::vector<double> triple_loop(const std::vector<double>& a, const std::vector<double>& b, int64_t m, int64_t n,
                                int64_t k) {
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t l = 0; l < k; ++l)
        c[static_cast<size_t>(i + j * m)] += a[static_cast<size_t>(i + l * m)] * b[static_cast<size_t>(l + j * k)];
  return c;
}

// One product case: sizes, operands, their plain product, layouts, threads.
struct Case {
  int64_t m, n, k;
  const std::vector<double> &a, &b, &want;
  Layout la, lb;
  int threads;
};

// Calls check on every case: small shapes, a vector case each way, and one
// large enough to be split over threads; every pair of layouts; 1 and 2 threads.
void for_each_case(uint64_t seed, const std::function<void(const Case&)>& check) {
  std::mt19937_64 rng(seed);
  const std::vector<std::array<int64_t, 3>> shapes{{5, 7, 3}, {1, 6, 4}, {6, 1, 5}, {150, 130, 120}};
  for (int threads : {1, 2}) {
    latent_rt_set_matmul_threads(threads);
    for (const auto& shape : shapes) {
      const int64_t m = shape[0], n = shape[1], k = shape[2];
      std::vector<double> a = random_matrix(rng, m, k), b = random_matrix(rng, k, n);
      const std::vector<double> want = triple_loop(a, b, m, n, k);
      for (Layout la : {Layout::ColMajor, Layout::RowMajor, Layout::Strided})
        for (Layout lb : {Layout::ColMajor, Layout::RowMajor, Layout::Strided}) check({m, n, k, a, b, want, la, lb, threads});
    }
  }
  latent_rt_set_matmul_threads(1);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_layout_and_precision_matches_a_triple_loop) {
  for_each_case(4, [](const Case& t) {
    const auto& [m, n, k, a, b, want, la, lb, threads] = t;
    for (int64_t flags : {0, 1, 2, 3}) {  // bit 0: accumulate, bit 1: operands in float
      Stored<> sa = store(a, m, k, la), sb = store(b, k, n, lb);
      std::vector<double> c(static_cast<size_t>(m * n), (flags & 1) ? 0.5 : -7.0);
      latent_rt_matmul(m, n, k, sa.buffer.data(), sa.rs, sa.cs, sb.buffer.data(), sb.rs, sb.cs, c.data(), flags);
      const double tolerance = (flags & 2) ? 2e-6 * std::sqrt(static_cast<double>(k)) * 4 : 1e-12 * k;
      double worst = 0;
      for (size_t i = 0; i < c.size(); ++i) worst = std::max(worst, std::fabs(c[i] - want[i] - ((flags & 1) ? 0.5 : 0.0)));
      BOOST_TEST(worst <= tolerance, "m " << m << " n " << n << " k " << k << " layouts " << int(la) << "," << int(lb)
                                          << " flags " << flags << " threads " << threads << ": worst error " << worst);
    }
  });
}

// Operands and results the generated code keeps in float (kFloatA, kFloatB,
// kFloatC with kSingle): read in their layouts, the result written as floats
// with no widening, mixed with double operands, single-threaded and split.
BOOST_AUTO_TEST_CASE(float_operands_and_results_match_a_triple_loop) {
  using namespace latent::matmul_flags;
  for_each_case(9, [](const Case& t) {
    const auto& [m, n, k, a, b, want, la, lb, threads] = t;
    const double tolerance = 2e-6 * std::sqrt(static_cast<double>(k)) * 4;
    for (int64_t kinds = 0; kinds < 8; ++kinds) {  // which of A, B, C hold floats
      const bool fa = kinds & 1, fb = kinds & 2, fc = kinds & 4;
      Stored<> da = store(a, m, k, la), db = store(b, k, n, lb);
      Stored<float> sa = store<float>(a, m, k, la), sb = store<float>(b, k, n, lb);
      std::vector<double> c(static_cast<size_t>(m * n), -7.0);
      std::vector<float> cf(static_cast<size_t>(m * n), -7.0f);
      const int64_t flags = kSingle | (fa ? kFloatA : 0) | (fb ? kFloatB : 0) | (fc ? kFloatC : 0);
      latent_rt_matmul(m, n, k, fa ? static_cast<const void*>(sa.buffer.data()) : da.buffer.data(), fa ? sa.rs : da.rs,
                       fa ? sa.cs : da.cs, fb ? static_cast<const void*>(sb.buffer.data()) : db.buffer.data(),
                       fb ? sb.rs : db.rs, fb ? sb.cs : db.cs, fc ? static_cast<void*>(cf.data()) : c.data(), flags);
      double worst = 0;
      for (size_t i = 0; i < c.size(); ++i)
        worst = std::max(worst, std::fabs((fc ? static_cast<double>(cf[i]) : c[i]) - want[i]));
      BOOST_TEST(worst <= tolerance, "m " << m << " n " << n << " k " << k << " layouts " << int(la) << "," << int(lb)
                                          << " floats " << kinds << " threads " << threads << ": worst error " << worst);
      if (!fc) continue;
      // Accumulating ignores kFloatC: C stays double.
      std::vector<double> acc(static_cast<size_t>(m * n), 0.5);
      latent_rt_matmul(m, n, k, da.buffer.data(), da.rs, da.cs, db.buffer.data(), db.rs, db.cs, acc.data(),
                       kSingle | kAccumulate | kFloatC);
      double worst_acc = 0;
      for (size_t i = 0; i < acc.size(); ++i) worst_acc = std::max(worst_acc, std::fabs(acc[i] - 0.5 - want[i]));
      BOOST_TEST(worst_acc <= tolerance);
    }
  });
}
