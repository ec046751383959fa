// Convergence diagnostics and the posterior summary (runtime/inference/
// diagnostics.hpp, summary.hpp) and CmdStan's CSV (runtime/output/stan_csv.hpp):
// R-hat, bulk and tail ESS, the MCSE of the mean and quantiles against rstan
// 2.21's Rhat(), ess_bulk(), ess_tail(), ess_mean(), mcse_mean() and quantile()
// on fixed draws (tests/data/rstan_diagnostics.json, made by the R script beside
// it; R is not needed here); the summary's warnings; CSV written and read back.
#define BOOST_TEST_MODULE summary
#include "tests/support/model_fixture.hpp"

#include "runtime/inference/diagnostics.hpp"
#include "runtime/inference/summary.hpp"
#include "runtime/output/stan_csv.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

using namespace latent;
using namespace latent::testing;
using nlohmann::json;

namespace {

json fixtures() {
  static json j = json::parse(read_text(std::string(LATENT_SOURCE_DIR) + "/tests/data/rstan_diagnostics.json"));
  return j;
}

Chains draws_of(const json& c) {
  Chains chains;
  for (const json& chain : c["draws"]) chains.push_back(chain.get<std::vector<double>>());
  return chains;
}

bool relatively_close(double a, double b, double tolerance) {
  return std::fabs(a - b) <= tolerance * std::max(std::fabs(b), 1e-300);
}

// A chain table with the sampler columns and one parameter column x.
ChainTable table(const std::string& source, const std::vector<double>& x, const std::vector<double>& divergent,
                 const std::vector<double>& depth, const std::vector<double>& energy, int max_depth = 10) {
  ChainTable t;
  t.source = source;
  t.columns = {"lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__", "x"};
  t.max_depth = max_depth;
  for (size_t k = 0; k < x.size(); ++k) {
    t.values.insert(t.values.end(), {-x[k] * x[k] / 2, 0.9, 0.5, depth[k], 7, divergent[k], energy[k], x[k]});
    ++t.rows;
  }
  return t;
}

std::vector<double> normal_draws(std::mt19937_64& rng, size_t n, double shift = 0) {
  std::normal_distribution<double> normal;
  std::vector<double> v(n);
  for (double& x : v) x = shift + normal(rng);
  return v;
}

}  // namespace

// ============================================================================================
// against rstan 2.21
// ============================================================================================

BOOST_AUTO_TEST_CASE(rhat_ess_and_mcse_equal_rstans_on_fixed_draws) {
  json j = fixtures();
  BOOST_REQUIRE(j["cases"].size() >= 7u);
  for (const json& c : j["cases"]) {
    const Chains draws = draws_of(c);
    BOOST_TEST_CONTEXT(c["name"].get<std::string>()) {
      BOOST_TEST(relatively_close(rhat(draws), c["rhat"].get<double>(), 1e-10), rhat(draws) << " vs " << c["rhat"]);
      BOOST_TEST(relatively_close(ess_bulk(draws), c["ess_bulk"].get<double>(), 1e-10),
                 ess_bulk(draws) << " vs " << c["ess_bulk"]);
      BOOST_TEST(relatively_close(ess_tail(draws), c["ess_tail"].get<double>(), 1e-10),
                 ess_tail(draws) << " vs " << c["ess_tail"]);
      BOOST_TEST(relatively_close(ess_mean(draws), c["ess_mean"].get<double>(), 1e-10),
                 ess_mean(draws) << " vs " << c["ess_mean"]);
      BOOST_TEST(relatively_close(mcse_mean(draws), c["mcse_mean"].get<double>(), 1e-10),
                 mcse_mean(draws) << " vs " << c["mcse_mean"]);
      std::vector<double> all;
      for (auto& d : draws) all.insert(all.end(), d.begin(), d.end());
      BOOST_TEST(relatively_close(quantile(all, 0.05), c["q5"].get<double>(), 1e-12));
      BOOST_TEST(relatively_close(quantile(all, 0.5), c["q50"].get<double>(), 1e-12));
      BOOST_TEST(relatively_close(quantile(all, 0.95), c["q95"].get<double>(), 1e-12));
      // The one-pass version the summary uses gives the same numbers.
      ColumnDiagnostics d = column_diagnostics(draws);
      BOOST_TEST(relatively_close(d.rhat, c["rhat"].get<double>(), 1e-10));
      BOOST_TEST(relatively_close(d.ess_bulk, c["ess_bulk"].get<double>(), 1e-10));
      BOOST_TEST(relatively_close(d.ess_tail, c["ess_tail"].get<double>(), 1e-10));
      BOOST_TEST(relatively_close(d.ess_mean, c["ess_mean"].get<double>(), 1e-10));
      BOOST_TEST(relatively_close(d.mcse_mean, c["mcse_mean"].get<double>(), 1e-10));
      BOOST_TEST(relatively_close(d.sd, c["sd"].get<double>(), 1e-12));
      BOOST_TEST(relatively_close(d.q5, c["q5"].get<double>(), 1e-12));
    }
  }
}

