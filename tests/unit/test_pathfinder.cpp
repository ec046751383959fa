// Pathfinder (runtime/inference/pathfinder.hpp, fit --method pathfinder):
//  1. the normal built from the L-BFGS factors: its covariance equals the inverse
//     BFGS matrix computed by the recursive update from diag(alpha) (an independent
//     formula), dense and thin-QR alike; its factor F has F F' = H, its log density
//     is log N(z; mean, H), its mean x + H g; with n A-conjugate pairs of a quadratic
//     with Hessian A, H = A^-1 exactly (BFGS's hereditary property); the diagonal
//     update is the diagonal of the BFGS update of c diag(1/alpha);
//  2. on correlated 2-d and 5-d Gaussian targets, the chosen normals are close to
//     the posterior (KL below bounds measured and justified there: the L-BFGS
//     matrix is exact only for conjugate steps), each path's draws follow its
//     normal, and the PSIS-weighted moments of the pooled draws are within Monte
//     Carlo error of the exact ones;
//  3. conjugate posteriors (normal mean, linear regression with known noise): the
//     posterior mean of the CLI's resampled draws within Monte Carlo error; lp__ and
//     lp_approx__ by their definitions;
//  4. Pareto-k̂: good on Gaussian targets, unreliable on Neal's funnel;
//  5. the same seed gives the same files whatever the number of threads;
//  6. option errors name the option.
#define BOOST_TEST_MODULE pathfinder
#include "tests/support/conjugate_models.hpp"
#include "tests/support/csv_file.hpp"
#include "tests/support/variational_fixture.hpp"

#include "runtime/inference/pathfinder.hpp"
#include "runtime/inference/psis.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>
#include <sstream>

using namespace latent;
using namespace latent::testing;

namespace {

// A correlated 5-d normal: sds 1, 2, 0.5, 3, 1.5 and correlations 0.6^|i-j|.
const char* kMultiNormal = R"(
data { int N; vector[N] m; matrix[N, N] S; }
parameters { vector[N] x; }
model { x ~ multi_normal(m, S); }
)";
const std::vector<double> kM = {1.0, -2.0, 0.5, 3.0, 0.0};

Mat target_covariance() {
  const std::vector<double> sd = {1, 2, 0.5, 3, 1.5};
  Mat S(5, 5);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) S(i, j) = sd[i] * sd[j] * std::pow(0.6, std::abs(i - j));
  return S;
}

std::string multi_normal_json() {
  return "{\"N\": 5, \"m\": " + json_vector(kM) + ", \"S\": " + json_matrix(target_covariance()) + "}";
}

// Neal's funnel: the normal approximations along the path are far too narrow in x
// for most of the posterior's mass.
const char* kFunnel = R"(
parameters { real y; vector[2] x; }
model { y ~ normal(0, 3); x ~ normal(0, exp(y / 2)); }
)";

Mat from_row_major(const std::vector<double>& v, int n) {
  Mat m(n, n);
  m.a = v;
  return m;
}

// The inverse BFGS matrix by its recursive definition: H <- (I - r s y') H (I - r y s') + r s s', r = 1 / y's,
// from H = diag(alpha), the pairs oldest first.
Mat recursive_bfgs(const std::vector<double>& alpha, const std::vector<std::vector<double>>& s,
                   const std::vector<std::vector<double>>& y) {
  int n = static_cast<int>(alpha.size());
  Mat H(n, n);
  for (int i = 0; i < n; ++i) H(i, i) = alpha[i];
  for (size_t k = 0; k < s.size(); ++k) {
    double r = 1 / dot(s[k], y[k]);
    Mat V = Mat::identity(n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) V(i, j) -= r * y[k][i] * s[k][j];  // V = I - r y s'
    H = matmul(transpose(V), matmul(H, V));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) H(i, j) += r * s[k][i] * s[k][j];
  }
  return H;
}

