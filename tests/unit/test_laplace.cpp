// The Laplace approximation (runtime/inference/laplace.hpp, fit --method laplace):
//  1. the finite-difference Hessian against a Hessian derived by hand;
//  2. on Gaussian posteriors (normal mean, linear regression with known noise) the
//     mode and covariance equal the exact posterior's;
//  3. on a gamma posterior (a constrained parameter) the draws of log(sigma) follow
//     N(log(a/b), 1/a), the mode and Hessian derived by hand on the unconstrained scale;
//  4. the command line: CmdStan's laplace CSV (log_p__, log_g__ by their definitions),
//     JSON, Pareto-k̂ (good on a Gaussian posterior, unreliable on Neal's funnel),
//     --psis-resample, and the errors (a flat direction, options of other methods);
//  5. ADVI's draws carry k̂ the same way (cli/approximate_draws.cpp is shared).
#define BOOST_TEST_MODULE laplace
#include "tests/support/conjugate_models.hpp"
#include "tests/support/csv_file.hpp"
#include "tests/support/variational_fixture.hpp"

#include "runtime/inference/laplace.hpp"
#include "runtime/inference/psis.hpp"
#include "runtime/optim/finite_difference_hessian.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>
#include <sstream>

using namespace latent;
using namespace latent::testing;

namespace {

// sigma ~ gamma(a, b): on u = log(sigma) the density with the Jacobian is
// sigma^(a-1) e^(-b sigma) * sigma, so log p(u) = a u - b e^u + const: mode
// u* = log(a / b), second derivative -b e^u* = -a.
const char* kGamma = R"(
data { real a; real b; }
parameters { real<lower=0> sigma; }
model { sigma ~ gamma(a, b); }
)";
const double kA = 6, kB = 2;

// Neal's funnel: y ~ N(0, 3), x ~ N(0, exp(y / 2)). The mode of the density is at
// y = -9 (with two x's: d/dy of -y^2/18 - y = 0), where the normal approximation is
// far too narrow in x for most of the posterior's mass.
const char* kFunnel = R"(
parameters { real y; vector[2] x; }
model { y ~ normal(0, 3); x ~ normal(0, exp(y / 2)); }
)";

}  // namespace

BOOST_AUTO_TEST_CASE(finite_difference_hessian_of_a_known_function) {
  // f = x^2 y + sin(x) y^3 + exp(0.3 x):  f_xx = 2y - sin(x) y^3 + 0.09 exp(0.3x),
  // f_xy = 2x + 3 cos(x) y^2, f_yy = 6 sin(x) y.
  auto gradient = [](const double* p, double* g) {
    double x = p[0], y = p[1];
    g[0] = 2 * x * y + std::cos(x) * y * y * y + 0.3 * std::exp(0.3 * x);
    g[1] = x * x + 3 * std::sin(x) * y * y;
  };
  for (std::vector<double> p : {std::vector<double>{0.7, -1.3}, std::vector<double>{25.0, 0.4}}) {
    double x = p[0], y = p[1];
    std::vector<double> h = finite_difference_hessian(gradient, p);
    std::vector<double> exact = {2 * y - std::sin(x) * y * y * y + 0.09 * std::exp(0.3 * x), 2 * x + 3 * std::cos(x) * y * y,
                                 2 * x + 3 * std::cos(x) * y * y, 6 * std::sin(x) * y};
    for (size_t k = 0; k < 4; ++k) BOOST_TEST(close(h[k], exact[k], 1e-7), "entry " << k << ": " << h[k] << " vs " << exact[k]);
    BOOST_TEST(h[1] == h[2]);  // symmetrised
  }
}

