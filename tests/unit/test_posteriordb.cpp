// NUTS on the posteriordb posteriors that have reference posteriors (eight schools
// non-centred, kidiq, AR(5), GARCH(1,1), the two-component mixture with ordered
// means, Bayesian linear regression): 4 chains of 1000 draws after 1000 warm-up
// iterations, adapt_delta as the reference run (0.95 for eight schools); every posterior mean within 4 Monte Carlo standard errors of the
// reference mean (both errors combined), every sd within 10% of the reference sd,
// R-hat below 1.01 and no divergences. The references (means, sds and their
// MCSEs from 10 x 1000 draws of rstan) are in tests/data/posteriordb/reference.json.
#define BOOST_TEST_MODULE posteriordb
#include "tests/support/model_fixture.hpp"

#include "runtime/inference/chains.hpp"
#include "runtime/inference/summary.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

using namespace latent;
using namespace latent::testing;
using nlohmann::json;

namespace {

// posteriordb's "theta[1]" is latent's "theta.1"; the mixture's ordered mu[k] is mu_k.
const SummaryRow* find_column(const PosteriorSummary& s, const std::string& reference_name) {
  std::string dotted = reference_name, underscored = reference_name;
  size_t open = reference_name.find('[');
  if (open != std::string::npos) {
    std::string index = reference_name.substr(open + 1, reference_name.size() - open - 2);
    dotted = reference_name.substr(0, open) + "." + index;
    underscored = reference_name.substr(0, open) + "_" + index;
  }
  for (const SummaryRow& c : s.columns)
    if (c.name == dotted || c.name == underscored) return &c;
  return nullptr;
}

void check_posterior(const std::string& name, uint64_t seed) {
  static json reference = json::parse(read_text(std::string(LATENT_SOURCE_DIR) + "/tests/data/posteriordb/reference.json"));
  const json& p = reference["posteriors"][name];
  const std::string root = std::string(LATENT_SOURCE_DIR) + "/";
  auto model = make_model(read_text(root + p["model"].get<std::string>()), read_text(root + p["data"].get<std::string>()),
                          p["model"].get<std::string>());
  NutsOptions o;
  o.seed = seed;
  o.adapt_delta = p["adapt_delta"];  // as the reference run
  NutsRun run = run_nuts(*model, o);
  PosteriorSummary s = summarize(chain_tables(run, o.max_depth));
  BOOST_TEST(s.divergences == 0);
  for (const json& v : p["variables"]) {
    const std::string var = v["name"];
    const SummaryRow* c = find_column(s, var);
    BOOST_TEST_REQUIRE(c != nullptr, "no column for " << var);
    const double ref_mean = v["mean"], ref_sd = v["sd"], ref_mcse = v["mcse_mean"];
    const double tolerance = 4 * std::sqrt(c->mcse_mean * c->mcse_mean + ref_mcse * ref_mcse);
    BOOST_TEST_CONTEXT(name << " " << var << ": mean " << c->mean << " (reference " << ref_mean << ", mcse "
                            << c->mcse_mean << "), sd " << c->sd << " (reference " << ref_sd << "), R-hat "
                            << c->rhat << ", bulk ESS " << c->ess_bulk) {
      BOOST_TEST(std::fabs(c->mean - ref_mean) < tolerance);
      BOOST_TEST(std::fabs(c->sd - ref_sd) < 0.1 * ref_sd);
      BOOST_TEST(c->rhat < 1.01);
      BOOST_TEST(c->ess_bulk > 400);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(eight_schools_noncentered) { check_posterior("eight_schools-eight_schools_noncentered", 1); }
BOOST_AUTO_TEST_CASE(kidiq) { check_posterior("kidiq-kidscore_momiq", 2); }
BOOST_AUTO_TEST_CASE(ar5) { check_posterior("arK-arK", 3); }
BOOST_AUTO_TEST_CASE(garch11) { check_posterior("garch-garch11", 4); }
BOOST_AUTO_TEST_CASE(two_component_mixture) { check_posterior("low_dim_gauss_mix-low_dim_gauss_mix", 5); }
BOOST_AUTO_TEST_CASE(bayesian_linear_regression) { check_posterior("sblrc-blr", 6); }