BOOST_AUTO_TEST_CASE(the_summary_uses_the_same_diagnostics) {
  json j = fixtures();
  for (const json& c : j["cases"]) {
    const Chains draws = draws_of(c);
    std::vector<ChainTable> tables;
    for (size_t k = 0; k < draws.size(); ++k) {
      std::vector<double> zeros(draws[k].size(), 0.0), energy(draws[k].size());
      for (size_t d = 0; d < energy.size(); ++d) energy[d] = std::sin(static_cast<double>(d));  // E-BFMI well above 0.3
      tables.push_back(table("chain " + std::to_string(k + 1), draws[k], zeros, zeros, energy));
    }
    PosteriorSummary s = summarize(tables);
    BOOST_REQUIRE(s.columns.size() == 2u);  // lp__ and x
    const SummaryRow& x = s.columns[1];
    BOOST_TEST_CONTEXT(c["name"].get<std::string>()) {
      BOOST_TEST(x.name == "x");
      BOOST_TEST(relatively_close(x.mean, c["mean"].get<double>(), 1e-12));
      BOOST_TEST(relatively_close(x.sd, c["sd"].get<double>(), 1e-12));
      BOOST_TEST(relatively_close(x.rhat, c["rhat"].get<double>(), 1e-10));
      BOOST_TEST(relatively_close(x.ess_bulk, c["ess_bulk"].get<double>(), 1e-10));
      BOOST_TEST(relatively_close(x.ess_tail, c["ess_tail"].get<double>(), 1e-10));
      BOOST_TEST(relatively_close(x.mcse_mean, c["mcse_mean"].get<double>(), 1e-10));
      // A warning exactly when R-hat or an ESS crosses Stan's thresholds.
      auto names_x = [](const std::string& w) { return contains(w, " x:") || contains(w, " x,"); };
      bool rhat_warning = false, bulk_warning = false, tail_warning = false;
      for (const std::string& w : s.warnings) {
        rhat_warning = rhat_warning || (contains(w, "R-hat above 1.01 for") && names_x(w));
        bulk_warning = bulk_warning || (contains(w, "bulk ESS below") && names_x(w));
        tail_warning = tail_warning || (contains(w, "tail ESS below") && names_x(w));
      }
      const double threshold = 100.0 * static_cast<double>(draws.size());
      BOOST_TEST(rhat_warning == (c["rhat"].get<double>() > 1.01));
      BOOST_TEST(bulk_warning == (c["ess_bulk"].get<double>() < threshold));
      BOOST_TEST(tail_warning == (c["ess_tail"].get<double>() < threshold));
    }
  }
}

// ============================================================================================
// definitions and edge cases
// ============================================================================================