Mat random_spd(std::mt19937_64& rng, int n) {
  Mat G(n, n);
  std::normal_distribution<double> normal;
  for (double& v : G.a) v = normal(rng);
  Mat A = matmul(G, transpose(G));
  for (int i = 0; i < n; ++i) A(i, i) += n;
  return A;
}

double max_abs_diff(const Mat& a, const Mat& b) {
  double d = 0;
  for (size_t k = 0; k < a.a.size(); ++k) d = std::max(d, std::fabs(a.a[k] - b.a[k]));
  return d;
}

double max_abs(const Mat& a) {
  double d = 0;
  for (double v : a.a) d = std::max(d, std::fabs(v));
  return d;
}

// Sample covariance of columns `first`..`first + n` of the rows.
Mat sample_covariance(const std::vector<std::vector<double>>& rows, size_t first, int n, std::vector<double>& mean) {
  mean.assign(static_cast<size_t>(n), 0.0);
  for (auto& r : rows)
    for (int i = 0; i < n; ++i) mean[i] += r[first + i] / static_cast<double>(rows.size());
  Mat C(n, n);
  for (auto& r : rows)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        C(i, j) += (r[first + i] - mean[i]) * (r[first + j] - mean[j]) / static_cast<double>(rows.size() - 1);
  return C;
}

}  // namespace

BOOST_AUTO_TEST_CASE(compact_form_equals_the_recursive_bfgs_matrix) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0.2, 3.0);
  std::normal_distribution<double> normal;
  // n = 4 with 3 pairs: dense (2m >= n); n = 12 with 3 pairs: thin QR (2m < n).
  for (auto [n, m] : {std::pair<int, int>{4, 3}, std::pair<int, int>{12, 3}, std::pair<int, int>{7, 0}}) {
    Mat A = random_spd(rng, n);
    std::vector<double> alpha(static_cast<size_t>(n)), x(static_cast<size_t>(n)), g(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      alpha[i] = unit(rng);
      x[i] = normal(rng);
      g[i] = normal(rng);
    }
    std::vector<std::vector<double>> s, y;
    for (int k = 0; k < m; ++k) {
      s.push_back(standard_normal(rng, static_cast<size_t>(n)));
      y.push_back(matvec(A, s.back()));  // a quadratic's gradient change: y's > 0
      BOOST_REQUIRE(acceptable_curvature(s.back(), y.back()));
    }
    LbfgsNormal q(x, g, alpha, s, y);
    BOOST_REQUIRE(q.ok());
    BOOST_TEST(q.dense() == (2 * m >= n));
    Mat H = recursive_bfgs(alpha, s, y), C = from_row_major(q.covariance(), n);
    BOOST_TEST(max_abs_diff(C, H) < 1e-10 * max_abs(H), "n " << n << ": " << max_abs_diff(C, H));
    // mean = x + H g
    std::vector<double> hg = matvec(H, g);
    for (int i = 0; i < n; ++i) BOOST_TEST(close(q.mean()[i], x[i] + hg[i], 1e-10));
    // the factor: column i of F is transform(e_i) - mean; F F' = H
    Mat F(n, n);
    for (int i = 0; i < n; ++i) {
      std::vector<double> e(static_cast<size_t>(n), 0.0);
      e[i] = 1;
      std::vector<double> z = q.transform(e, nullptr);
      for (int r = 0; r < n; ++r) F(r, i) = z[r] - q.mean()[r];
    }
    BOOST_TEST(max_abs_diff(matmul(F, transpose(F)), H) < 1e-10 * max_abs(H));
    BOOST_TEST(close(q.log_det_factor(), 0.5 * chol_logdet(cholesky(H)), 1e-10));
    // lp_approx is the normalised log density of N(mean, H) at the draw
    for (int k = 0; k < 3; ++k) {
      std::vector<double> u = standard_normal(rng, static_cast<size_t>(n));
      double log_density = 0;
      std::vector<double> z = q.transform(u, &log_density);
      BOOST_TEST(close(log_density, mvn_logpdf(z, q.mean(), H), 1e-9));
    }
  }
}