BOOST_AUTO_TEST_CASE(gaussian_posteriors_are_exact) {
  auto m = make_model(kNormalMean, kNormalMeanData);
  LaplaceApproximation one(*m, {kMean});
  BOOST_TEST(close_rel(one.hessian()[0], -kPrecision, 1e-8));
  BOOST_TEST(close_rel(one.covariance()[0], 1 / kPrecision, 1e-8));

  auto r = make_model(kRegression, regression_json());
  std::vector<double> mean;
  Mat cov;
  regression_posterior(mean, cov);
  LaplaceApproximation two(*r, mean);
  std::vector<double> g = gradient(*r, mean);
  BOOST_TEST(std::fabs(g[0]) + std::fabs(g[1]) < 1e-9);  // the exact mean is the mode
  std::vector<double> c = two.covariance();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      BOOST_TEST(close_rel(c[static_cast<size_t>(i * 2 + j)], cov(i, j), 1e-7), "cov " << i << j);
  // draws: z = mode + L^-T eps with log_g = -eps'eps / 2 = (z - mode)' H (z - mode) / 2
  std::mt19937_64 rng(5);
  for (int k = 0; k < 5; ++k) {
    double log_g = 0;
    std::vector<double> z = two.draw(rng, &log_g);
    std::vector<double> d = {z[0] - mean[0], z[1] - mean[1]};
    const std::vector<double>& H = two.hessian();
    double quad = d[0] * (H[0] * d[0] + H[1] * d[1]) + d[1] * (H[2] * d[0] + H[3] * d[1]);
    BOOST_TEST(close(log_g, 0.5 * quad, 1e-9));
  }
}