BOOST_AUTO_TEST_CASE(split_rank_normalise_and_undefined_cases) {
  Chains odd{{1, 2, 3, 4, 5}};
  Chains halves = split_chains(odd);
  BOOST_REQUIRE(halves.size() == 2u);
  BOOST_TEST(halves[0] == (std::vector<double>{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(halves[1] == (std::vector<double>{4, 5}), boost::test_tools::per_element());  // the middle draw is dropped

  // Ties share the average rank: 1, 2.5, 2.5, 4 of 4 -> Phi^-1((r - 1/2) / 4).
  Chains z = rank_normalize({{5, 7}, {7, 9}});
  BOOST_TEST(z[0][0] == normal_quantile(0.5 / 4), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(z[0][1] == normal_quantile(2.0 / 4), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(z[1][0] == z[0][1]);
  BOOST_TEST(z[1][1] == normal_quantile(3.5 / 4), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(normal_quantile(0.975) == 1.959963984540054, boost::test_tools::tolerance(1e-14));

  // Constant, non-finite or too short: not defined.
  BOOST_TEST(std::isnan(rhat({{1, 1, 1, 1}, {1, 1, 1, 1}})));
  BOOST_TEST(std::isnan(ess_bulk({{1, 1, 1, 1}, {1, 1, 1, 1}})));
  BOOST_TEST(std::isnan(rhat({{1, 2, NAN, 4}, {1, 2, 3, 4}})));
  BOOST_TEST(std::isnan(ess_tail({{1, 2, INFINITY, 4}, {1, 2, 3, 4}})));
  BOOST_TEST(std::isnan(basic_ess({{1, 2}})));
  BOOST_TEST(quantile({3, 1, 2}, 0.5) == 2);
  BOOST_TEST(quantile({1, 2, 3, 4}, 0.05) == 1.15, boost::test_tools::tolerance(1e-14));

  // Independent draws: ESS near the number of draws, R-hat near 1.
  std::mt19937_64 rng(1);
  Chains iid{normal_draws(rng, 1000), normal_draws(rng, 1000), normal_draws(rng, 1000), normal_draws(rng, 1000)};
  BOOST_TEST(ess_bulk(iid) > 3000);
  BOOST_TEST(ess_bulk(iid) < 5000);
  BOOST_TEST(rhat(iid) < 1.01);
  // A chain elsewhere: R-hat far above 1.
  iid[3] = normal_draws(rng, 1000, 3.0);
  BOOST_TEST(rhat(iid) > 1.3);
  // Same location, different scale: only the folded (tail) R-hat sees it.
  Chains scales{normal_draws(rng, 1000), normal_draws(rng, 1000), normal_draws(rng, 1000), normal_draws(rng, 1000)};
  for (double& x : scales[3]) x *= 4;
  BOOST_TEST(basic_rhat(rank_normalize(split_chains(scales))) < 1.05);
  BOOST_TEST(rhat(scales) > 1.1);
}

BOOST_AUTO_TEST_CASE(warnings_for_divergences_tree_depth_and_energy) {
  std::mt19937_64 rng(2);
  std::vector<double> x = normal_draws(rng, 400), calm(400), jumpy(400), no(400, 0.0), depth(400, 3.0),
                      divergent(400, 0.0);
  for (size_t k = 0; k < 400; ++k) {
    calm[k] = 10 + 0.01 * static_cast<double>(k % 2) + (k < 200 ? 0 : 5);  // slow energy changes: E-BFMI ~ 0
    jumpy[k] = normal_draws(rng, 1)[0];
  }
  divergent[5] = divergent[17] = 1;
  depth[3] = 10;
  std::vector<ChainTable> tables{table("a.csv", x, divergent, depth, calm), table("b.csv", x, no, no, jumpy)};
  PosteriorSummary s = summarize(tables);
  BOOST_TEST(s.divergences == 2);
  BOOST_TEST(s.max_depth_hits == 1);
  BOOST_REQUIRE(s.ebfmi.size() == 2u);
  BOOST_TEST(s.ebfmi[0] < 0.3);
  BOOST_TEST(s.ebfmi[1] > 1.5);  // independent energies: E-BFMI near 2
  std::string all;
  for (auto& w : s.warnings) all += w + "\n";
  BOOST_TEST(contains(all, "2 of 800 transitions (0.25%) ended with a divergence"), all);
  BOOST_TEST(contains(all, "1 of 800 transitions (0.12%) hit the maximum tree depth of 10"), all);
  BOOST_TEST(contains(all, "a.csv: E-BFMI"), all);
  BOOST_TEST(!contains(all, "b.csv: E-BFMI"), all);
  // Each warning is one line.
  for (auto& w : s.warnings) BOOST_TEST(!contains(w, "\n"));

  // Chains that do not fit together are user errors.
  std::vector<ChainTable> short_one{table("a.csv", x, no, no, jumpy),
                                    table("b.csv", std::vector<double>(x.begin(), x.begin() + 100),
                                          std::vector<double>(100, 0.0), std::vector<double>(100, 0.0),
                                          std::vector<double>(jumpy.begin(), jumpy.begin() + 100))};
  BOOST_TEST(contains(error_of([&] { summarize(short_one); }), "different numbers of draws"));
  ChainTable other = table("c.csv", x, no, no, jumpy);
  other.columns.back() = "y";
  BOOST_TEST(contains(error_of([&] { summarize({tables[0], other}); }), "does not have the columns"));
}

// ============================================================================================
// CmdStan CSV
// ============================================================================================

BOOST_AUTO_TEST_CASE(stan_csv_round_trip_keeps_every_number_and_the_adaptation) {
  TempDir dir;
  ChainResult chain;
  chain.rows = 3;
  const std::vector<std::string> columns{"lp__",         "accept_stat__", "stepsize__", "treedepth__",
                                         "n_leapfrog__", "divergent__",   "energy__",   "theta.1",
                                         "theta.2"};
  chain.draws = {-1.5, 0.9, 0.25, 2, 3, 0, 2.5, 0.1, 1e-300,
                 -2.25, 1, 0.25, 3, 7, 1, 3.125, -0.3333333333333333, NAN,
                 -0.5, 0.75, 0.25, 1, 1, 0, 1.0625, 123456789.125, -INFINITY};
  chain.step_size = 0.25;
  chain.warmup_seconds = 1.5;
  chain.sampling_seconds = 2.25;
  for (MetricKind kind : {MetricKind::diagonal, MetricKind::dense, MetricKind::unit}) {
    BOOST_TEST_CONTEXT(metric_name(kind)) {
      SamplerConfig config;
      config.metric = kind;
      config.max_depth = 7;
      chain.inverse_metric = kind == MetricKind::diagonal ? std::vector<double>{1.5, 0.5}
                             : kind == MetricKind::dense  ? std::vector<double>{2, 0.5, 0.5, 1}
                                                          : std::vector<double>{};
      std::string text = stan_csv_text(config, columns, chain);
      BOOST_TEST(contains(text, "\n# Adaptation terminated\n# Step size = 0.25\n"));
      if (kind == MetricKind::diagonal) BOOST_TEST(contains(text, "# Diagonal elements of inverse mass matrix:\n# 1.5, 0.5\n"));
      if (kind == MetricKind::dense) BOOST_TEST(contains(text, "# Elements of inverse mass matrix:\n# 2, 0.5\n# 0.5, 1\n"));
      BOOST_TEST(contains(text, "#  Elapsed Time: 1.500 seconds (Warm-up)\n"));
      std::string path = dir.write("chain.csv", text);
      ChainTable t = read_stan_csv(path);
      BOOST_TEST(t.columns == columns, boost::test_tools::per_element());
      BOOST_TEST(t.rows == 3);
      BOOST_TEST(t.max_depth == 7);
      BOOST_TEST(t.warmup_seconds == 1.5);
      BOOST_TEST(t.sampling_seconds == 2.25);
      BOOST_REQUIRE(t.values.size() == chain.draws.size());
      for (size_t k = 0; k < t.values.size(); ++k)
        BOOST_TEST((t.values[k] == chain.draws[k] || (std::isnan(t.values[k]) && std::isnan(chain.draws[k]))),
                   k << ": " << t.values[k] << " vs " << chain.draws[k]);
    }
  }
}

BOOST_AUTO_TEST_CASE(reading_cmdstan_files_skips_saved_warmup_and_rejects_bad_files) {
  TempDir dir;
  // CmdStan's layout with save_warmup = 1: 4 warm-up rows (thin 2 of 8 iterations), then 2 draws.
  std::string text =
      "# stan_version_major = 2\n# method = sample (Default)\n#   sample\n#     num_samples = 4\n"
      "#     num_warmup = 7\n#     save_warmup = 1\n#     thin = 2\n#     algorithm = hmc (Default)\n"
      "#       hmc\n#         engine = nuts (Default)\n#           nuts\n#             max_depth = 12\n"
      "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,mu\n"
      "-1,0.5,1,1,1,0,1,10\n-1,0.5,1,1,1,0,1,11\n-1,0.5,1,1,1,0,1,12\n-1,0.5,1,1,1,0,1,13\n"
      "# Adaptation terminated\n# Step size = 0.9\n# Diagonal elements of inverse mass matrix:\n# 1\n"
      "-2,0.9,0.9,2,3,0,2,1.5\n-3,0.8,0.9,2,3,1,3,2.5\n"
      "#\n#  Elapsed Time: 0.01 seconds (Warm-up)\n#                0.02 seconds (Sampling)\n";
  ChainTable t = read_stan_csv(dir.write("cmdstan.csv", text));
  BOOST_TEST(t.rows == 2);
  BOOST_TEST(t.max_depth == 12);
  BOOST_TEST(t.values[7] == 1.5);
  BOOST_TEST(t.values[15] == 2.5);
  BOOST_TEST(t.sampling_seconds == 0.02);

  BOOST_TEST(contains(error_of([&] { read_stan_csv(dir.file("missing.csv")); }), "cannot read"));
  BOOST_TEST(contains(error_of([&] { read_stan_csv(dir.write("a.csv", "# only comments\n")); }), "no header"));
  BOOST_TEST(contains(error_of([&] { read_stan_csv(dir.write("b.csv", "mu,sigma\n1,2\n")); }), "lp__"));
  std::string e = error_of([&] { read_stan_csv(dir.write("c.csv", "lp__,mu\n1,2\n3\n")); });
  BOOST_TEST(contains(e, "c.csv:3: a row of 1 fields, the header has 2"), e);
  e = error_of([&] { read_stan_csv(dir.write("d.csv", "lp__,mu\n1,x2\n")); });
  BOOST_TEST(contains(e, "d.csv:2: column 'mu': 'x2' is not a number"), e);
}