BOOST_AUTO_TEST_CASE(conjugate_pairs_of_a_quadratic_give_its_exact_inverse_hessian) {
  // BFGS's hereditary property: with s_k' A s_i = 0 (i < k) the update keeps H y_i = s_i,
  // so n A-conjugate pairs give H = A^-1 whatever diag(alpha) is.
  std::mt19937_64 rng(5);
  const int n = 5;
  Mat A = random_spd(rng, n), Ainv = spd_inverse(A);
  std::vector<std::vector<double>> s, y;
  for (int k = 0; k < n; ++k) {
    std::vector<double> v = standard_normal(rng, n);
    for (auto& prev : s) {  // Gram-Schmidt in the A inner product
      double c = dot(v, matvec(A, prev)) / dot(prev, matvec(A, prev));
      for (int i = 0; i < n; ++i) v[i] -= c * prev[i];
    }
    s.push_back(v);
    y.push_back(matvec(A, v));
  }
  std::vector<double> alpha = {0.3, 2.0, 1.0, 5.0, 0.7}, x(n, 0.0), g(n, 1.0);
  for (bool dense : {true, false}) {
    // dense: all five pairs (2m >= n); the thin QR needs 2m < n, so it gets the
    // first two of the conjugate pairs and is compared with the recursive formula.
    size_t m = dense ? s.size() : 2;
    std::vector<std::vector<double>> sm(s.begin(), s.begin() + m), ym(y.begin(), y.begin() + m);
    LbfgsNormal q(x, g, alpha, sm, ym);
    BOOST_REQUIRE(q.ok());
    Mat C = from_row_major(q.covariance(), n);
    if (dense) {
      BOOST_TEST(max_abs_diff(C, Ainv) < 1e-10 * max_abs(Ainv));
    } else {
      BOOST_TEST(!q.dense());
      // H A s_i = s_i for the pairs given
      for (size_t k = 0; k < m; ++k) {
        std::vector<double> back = matvec(C, y[k]);
        for (int i = 0; i < n; ++i) BOOST_TEST(close(back[i], s[k][i], 1e-10));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(diagonal_update_is_the_diagonal_of_a_bfgs_update) {
  std::mt19937_64 rng(3);
  const int n = 6;
  Mat A = random_spd(rng, n);
  std::vector<double> alpha = {1, 0.5, 2, 1.5, 0.8, 1.2};
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<double> s = standard_normal(rng, n), y = matvec(A, s);
    std::vector<double> next = update_inverse_hessian_diagonal(alpha, s, y);
    // B = c diag(1/alpha), c = y' diag(alpha) y / y's; B+ = B + y y'/y's - B s s' B / s'Bs, by matrices
    double ys = dot(y, s), yay = 0;
    for (int i = 0; i < n; ++i) yay += y[i] * alpha[i] * y[i];
    Mat B(n, n);
    for (int i = 0; i < n; ++i) B(i, i) = yay / ys / alpha[i];
    std::vector<double> Bs = matvec(B, s);
    double sBs = dot(s, Bs);
    for (int i = 0; i < n; ++i) {
      double b = B(i, i) + y[i] * y[i] / ys - Bs[i] * Bs[i] / sBs;
      BOOST_TEST(next[i] > 0);
      BOOST_TEST(close(next[i], 1 / b, 1e-12));
    }
    alpha = next;
  }
  // a pair with y's <= 0 is refused (the curvature test), and so is a wild one
  BOOST_TEST(!acceptable_curvature({1, 0}, {-1, 0}));
  BOOST_TEST(!acceptable_curvature({1e-7, 0}, {1e6, 1e6}));
}

BOOST_AUTO_TEST_CASE(lbfgs_reports_its_path) {
  auto f = [](const double* x, double* g) {
    g[0] = -(x[0] - 1);
    g[1] = -4 * (x[1] + 2);
    return -0.5 * (x[0] - 1) * (x[0] - 1) - 2 * (x[1] + 2) * (x[1] + 2);
  };
  LbfgsOptions o;
  std::vector<int> seen;
  o.on_iterate = [&](int it, const double* x, double value, const double* g) {
    seen.push_back(it);
    double gx[2];
    BOOST_TEST(close(value, f(x, gx), 1e-15));
    BOOST_TEST(close(g[0], gx[0], 1e-15));
    BOOST_TEST(close(g[1], gx[1], 1e-15));
  };
  LbfgsResult r = maximize_lbfgs(f, {3, 3}, o);
  BOOST_REQUIRE(!seen.empty());
  BOOST_TEST(seen.size() == static_cast<size_t>(r.iterations + 1));
  for (size_t k = 0; k < seen.size(); ++k) BOOST_TEST(seen[k] == static_cast<int>(k));
}

// KL(q || p) of a path's chosen normal to the exact Gaussian target.
double path_kl(const PathResult& p, const std::vector<double>& m, const Mat& S) {
  return gaussian_kl(p.approximation.mean(), from_row_major(p.approximation.covariance(), S.rows), m, S);
}

// Draws of a path against its own normal: mean within 4 standard errors, covariance
// entries within 4 of theirs (the variance of a sample covariance is (C_ij^2 + C_ii C_jj) / D).
void check_draws_follow_the_normal(const PathResult& p, int n) {
  Mat C = from_row_major(p.approximation.covariance(), n);
  const double D = static_cast<double>(p.z.size());
  std::vector<double> mean;
  Mat E = sample_covariance(p.z, 0, n, mean);
  for (int i = 0; i < n; ++i) {
    BOOST_TEST(std::fabs(mean[i] - p.approximation.mean()[i]) < 4 * std::sqrt(C(i, i) / D), "mean " << i);
    for (int j = 0; j < n; ++j)
      BOOST_TEST(std::fabs(E(i, j) - C(i, j)) < 4 * std::sqrt((C(i, j) * C(i, j) + C(i, i) * C(j, j)) / D),
                 "cov " << i << j << ": " << E(i, j) << " vs " << C(i, j));
  }
  // lp_approx is log N(z; mean, H)
  for (size_t k = 0; k < 20; ++k) BOOST_TEST(close(p.lp_approx[k], mvn_logpdf(p.z[k], p.approximation.mean(), C), 1e-8));
}

// Pooled draws of a run weighted by PSIS (the estimator behind --psis-resample): the
// weighted mean and covariance against the exact ones, within 4 Monte Carlo standard
// errors computed with the weights' effective sample size.
void check_weighted_moments(const PathfinderRun& run, const std::vector<double>& m, const Mat& S) {
  const int n = S.rows;
  std::vector<std::vector<double>> z;
  std::vector<double> ratios;
  for (const PathResult& p : run.paths)
    for (size_t k = 0; k < p.z.size(); ++k) {
      z.push_back(p.z[k]);
      ratios.push_back(p.lp[k] - p.lp_approx[k]);
    }
  PsisResult w = psis(ratios);
  std::vector<double> mean(static_cast<size_t>(n), 0.0);
  for (size_t k = 0; k < z.size(); ++k)
    for (int i = 0; i < n; ++i) mean[i] += w.weights[k] * z[k][i];
  for (int i = 0; i < n; ++i) {
    double v = 0;
    for (size_t k = 0; k < z.size(); ++k) v += w.weights[k] * (z[k][i] - m[i]) * (z[k][i] - m[i]);
    BOOST_TEST(std::fabs(mean[i] - m[i]) < 4 * std::sqrt(S(i, i) / w.ess), "weighted mean " << i << ": " << mean[i]);
    BOOST_TEST(std::fabs(v - S(i, i)) < 4 * S(i, i) * std::sqrt(2 / w.ess), "weighted variance " << i << ": " << v);
  }
}

// A correlated 2-d Gaussian (sds 1 and 2, correlation 0.8). On a quadratic the pairs are
// exact (y = A s), but the L-BFGS matrix equals A^-1 only when the steps are A-conjugate
// (the test above); with a Wolfe line search that is not exact they are nearly so in two
// dimensions. Measured over seeds 0-9 x 4 paths: KL(q || p) of the chosen normal from 1e-11
// to 0.009 in 39 of the 40 paths, 0.14 in one. Asserted: KL < 0.01 in at least 36 of 40 and
// below 0.3 in all; a KL of 0.01 bounds a mean error at 0.14 posterior sds and a variance
// error at about 20%, which PSIS then corrects (checked against the exact moments).
BOOST_AUTO_TEST_CASE(gaussian_target_2d) {
  const std::vector<double> m = {1.0, -2.0};
  Mat S(2, 2);
  S(0, 0) = 1;
  S(1, 1) = 4;
  S(0, 1) = S(1, 0) = 1.6;
  auto model = make_model(kMultiNormal, "{\"N\": 2, \"m\": " + json_vector(m) + ", \"S\": " + json_matrix(S) + "}");
  PathfinderOptions o;
  o.draws = 2000;
  int small = 0, total = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    o.seed = seed;
    PathfinderRun run = run_pathfinder(*model, o);
    for (const PathResult& p : run.paths) {
      BOOST_REQUIRE_MESSAGE(!p.failed, p.message);
      BOOST_TEST(p.approximation.dense());
      double kl = path_kl(p, m, S);
      BOOST_TEST(kl < 0.3, "seed " << seed << " path " << p.path << ": KL " << kl);
      small += kl < 0.01;
      ++total;
      BOOST_TEST(p.z.size() == 2000u);
      for (size_t k = 0; k < 20; ++k) BOOST_TEST(close(p.lp[k], lp(*model, p.z[k]), 1e-12));
    }
    if (seed < 3) {
      check_draws_follow_the_normal(run.paths[0], 2);
      check_weighted_moments(run, m, S);
    }
  }
  BOOST_TEST(small >= 36, small << " of " << total << " paths with KL < 0.01");
}

// The 5-d target of kMultiNormal (sds 1, 2, 0.5, 3, 1.5, correlations 0.6^|i-j|): with
// more dimensions the path's last steps explore fewer directions and the normals are
// rougher. Measured over seeds 0-9 x 4 paths: KL of the chosen normal 0.003 to 0.2
// (median about 0.04); Pareto-k-hat of the pooled draws 0.35 to 0.99 (heavy tails from
// a path whose normal is too narrow in one direction), effective draws 2300 to 3750 of
// 4000. Asserted: KL < 0.5 for every path, median below 0.1, the draws follow their
// normal, and the PSIS-weighted moments match the exact ones.
BOOST_AUTO_TEST_CASE(gaussian_target_5d) {
  auto model = make_model(kMultiNormal, multi_normal_json());
  Mat S = target_covariance();
  PathfinderOptions o;
  std::vector<double> kls;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    o.seed = seed;
    PathfinderRun run = run_pathfinder(*model, o);
    for (const PathResult& p : run.paths) {
      BOOST_REQUIRE_MESSAGE(!p.failed, p.message);
      kls.push_back(path_kl(p, kM, S));
      BOOST_TEST(kls.back() < 0.5, "seed " << seed << " path " << p.path << ": KL " << kls.back());
    }
    if (seed < 3) {
      check_draws_follow_the_normal(run.paths[0], 5);
      check_weighted_moments(run, kM, S);
    }
  }
  std::sort(kls.begin(), kls.end());
  BOOST_TEST(kls[kls.size() / 2] < 0.1, "median KL " << kls[kls.size() / 2]);
  // History 1 on 5 parameters: the thin-QR factor (2J < n); its draws carry its own density.
  o.history = 1;
  o.paths = 1;
  PathResult p = run_pathfinder_path(*model, o, 0);
  BOOST_REQUIRE_MESSAGE(!p.failed, p.message);
  BOOST_TEST(!p.approximation.dense());
  check_draws_follow_the_normal(p, 5);
}

BOOST_AUTO_TEST_CASE(conjugate_posteriors_through_the_command_line) {
  TempDir dir;
  // Normal mean: lp__ with every constant, lp_approx__ the normal's density (from the JSON).
  std::string model = dir.write("normal.lat", kNormalMean), data = dir.write("normal.json", kNormalMeanData);
  RunResult r = run_latent({"fit", model, "--data", data, "--method", "pathfinder", "--draws", "4000", "--seed", "2",
                            "-o", dir.file("n.csv"), "-o", dir.file("n.json")},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  BOOST_TEST(contains(r.err, "latent: path 4: L-BFGS"), r);
  BOOST_TEST(contains(r.err, "latent: Pareto k-hat"), r);
  nlohmann::json j = nlohmann::json::parse(read_text(dir.file("n.json")));
  BOOST_TEST(j.at("method") == "pathfinder");
  BOOST_TEST(j.at("num_paths") == 4);
  BOOST_TEST(j.at("history_size") == 6);
  BOOST_TEST(j.at("num_elbo_draws") == 25);
  BOOST_TEST(j.at("psis_resampled") == true);
  BOOST_TEST(j.at("paths").size() == 4u);
  BOOST_TEST(j.at("pareto_k_verdict") == "good");
  Csv c = read_csv(dir.file("n.csv"));
  BOOST_TEST((c.header == std::vector<std::string>{"lp_approx__", "lp__", "mu"}));
  BOOST_REQUIRE(c.rows.size() == 4000u);  // resampled from 4 x 4000
  BOOST_TEST(has_comment(c, "# pareto_k = "));
  BOOST_TEST(has_comment(c, "from 16000 draws"));
  BOOST_TEST(has_comment(c, "resampled with replacement"));
  const double sd = 1 / std::sqrt(kPrecision);
  std::vector<double> mu;
  std::set<double> paths_means;
  for (auto& path : j.at("paths")) paths_means.insert(path.at("mean")[0].get<double>());
  for (const auto& row : c.rows) {
    double x = row[2];
    // lp__: normal_lpdf(mu | 1, 2) + sum normal_lpdf(y | mu, 1.5), every constant kept
    double expected = -0.5 * kLog2Pi - std::log(2.0) - 0.5 * (x - 1) * (x - 1) / 4;
    for (double y : {0.3, 1.9, 2.4, -0.2, 1.1})
      expected += -0.5 * kLog2Pi - std::log(1.5) - 0.5 * (y - x) * (y - x) / 2.25;
    BOOST_TEST(close(row[1], expected, 1e-9), "lp__ " << row[1] << " vs " << expected);
    // lp_approx__ is log N(mu; mean, var) of one of the paths' normals
    bool one_of_paths = false;
    for (auto& path : j.at("paths")) {
      double m = path.at("mean")[0].get<double>(), v = path.at("covariance")[0][0].get<double>();
      one_of_paths = one_of_paths || close(row[0], -0.5 * (kLog2Pi + std::log(v)) - 0.5 * (x - m) * (x - m) / v, 1e-9);
    }
    BOOST_TEST(one_of_paths);
    mu.push_back(x);
  }
  // Resampled draws: the Monte Carlo error of their mean is that of the importance weights
  // (ess) plus the multinomial resampling's (1 / D): se^2 = sd^2 (1 / ess + 1 / D).
  double ess = j.at("psis_ess").is_null() ? 16000.0 : j.at("psis_ess").get<double>();
  double se = sd * std::sqrt(1 / ess + 1 / 4000.0);
  BOOST_TEST(std::fabs(mean_se(mu).mean - kMean) < 4 * se, "mean " << mean_se(mu).mean << " vs " << kMean);

  // Linear regression with known noise (correlated coefficients), one path, no resampling.
  std::string reg = dir.write("reg.lat", kRegression), reg_data = dir.write("reg.json", regression_json());
  RunResult rr = run_latent({"fit", reg, "--data", reg_data, "--method", "pathfinder", "--num-paths", "1", "--draws",
                             "4000", "--no-psis-resample", "-o", dir.file("r.csv"), "-o", dir.file("r.json"), "-q"},
                            dir);
  BOOST_REQUIRE_MESSAGE(rr.exited && rr.exit_code == 0, rr);
  BOOST_TEST(!contains(rr.err, "path 1"), rr);  // -q
  std::vector<double> mean;
  Mat cov;
  regression_posterior(mean, cov);
  Csv rc = read_csv(dir.file("r.csv"));
  BOOST_REQUIRE(rc.rows.size() == 4000u);
  BOOST_TEST(!has_comment(rc, "resampled"));
  for (int i = 0; i < 2; ++i) {
    std::vector<double> b;
    for (auto& row : rc.rows) b.push_back(row[rc.column("beta." + std::to_string(i + 1))]);
    BOOST_TEST(std::fabs(mean_se(b).mean - mean[i]) < 4 * std::sqrt(cov(i, i) / 4000), "beta " << i);
    BOOST_TEST(std::fabs(mean_se(b).sd / std::sqrt(cov(i, i)) - 1) < 4 * std::sqrt(1 / 8000.0), "sd of beta " << i);
  }
}

BOOST_AUTO_TEST_CASE(pareto_k_good_on_a_gaussian_and_unreliable_on_the_funnel) {
  TempDir dir;
  // The 2-d Gaussian of gaussian_target_2d: k-hat measured 0.10 to 0.35 for seeds 0-9 but
  // seed 8 (0.63: one path's normal is 40% too narrow in one direction); seeds 0 and 4 here.
  // (On the 5-d one it ranges from 0.35 to 0.99: see gaussian_target_5d.)
  std::string gauss = dir.write("mvn.lat", kMultiNormal),
              data = dir.write("mvn.json", R"({"N": 2, "m": [1, -2], "S": [[1, 1.6], [1.6, 4]]})");
  for (std::string seed : {"0", "4"}) {
    RunResult g = run_latent({"fit", gauss, "--data", data, "--method", "pathfinder", "--seed", seed, "-o",
                              dir.file("g.json"), "-q"},
                             dir);
    BOOST_REQUIRE_MESSAGE(g.exited && g.exit_code == 0, g);
    nlohmann::json gj = nlohmann::json::parse(read_text(dir.file("g.json")));
    BOOST_TEST(gj.at("pareto_k_verdict") == "good");
    BOOST_TEST((gj.at("pareto_k").is_null() || gj.at("pareto_k").get<double>() < 0.5));
  }

  std::string funnel = dir.write("funnel.lat", kFunnel);
  for (std::string seed : {"1", "2"}) {
    RunResult f = run_latent({"fit", funnel, "--method", "pathfinder", "--seed", seed, "-o", dir.file("f.csv"), "-o",
                              dir.file("f.json"), "-q"},
                             dir);
    BOOST_REQUIRE_MESSAGE(f.exited && f.exit_code == 0, f);
    nlohmann::json fj = nlohmann::json::parse(read_text(dir.file("f.json")));
    BOOST_TEST(fj.at("pareto_k").get<double>() > 0.7, "seed " << seed << ": " << fj.at("pareto_k"));
    BOOST_TEST(fj.at("pareto_k_verdict") == "unreliable");
    BOOST_TEST(contains(f.err, "unreliable"), f);  // printed even with -q
    // the k-hat stored is psis() of the pooled draws' ratios, not of the resampled ones
    Csv c = read_csv(dir.file("f.csv"));
    BOOST_TEST(has_comment(c, "from 4000 draws"));
  }
}

BOOST_AUTO_TEST_CASE(same_seed_same_output_whatever_the_threads) {
  TempDir dir;
  std::string model = dir.write("reg.lat", kRegression), data = dir.write("reg.json", regression_json());
  auto fit = [&](const std::string& name, const std::string& threads, const std::string& seed) {
    RunResult r = run_latent({"fit", model, "--data", data, "--method", "pathfinder", "--num-paths", "5", "--draws",
                              "300", "--threads", threads, "--seed", seed, "-o", dir.file(name + ".csv"), "-o",
                              dir.file(name + ".json"), "-q"},
                             dir);
    BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
    return read_text(dir.file(name + ".csv")) + read_text(dir.file(name + ".json"));
  };
  std::string one = fit("one", "1", "9"), two = fit("two", "2", "9"), five = fit("five", "5", "9");
  BOOST_TEST((one == two));
  BOOST_TEST((one == five));
  BOOST_TEST((one != fit("other", "2", "10")));
}

BOOST_AUTO_TEST_CASE(option_errors_name_the_option) {
  TempDir dir;
  std::string model = dir.write("normal.lat", kNormalMean), data = dir.write("normal.json", kNormalMeanData);
  auto error = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"fit", model, "--data", data, "--method", "pathfinder"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = run_latent(args, dir);
    BOOST_TEST((r.exited && r.exit_code == 1), r);
    BOOST_TEST(r.out.empty(), r);
    return r.err;
  };
  BOOST_TEST(contains(error({"--num-paths", "0"}), "--num-paths: must be an integer from 1 to 1024, got '0'"));
  BOOST_TEST(contains(error({"--history-size", "0"}), "--history-size: must be an integer from 1 to 1000, got '0'"));
  BOOST_TEST(contains(error({"--num-elbo-draws", "0"}), "--num-elbo-draws: must be an integer from 1 to 100000"));
  BOOST_TEST(contains(error({"--draws", "-3"}), "--draws: must be an integer from 0 to 1000000, got '-3'"));
  BOOST_TEST(contains(error({"--draws", "0"}), "--draws: pathfinder needs at least one draw per path"));
  BOOST_TEST(contains(error({"--draws", "1000000", "--num-paths", "2"}), "lower --draws or --num-paths"));
  BOOST_TEST(contains(error({"--draws", "5", "--num-paths", "2"}), "--psis-resample needs at least 21 pooled draws"));
  BOOST_TEST(contains(error({"--threads", "0"}), "--threads: must be an integer from 1 to 256"));
  BOOST_TEST(contains(error({"--grad-samples", "2"}), "--grad-samples is an option of --method advi and fullrank"));
  // pathfinder's options are refused by the other methods
  RunResult r = run_latent({"fit", model, "--data", data, "--method", "laplace", "--num-paths", "2"}, dir);
  BOOST_TEST((r.exited && r.exit_code == 1), r);
  BOOST_TEST(contains(r.err, "--num-paths is an option of --method pathfinder, not of --method laplace"), r);
  // too few pooled draws without resampling: k-hat not computed, the fit still runs
  RunResult few = run_latent({"fit", model, "--data", data, "--method", "pathfinder", "--draws", "5", "--num-paths",
                              "2", "--no-psis-resample", "-o", dir.file("few.json")},
                             dir);
  BOOST_REQUIRE_MESSAGE(few.exited && few.exit_code == 0, few);
  BOOST_TEST(nlohmann::json::parse(read_text(dir.file("few.json"))).at("pareto_k_verdict") == "not computed");
  // a model without parameters
  std::string empty = dir.write("empty.lat", "data { real y; } model { }");
  RunResult none = run_latent({"fit", empty, "--data", dir.write("y.json", "{\"y\": 1}"), "--method", "pathfinder"}, dir);
  BOOST_TEST((none.exited && none.exit_code == 1), none);
  BOOST_TEST(contains(none.err, "no parameters"), none);
  // an improper posterior: every path's L-BFGS diverges, one message
  std::string improper = dir.write("improper.lat", "parameters { real a; } model { target += a; }");
  RunResult div = run_latent({"fit", improper, "--method", "pathfinder", "--num-paths", "2"}, dir);
  BOOST_TEST((div.exited && div.exit_code == 1), div);
  BOOST_TEST(contains(div.err, "every path failed"), div);
  BOOST_TEST(contains(div.err, "diverge"), div);
}