BOOST_AUTO_TEST_CASE(fit_laplace_on_a_gaussian_posterior) {
  TempDir dir;
  std::string model = dir.write("normal.lat", kNormalMean), data = dir.write("normal.json", kNormalMeanData);
  RunResult r = run_latent({"fit", model, "--data", data, "--method", "laplace", "--draws", "4000", "--seed", "3",
                            "-o", dir.file("draws.csv"), "-o", dir.file("fit.json")},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  BOOST_TEST(contains(r.err, "Pareto k-hat = "), r);
  BOOST_TEST(contains(r.err, ": good"), r);
  nlohmann::json j = nlohmann::json::parse(read_text(dir.file("fit.json")));
  BOOST_TEST(j.at("method") == "laplace");
  BOOST_TEST(close_rel(j.at("mode")[0].get<double>(), kMean, 1e-6));
  BOOST_TEST(close_rel(j.at("hessian")[0][0].get<double>(), -kPrecision, 1e-6));
  BOOST_TEST(close_rel(j.at("parameters").at("mu").get<double>(), kMean, 1e-6));
  // The posterior is Gaussian: log_p__ - log_g__ is constant up to rounding, k-hat is -inf (null in JSON).
  BOOST_TEST(j.at("pareto_k").is_null());
  BOOST_TEST(j.at("pareto_k_verdict") == "good");
  BOOST_TEST(j.at("psis_resampled") == false);

  Csv c = read_csv(dir.file("draws.csv"));
  BOOST_TEST((c.header == std::vector<std::string>{"log_p__", "log_g__", "mu"}));
  BOOST_REQUIRE(c.rows.size() == 4000u);
  BOOST_TEST(has_comment(c, "# pareto_k = "));
  auto m = make_model(kNormalMean, kNormalMeanData);
  std::vector<double> mu;
  for (const auto& row : c.rows) {
    double e = (row[2] - kMean) * std::sqrt(kPrecision);
    BOOST_TEST(close_rel(row[0], lp(*m, {row[2]}), 1e-12));  // log_p__: the log density with the Jacobian
    BOOST_TEST(close(row[1], -0.5 * e * e, 1e-8));           // log_g__: CmdStan's unnormalised normal
    mu.push_back(row[2]);
  }
  // The draws are N(mean, 1 / precision): mean within 4 standard errors, sd within 4 of its (sd / sqrt(2 S)).
  MeanSe s = mean_se(mu);
  double sd = 1 / std::sqrt(kPrecision);
  BOOST_TEST(std::fabs(s.mean - kMean) < 4 * sd / std::sqrt(4000.0));
  BOOST_TEST(std::fabs(s.sd - sd) < 4 * sd / std::sqrt(8000.0));
  std::vector<double> log_ratios;
  for (const auto& row : c.rows) log_ratios.push_back(row[0] - row[1]);
  BOOST_TEST((psis(log_ratios).pareto_k == -INFINITY));
}

BOOST_AUTO_TEST_CASE(fit_laplace_on_a_constrained_parameter) {
  TempDir dir;
  std::string model = dir.write("gamma.lat", kGamma), data = dir.write("gamma.json", R"({"a": 6, "b": 2})");
  RunResult r = run_latent({"fit", model, "--data", data, "--method", "laplace", "--draws", "4000", "-o",
                            dir.file("draws.csv"), "-o", dir.file("fit.json"), "-q"},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  nlohmann::json j = nlohmann::json::parse(read_text(dir.file("fit.json")));
  const double mode = std::log(kA / kB);
  BOOST_TEST(close(j.at("mode")[0].get<double>(), mode, 1e-6));
  BOOST_TEST(close_rel(j.at("hessian")[0][0].get<double>(), -kA, 1e-6));
  BOOST_TEST(close_rel(j.at("parameters").at("sigma").get<double>(), kA / kB, 1e-6));  // exp(mode)
  Csv c = read_csv(dir.file("draws.csv"));
  BOOST_REQUIRE(c.rows.size() == 4000u);
  std::vector<double> u;
  auto m = make_model(kGamma, R"({"a": 6, "b": 2})");
  for (const auto& row : c.rows) {
    double sigma = row[c.column("sigma")], v = std::log(sigma);
    BOOST_REQUIRE(sigma > 0);
    // `~` drops gamma_lpdf's constant a log b - lgamma(a) (as Stan): a v - b e^v exactly
    BOOST_TEST(close(row[0], kA * v - kB * sigma, 1e-9), "log_p__ " << row[0]);
    // log_g__ = (v - mode)' H (v - mode) / 2 with the fit's mode and Hessian (checked above against the hand's)
    double fit_mode = j.at("mode")[0].get<double>(), h = j.at("hessian")[0][0].get<double>();
    BOOST_TEST(close(row[1], 0.5 * h * (v - fit_mode) * (v - fit_mode), 1e-9), "log_g__ " << row[1]);
    u.push_back(v);
  }
  // The k-hat in the files is psis() of the columns log_p__ - log_g__; the gamma on the
  // log scale is close to its normal approximation.
  std::vector<double> log_ratios;
  for (const auto& row : c.rows) log_ratios.push_back(row[0] - row[1]);
  BOOST_TEST(close(psis(log_ratios).pareto_k, j.at("pareto_k").get<double>(), 1e-9));
  BOOST_TEST(j.at("pareto_k").get<double>() < 0.5);
  MeanSe s = mean_se(u);
  double sd = 1 / std::sqrt(kA);
  BOOST_TEST(std::fabs(s.mean - mode) < 4 * sd / std::sqrt(4000.0), "mean of log(sigma) " << s.mean);
  BOOST_TEST(std::fabs(s.sd - sd) < 4 * sd / std::sqrt(8000.0), "sd of log(sigma) " << s.sd);
}

BOOST_AUTO_TEST_CASE(pareto_k_flags_the_funnel_and_psis_resamples) {
  TempDir dir;
  std::string model = dir.write("funnel.lat", kFunnel);
  RunResult r = run_latent({"fit", model, "--method", "laplace", "--draws", "2000", "-o", dir.file("f.csv"), "-o",
                            dir.file("f.json"), "-q"},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  nlohmann::json j = nlohmann::json::parse(read_text(dir.file("f.json")));
  BOOST_TEST(close(j.at("mode")[0].get<double>(), -9.0, 1e-5));
  BOOST_TEST(j.at("pareto_k").get<double>() > 0.7);
  BOOST_TEST(j.at("pareto_k_verdict") == "unreliable");
  BOOST_TEST(contains(r.err, "unreliable"), r);  // printed even with -q

  // --psis-resample: as many draws, each one of the approximation's, the comment says so
  std::string normal = dir.write("normal.lat", kNormalMean), data = dir.write("normal.json", kNormalMeanData);
  auto fit = [&](const std::string& out, bool resample) {
    std::vector<std::string> args = {"fit", normal, "--data", data, "--method", "laplace", "--draws", "500", "-o", out, "-q"};
    if (resample) args.push_back("--psis-resample");
    return run_latent(args, dir);
  };
  RunResult plain = fit(dir.file("plain.csv"), false), resampled = fit(dir.file("resampled.csv"), true);
  BOOST_REQUIRE_MESSAGE(plain.exited && plain.exit_code == 0, plain);
  BOOST_REQUIRE_MESSAGE(resampled.exited && resampled.exit_code == 0, resampled);
  Csv a = read_csv(dir.file("plain.csv")), b = read_csv(dir.file("resampled.csv"));
  BOOST_REQUIRE(b.rows.size() == 500u);
  BOOST_TEST(has_comment(b, "resampled"));
  BOOST_TEST(!has_comment(a, "resampled"));
  std::set<double> originals;
  for (auto& row : a.rows) originals.insert(row[2]);
  std::set<double> distinct;
  for (auto& row : b.rows) {
    BOOST_TEST(originals.count(row[2]) == 1u);
    distinct.insert(row[2]);
  }
  BOOST_TEST(distinct.size() < 500u);  // with replacement
  BOOST_TEST(distinct.size() > 200u);  // near-equal weights: ~(1 - 1/e) of the draws appear
}

BOOST_AUTO_TEST_CASE(laplace_errors) {
  TempDir dir;
  // b appears nowhere: the density is flat in b, the Hessian singular
  std::string flat = dir.write("flat.lat", "parameters { real a; real b; } model { a ~ normal(0, 1); }");
  RunResult r = run_latent({"fit", flat, "--method", "laplace", "-q"}, dir);
  BOOST_TEST((r.exited && r.exit_code == 1), r);
  BOOST_TEST(contains(r.err, "not positive definite"), r);
  BOOST_TEST(contains(r.err, "direction of b"), r);
  BOOST_TEST(r.out.empty());
  std::string normal = dir.write("normal.lat", kNormalMean), data = dir.write("normal.json", kNormalMeanData);
  RunResult grad_samples = run_latent({"fit", normal, "--data", data, "--method", "laplace", "--grad-samples", "3"}, dir);
  BOOST_TEST((grad_samples.exited && grad_samples.exit_code == 1), grad_samples);
  BOOST_TEST(contains(grad_samples.err, "--grad-samples is an option of --method advi and fullrank, not of --method laplace"),
             grad_samples);
  RunResult few = run_latent({"fit", normal, "--data", data, "--method", "laplace", "--draws", "10", "--psis-resample"}, dir);
  BOOST_TEST((few.exited && few.exit_code == 1), few);
  BOOST_TEST(contains(few.err, "--psis-resample needs --draws of at least 21"), few);
  // too few draws for k-hat: reported as not computed, not as a verdict
  RunResult ten = run_latent({"fit", normal, "--data", data, "--method", "laplace", "--draws", "10", "-o", dir.file("t.json")}, dir);
  BOOST_REQUIRE_MESSAGE(ten.exited && ten.exit_code == 0, ten);
  nlohmann::json j = nlohmann::json::parse(read_text(dir.file("t.json")));
  BOOST_TEST(j.at("pareto_k").is_null());
  BOOST_TEST(j.at("pareto_k_verdict") == "not computed");
}

BOOST_AUTO_TEST_CASE(advi_draws_carry_pareto_k) {
  TempDir dir;
  std::string model = dir.write("gamma.lat", kGamma), data = dir.write("gamma.json", R"({"a": 6, "b": 2})");
  // The ELBO is near 0 here, so its relative change hovers around any tolerance
  // and whether the fit converges depends on the seed: a fixed number of
  // iterations instead (--tol-rel-obj 0: exit status 0 at --iter).
  RunResult r = run_latent({"fit", model, "--data", data, "--method", "advi", "--draws", "300", "--seed", "2",
                            "--iter", "2000", "--tol-rel-obj", "0", "-o", dir.file("a.csv"), "-o", dir.file("a.json")},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  BOOST_TEST(contains(r.err, "latent: Pareto k-hat = "), r);
  nlohmann::json j = nlohmann::json::parse(read_text(dir.file("a.json")));
  Csv c = read_csv(dir.file("a.csv"));
  BOOST_REQUIRE(c.rows.size() == 301u);  // the mean, then the draws
  BOOST_TEST(has_comment(c, "# pareto_k = "));
  std::vector<double> log_ratios;
  for (size_t k = 1; k < c.rows.size(); ++k) log_ratios.push_back(c.rows[k][c.column("log_p__")] - c.rows[k][c.column("log_g__")]);
  PsisResult p = psis(log_ratios);
  BOOST_TEST(close(p.pareto_k, j.at("pareto_k").get<double>(), 1e-9));
  BOOST_TEST(close(p.ess, j.at("psis_ess").get<double>(), 1e-9));
  BOOST_TEST(j.at("pareto_k_verdict") == pareto_k_verdict(p.pareto_k));
}
