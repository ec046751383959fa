// Generated quantities for every method, and standalone (`latent generate`):
// a conjugate model's posterior predictive against its closed form; MAP and ADVI
// outputs drawing from seeded streams; print() and reject().
#define BOOST_TEST_MODULE generated_quantities
#include <boost/test/unit_test.hpp>

#include "data/draws_csv.hpp"
#include "tests/support/model_fixture.hpp"

#include <boost/math/distributions/normal.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace latent;
using namespace latent::testing;

namespace {

// y_n ~ normal(mu, 1), mu ~ normal(0, 10): mu | y ~ normal(m, s), and a new
// observation's posterior predictive is normal(m, sqrt(s^2 + 1)).
const char* kConjugate = R"(
data { int N; vector[N] y; }
parameters { real mu; }
model { mu ~ normal(0, 10); y ~ normal(mu, 1); }
generated quantities { real y_new = normal_rng(mu, 1); }
)";
const char* kData = R"({"N": 4, "y": [0.3, 1.9, 1.2, 0.8]})";

void posterior(double* m, double* s) {
  const double sum = 0.3 + 1.9 + 1.2 + 0.8, n = 4, prior_precision = 1.0 / 100;
  double precision = prior_precision + n;
  *m = sum / precision;
  *s = std::sqrt(1 / precision);
}

std::vector<double> column(const DrawsTable& t, const std::string& name) {
  int64_t c = t.column(name);
  BOOST_REQUIRE_MESSAGE(c >= 0, "no column " << name);
  std::vector<double> out;
  for (auto& row : t.rows) out.push_back(row[static_cast<size_t>(c)]);
  return out;
}

}  // namespace

// Draws from the exact posterior, given to `latent generate`: the generated
// y_new follow the closed-form posterior predictive (KS at the 0.1% level, moments).
BOOST_AUTO_TEST_CASE(posterior_predictive_of_a_conjugate_model) {
  TempDir dir;
  double m, s;
  posterior(&m, &s);
  const int n = 8000;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> mu_draw(m, s);
  std::string csv = "# draws from the exact posterior\nlp__,mu\n";
  for (int i = 0; i < n; ++i) csv += "0," + std::to_string(mu_draw(rng)) + "\n";
  std::string model = dir.write("conjugate.lat", kConjugate), data = dir.write("data.json", kData);
  std::string draws = dir.write("draws.csv", csv);
  RunResult r = run_latent({"generate", model, "--data", data, "--draws", draws, "-o", dir.file("gq.csv"), "--seed", "5"},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  DrawsTable out = read_draws_csv(dir.file("gq.csv"));
  BOOST_REQUIRE(out.rows.size() == static_cast<size_t>(n));
  BOOST_TEST((out.columns == std::vector<std::string>{"lp__", "mu", "y_new"}));
  std::vector<double> y = column(out, "y_new");
  double sd = std::sqrt(s * s + 1);
  double mean = std::accumulate(y.begin(), y.end(), 0.0) / n;
  BOOST_TEST(std::fabs(mean - m) < 5 * sd / std::sqrt(static_cast<double>(n)), mean << " vs " << m);
  std::sort(y.begin(), y.end());
  boost::math::normal predictive(m, sd);
  double d = 0;
  for (int i = 0; i < n; ++i) {
    double f = boost::math::cdf(predictive, y[static_cast<size_t>(i)]);
    d = std::max({d, (i + 1.0) / n - f, f - static_cast<double>(i) / n});
  }
  BOOST_TEST(d < 1.949 / std::sqrt(static_cast<double>(n)), "KS statistic " << d);
  // The same seed gives the same quantities; another seed others.
  RunResult again = run_latent({"generate", model, "--data", data, "--draws", draws, "--seed", "5"}, dir);
  RunResult other = run_latent({"generate", model, "--data", data, "--draws", draws, "--seed", "6"}, dir);
  BOOST_TEST(again.out == read_text(dir.file("gq.csv")));
  BOOST_TEST(other.out != again.out);
}

BOOST_AUTO_TEST_CASE(map_and_advi_generate_from_seeded_streams) {
  TempDir dir;
  std::string model = dir.write("conjugate.lat", kConjugate), data = dir.write("data.json", kData);
  auto fit = [&](const std::vector<std::string>& extra, const std::string& seed) {
    std::vector<std::string> args{"fit", model, "--data", data, "--seed", seed, "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = run_latent(args, dir);
    // 3: ADVI ended at --iter without meeting --tol-rel-obj (its output is written all the same).
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0 || r.exit_code == 3, r);
    return parse_draws_csv(r.out, "stdout");
  };
  DrawsTable map1 = fit({"--method", "map"}, "1"), map1b = fit({"--method", "map"}, "1"), map2 = fit({"--method", "map"}, "2");
  BOOST_TEST(column(map1, "y_new") == column(map1b, "y_new"));
  BOOST_TEST(column(map1, "y_new") != column(map2, "y_new"));
  DrawsTable advi = fit({"--method", "advi", "--draws", "200"}, "3");
  std::vector<double> y = column(advi, "y_new"), mu = column(advi, "mu");
  // Each draw's y_new is a draw around that draw's mu (sd 1): never equal across draws.
  std::sort(y.begin(), y.end());
  BOOST_TEST((std::adjacent_find(y.begin(), y.end()) == y.end()));
  double dev = 0;
  for (size_t i = 1; i < mu.size(); ++i) dev += std::pow(column(advi, "y_new")[i] - mu[i], 2);
  dev /= static_cast<double>(mu.size() - 1);
  BOOST_TEST(std::fabs(dev - 1) < 0.35, "mean squared deviation from mu " << dev);
}

BOOST_AUTO_TEST_CASE(print_writes_to_standard_error) {
  TempDir dir;
  std::string model = dir.write("print.lat", R"(
transformed data { print("transformed data: ", 40 + 2); }
parameters { real mu; }
model { mu ~ normal(0, 1); print("mu = ", mu); }
)");
  RunResult r = run_latent({"grad", model, "--unconstrained", "[0.5]"}, dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  BOOST_TEST(contains(r.err, "transformed data: 42\n"), r);
  BOOST_TEST(contains(r.err, "mu = 0.5\n"), r);
  BOOST_TEST(!contains(r.out, "mu = "), r);
}

BOOST_AUTO_TEST_CASE(reject_in_generated_quantities_stops_with_its_message) {
  TempDir dir;
  std::string model = dir.write("reject.lat", R"(
parameters { real mu; }
model { mu ~ normal(3, 0.1); }
generated quantities { if (mu > 2) reject("mu is too large: ", mu); }
)");
  RunResult r = run_latent({"fit", model, "--method", "map", "-q"}, dir);
  BOOST_TEST(r.exit_code == 1, r);
  BOOST_TEST(contains(r.err, "reject.lat:4:36: reject: mu is too large: 3"), r);
  BOOST_TEST(r.out.empty(), r);
}
