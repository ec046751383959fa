// Deterministic ADVI (runtime/inference/dadvi.hpp, fit --method dadvi):
//  1. the fixed draws are antithetic pairs;
//  2. on Gaussian posteriors the optimum is known in closed form given the draws:
//     the mean is the posterior mean exactly (the draws' mean is 0), the mean-field
//     scale of a 1-d posterior is sd / sqrt(mean(eps^2)) (Monte Carlo error of M
//     draws), and the linear-response covariance is the posterior covariance;
//  3. eight schools (non-centred): posterior means within a stated tolerance of the
//     NUTS reference (tests/data/posteriordb/reference.json);
//  4. the command line: JSON, eval reads the fit, errors.
#define BOOST_TEST_MODULE dadvi
#include "tests/support/conjugate_models.hpp"
#include "tests/support/variational_fixture.hpp"

#include "runtime/inference/dadvi.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>

using namespace latent;
using namespace latent::testing;

namespace {

DadviOptions options(Family family, int draws, uint64_t seed) {
  DadviOptions o;
  o.family = family;
  o.draws = draws;
  o.seed = seed;
  return o;
}

std::vector<std::vector<double>> read_rows(const std::string& text, std::vector<std::string>& header) {
  std::vector<std::vector<double>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream l(line);
    while (std::getline(l, cell, ',')) cells.push_back(cell);
    if (header.empty()) {
      header = cells;
      continue;
    }
    std::vector<double> row;
    for (auto& x : cells) row.push_back(std::stod(x));
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_CASE(draws_are_antithetic_pairs) {
  std::vector<double> e = antithetic_normal_draws(3, 6, 11);
  BOOST_REQUIRE(e.size() == 18u);
  for (size_t pair = 0; pair < 3; ++pair)
    for (size_t i = 0; i < 3; ++i) BOOST_TEST(e[2 * pair * 3 + i] == -e[(2 * pair + 1) * 3 + i]);
  BOOST_TEST(e[0] != e[3]);  // pairs differ
  BOOST_TEST(e == antithetic_normal_draws(3, 6, 11));
}

BOOST_AUTO_TEST_CASE(normal_mean_is_exact_and_scale_has_monte_carlo_error) {
  auto m = make_model(kNormalMean, kNormalMeanData);
  const double sd = 1 / std::sqrt(kPrecision);
  for (uint64_t seed : {0, 1, 2}) {
    DadviResult r = fit_dadvi(*m, options(Family::MeanField, 30, seed));
    BOOST_TEST_CONTEXT("seed " << seed) {
      BOOST_TEST(r.converged, r.message);
      // exact up to L-BFGS's tolerance (relative gradient 1e4 machine epsilons: ~1e-6 in x)
      BOOST_TEST(std::fabs(r.phi[0] - kMean) < 1e-5 * sd, "mean " << r.phi[0] << " vs " << kMean);
      // The optimum of -(mu + s eps - m)^2 / (2 sd^2) averaged over the draws, plus log s:
      // s = sd / sqrt(mean(eps^2)) (the draws' mean is 0).
      double ms = 0;
      for (double e : r.noise) ms += e * e / static_cast<double>(r.noise.size());
      double scale = std::exp(r.phi[1]);
      BOOST_TEST(close_rel(scale, sd / std::sqrt(ms), 1e-5), "scale " << scale << " vs " << sd / std::sqrt(ms));
      // Monte Carlo error: mean(eps^2) of 15 independent squares has sd sqrt(2 / 15),
      // so scale / sd has sd about 0.18: within 4 of them.
      BOOST_TEST(std::fabs(scale / sd - 1) < 4 * 0.5 * std::sqrt(2.0 / 15));
      // The linear-response variance is the posterior variance.
      BOOST_REQUIRE(r.linear_response_covariance.size() == 1u);
      BOOST_TEST(close_rel(r.linear_response_covariance[0], 1 / kPrecision, 1e-6));
    }
  }
}

BOOST_AUTO_TEST_CASE(regression_mean_and_linear_response_covariance_are_exact) {
  auto m = make_model(kRegression, regression_json());
  std::vector<double> mean;
  Mat cov;
  regression_posterior(mean, cov);
  DadviResult mf = fit_dadvi(*m, options(Family::MeanField, 30, 4));
  BOOST_TEST(mf.converged, mf.message);
  BOOST_REQUIRE(mf.linear_response_covariance.size() == 4u);
  for (int i = 0; i < 2; ++i) {
    BOOST_TEST(std::fabs(mf.phi[i] - mean[i]) < 1e-5 * std::sqrt(cov(i, i)), "mean " << i << ": " << mf.phi[i] << " vs " << mean[i]);
    for (int j = 0; j < 2; ++j)
      BOOST_TEST(close_rel(mf.linear_response_covariance[static_cast<size_t>(2 * i + j)], cov(i, j), 1e-5),
                 "LR covariance " << i << j);
  }
  // Full-rank: the mean exactly; the covariance L L' within Monte Carlo error of the
  // draws (2000 pairs: the sample second moment is within a few percent of I).
  DadviResult fr = fit_dadvi(*m, options(Family::FullRank, 4000, 5));
  BOOST_TEST(fr.converged, fr.message);
  Mat q = q_covariance(Family::FullRank, fr.phi, 2);
  for (int i = 0; i < 2; ++i) {
    BOOST_TEST(std::fabs(fr.phi[i] - mean[i]) < 1e-5 * std::sqrt(cov(i, i)), "full-rank mean " << i << ": " << fr.phi[i] << " vs " << mean[i]);
    for (int j = 0; j < 2; ++j)
      BOOST_TEST(std::fabs(q(i, j) - cov(i, j)) < 0.1 * std::sqrt(cov(i, i) * cov(j, j)), "full-rank cov " << i << j);
  }
  BOOST_TEST(fr.linear_response_covariance.empty());  // mean-field only
}

// Eight schools, non-centred: worst posterior-mean error over theta, mu and tau in
// posterior sds of the NUTS reference, with the default settings and seed 0; the
// draws' Monte Carlo error (1000 draws) is about 0.03 sd. Measured: mean-field 0.27,
// full-rank 0.23 (seeds 0-3: 0.19-0.30 and 0.17-0.29).
BOOST_AUTO_TEST_CASE(eight_schools_against_nuts) {
  TempDir dir;
  nlohmann::json ref = nlohmann::json::parse(read_text(std::string(LATENT_SOURCE_DIR) +
                                                       "/tests/data/posteriordb/reference.json"))
                           .at("posteriors")
                           .at("eight_schools-eight_schools_noncentered");
  for (std::string family : {"meanfield", "fullrank"}) {
    RunResult r = run_latent({"fit", example_dir("eight_schools") + "/model.lat", "--data",
                              example_dir("eight_schools") + "/data.json", "--method", "dadvi", "--family", family,
                              "-o", dir.file(family + ".csv"), "-o", dir.file(family + ".json"), "-q"},
                             dir);
    BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
    std::vector<std::string> header;
    std::vector<std::vector<double>> rows = read_rows(read_text(dir.file(family + ".csv")), header);
    BOOST_REQUIRE(rows.size() == 1001u);  // the mean, then 1000 draws
    double worst = 0;
    for (const auto& v : ref.at("variables")) {
      std::string name = v.at("name");
      if (name.find('[') != std::string::npos) {
        name.replace(name.find('['), 1, ".");
        name.pop_back();  // ']'
      }
      auto it = std::find(header.begin(), header.end(), name);
      BOOST_REQUIRE_MESSAGE(it != header.end(), "no column " << name);
      size_t c = static_cast<size_t>(it - header.begin());
      double sum = 0;
      for (size_t k = 1; k < rows.size(); ++k) sum += rows[k][c];
      double err = std::fabs(sum / 1000 - v.at("mean").get<double>()) / v.at("sd").get<double>();
      worst = std::max(worst, err);
    }
    BOOST_TEST(worst < 0.35, family << ": worst mean error " << worst << " posterior sds");
    nlohmann::json j = nlohmann::json::parse(read_text(dir.file(family + ".json")));
    BOOST_TEST(j.at("method") == "dadvi");
    BOOST_TEST(j.at("family") == family);
    BOOST_TEST(j.at("converged") == true);
    BOOST_TEST(j.at("dadvi_draws") == (family == "meanfield" ? 30 : 2 * (10 + 55)));
    BOOST_TEST(j.at("pareto_k").is_number());
    BOOST_TEST(j.contains("linear_response") == (family == "meanfield"));
  }
}

BOOST_AUTO_TEST_CASE(command_line) {
  TempDir dir;
  std::string model = dir.write("normal.lat", kNormalMean), data = dir.write("normal.json", kNormalMeanData);
  RunResult r = run_latent({"fit", model, "--data", data, "--method", "dadvi", "--dadvi-draws", "40", "--seed", "2",
                            "-o", dir.file("fit.json"), "-o", dir.file("draws.csv")},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  BOOST_TEST(contains(r.err, "Pareto k-hat"), r);
  nlohmann::json j = nlohmann::json::parse(read_text(dir.file("fit.json")));
  BOOST_TEST(j.at("dadvi_draws") == 40);
  BOOST_TEST(std::fabs(j.at("mu")[0].get<double>() - kMean) < 1e-5);
  BOOST_TEST(close_rel(j.at("linear_response").at("sd")[0].get<double>(), 1 / std::sqrt(kPrecision), 1e-6));
  // The same numbers as the API with the same seed and draws.
  auto m = make_model(kNormalMean, kNormalMeanData);
  DadviResult api = fit_dadvi(*m, options(Family::MeanField, 40, 2));
  BOOST_TEST(j.at("omega")[0].get<double>() == api.phi[1]);
  // eval reads a DADVI fit
  RunResult e = run_latent({"eval", model, "--data", data, "--fit", dir.file("fit.json"), "--iwae", "100"}, dir);
  BOOST_REQUIRE_MESSAGE(e.exited && e.exit_code == 0, e);

  RunResult odd = run_latent({"fit", model, "--data", data, "--method", "dadvi", "--dadvi-draws", "31"}, dir);
  BOOST_TEST((odd.exited && odd.exit_code == 1), odd);
  BOOST_TEST(contains(odd.err, "--dadvi-draws must be even"), odd);
  RunResult family = run_latent({"fit", model, "--data", data, "--method", "advi", "--family", "fullrank"}, dir);
  BOOST_TEST((family.exited && family.exit_code == 1), family);
  BOOST_TEST(contains(family.err, "--family is an option of --method dadvi, not of --method advi"), family);
  // An improper posterior (a flat direction) has no optimum: an error, not a fit.
  std::string flat = dir.write("flat.lat", "parameters { real a; real b; } model { a ~ normal(0, 1); }");
  RunResult improper = run_latent({"fit", flat, "--method", "dadvi", "-q"}, dir);
  BOOST_TEST((improper.exited && improper.exit_code == 1), improper);
  BOOST_TEST(contains(improper.err, "improper"), improper);
  BOOST_TEST(improper.out.empty());
}
