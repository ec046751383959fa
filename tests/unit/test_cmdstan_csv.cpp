// MAP and ADVI CSV as CmdStan writes optimize and variational output
// (runtime/output/cmdstan_config.cpp): the configuration comments, the mean row,
// and log_p__ / log_g__ as CmdStan defines them (log_p__: the log density with
// every constant and the Jacobian; log_g__: -eps'eps/2 of the standard normal
// draw behind each row), checked against closed forms. R's reading of the files
// is test_rstan_csv.
#define BOOST_TEST_MODULE cmdstan_csv
#include <boost/test/unit_test.hpp>

#include "tests/support/model_fixture.hpp"

#include <nlohmann/json.hpp>

using namespace latent;
using namespace latent::testing;

namespace {

constexpr double kLog2Pi = 1.8378770664093454836;

// `~` drops the constants; CmdStan's log_p__ keeps them.
const char* const kModel = R"(
parameters { real mu; real<lower=0> sigma; }
model {
  mu ~ normal(1, 2);
  sigma ~ gamma(3, 2);
}
)";

// log p(mu, log sigma) with all constants and the Jacobian of sigma = exp(u).
double full_log_density(double mu, double sigma) {
  const double z = (mu - 1) / 2;
  const double gamma = 3 * std::log(2.0) - std::lgamma(3.0) + 2 * std::log(sigma) - 2 * sigma;
  return (-0.5 * kLog2Pi - std::log(2.0) - 0.5 * z * z) + gamma + std::log(sigma);
}

struct Table {
  std::vector<std::string> comments_before, comments_after, header;
  std::vector<std::vector<double>> rows;
};

Table read_table(const std::string& text) {
  Table t;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      (t.header.empty() ? t.comments_before : t.comments_after).push_back(line);
      continue;
    }
    std::vector<std::string> cells;
    std::istringstream cs(line);
    std::string cell;
    while (std::getline(cs, cell, ',')) cells.push_back(cell);
    if (t.header.empty()) {
      t.header = cells;
      continue;
    }
    std::vector<double> row;
    for (const std::string& c : cells) row.push_back(std::stod(c));
    t.rows.push_back(row);
  }
  return t;
}

size_t column(const Table& t, const std::string& name) {
  auto it = std::find(t.header.begin(), t.header.end(), name);
  BOOST_REQUIRE_MESSAGE(it != t.header.end(), "no column " << name);
  return static_cast<size_t>(it - t.header.begin());
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(map_header_is_cmdstan_optimize) {
  TempDir dir;
  const std::string model = dir.write("m.lat", kModel);
  const std::string csv = dir.file("map.csv");
  RunResult r = run_latent({"fit", model, "--seed", "7", "--iter", "500", "-q", "-o", csv}, dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  Table t = read_table(read_text(csv));
  BOOST_TEST(joined(t.comments_before) ==
             "# latent = 0.1.0\n"
             "# model = " + model + "\n"
             "# method = optimize\n"
             "#   optimize\n"
             "#     algorithm = lbfgs (Default)\n"
             "#       lbfgs\n"
             "#         init_alpha = 0.001 (Default)\n"
             "#         tol_obj = 9.9999999999999998e-13 (Default)\n"
             "#         tol_rel_obj = 10000 (Default)\n"
             "#         tol_grad = 1e-08 (Default)\n"
             "#         tol_rel_grad = 10000\n"
             "#         tol_param = 1e-08 (Default)\n"
             "#         history_size = 5 (Default)\n"
             "#     jacobian = 0 (Default)\n"
             "#     iter = 500\n"
             "#     save_iterations = 0 (Default)\n"
             "# id = 0 (Default)\n"
             "# data\n"
             "#   file = \n"
             "# init = 2 (Default)\n"
             "# random\n"
             "#   seed = 7\n"
             "# output\n"
             "#   file = " + csv + "\n"
             "#   diagnostic_file =  (Default)\n"
             "#   refresh = 100 (Default)\n" +
             t.comments_before.back() + "\n");
  BOOST_TEST(t.comments_before.back().rfind("# status = converged", 0) == 0, t.comments_before.back());
  BOOST_TEST((t.header == std::vector<std::string>{"lp__", "mu", "sigma"}));
  BOOST_REQUIRE(t.rows.size() == 1u);
  // The mode (jacobian = 0): mu = 1, sigma = (3 - 1) / 2; lp__ drops the constants, as `~` does.
  BOOST_TEST(std::fabs(t.rows[0][1] - 1) < 1e-5);
  BOOST_TEST(std::fabs(t.rows[0][2] - 1) < 1e-5);

  RunResult j = run_latent({"fit", model, "--jacobian", "--init", "0.5", "--tol-rel-grad", "1e7", "-q"}, dir);
  BOOST_REQUIRE_MESSAGE(j.exit_code == 0, j);
  BOOST_TEST(contains(j.out, "#     jacobian = 1\n"));
  BOOST_TEST(contains(j.out, "#         tol_rel_grad = 10000000 (Default)\n"));
  BOOST_TEST(contains(j.out, "# init = 0.5\n"));
  BOOST_TEST(contains(j.out, "# output\n#   file = \n"));  // standard output
}

// ADVI: CmdStan's variational header, "Stepsize adaptation complete" after the
// header row, the mean first (lp__ = log_p__ = log_g__ = 0), then draws whose
// log_p__ and log_g__ are CmdStan's, from closed forms.
BOOST_AUTO_TEST_CASE(advi_csv_is_cmdstan_variational) {
  TempDir dir;
  const std::string model = dir.write("m.lat", kModel);
  for (const char* method : {"advi", "fullrank", "dadvi"}) {
    BOOST_TEST_CONTEXT(method) {
      const std::string csv = dir.file(std::string(method) + ".csv"), json = dir.file(std::string(method) + ".json");
      RunResult r = run_latent({"fit", model, "--method", method, "--draws", "40", "--seed", "3", "-q", "-o", csv,
                                "-o", json},
                               dir);
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0 || r.exit_code == 3, r);  // 3: ADVI at --iter (draws written)
      Table t = read_table(read_text(csv));
      const nlohmann::json fit = nlohmann::json::parse(read_text(json));
      const std::string text = joined(t.comments_before);
      if (std::string(method) != "dadvi") {
        const bool full = std::string(method) == "fullrank";
        BOOST_TEST(contains(text, "# latent = 0.1.0\n# model = " + model + "\n# method = variational\n#   variational\n"));
        BOOST_TEST(contains(text, full ? "#     algorithm = fullrank\n#       fullrank\n"
                                       : "#     algorithm = meanfield (Default)\n#       meanfield\n"));
        BOOST_TEST(contains(text, "#     iter = 10000 (Default)\n#     grad_samples = 1 (Default)\n"
                                  "#     elbo_samples = 100 (Default)\n#     eta = 1 (Default)\n#     adapt\n"
                                  "#       engaged = 1 (Default)\n#       iter = 50 (Default)\n"
                                  "#     tol_rel_obj = 0.01 (Default)\n#     eval_elbo = 100 (Default)\n"
                                  "#     output_samples = 40\n# id = 0 (Default)\n"));
        BOOST_TEST(contains(text, "# random\n#   seed = 3\n# output\n#   file = " + csv + "\n"));
        BOOST_REQUIRE(t.comments_after.size() == 2u);
        BOOST_TEST(t.comments_after[0] == "# Stepsize adaptation complete.");
        BOOST_TEST(t.comments_after[1].rfind("# eta = ", 0) == 0);
        BOOST_TEST(std::stod(t.comments_after[1].substr(8)) == fit.at("eta").get<double>());
      }
      BOOST_TEST((std::vector<std::string>(t.header.begin(), t.header.begin() + 3) ==
                  std::vector<std::string>{"lp__", "log_p__", "log_g__"}));
      BOOST_REQUIRE(t.rows.size() == 41u);
      BOOST_TEST((std::vector<double>(t.rows[0].begin(), t.rows[0].begin() + 3) == std::vector<double>{0, 0, 0}));

      const std::vector<double> mean = fit.at("mu").get<std::vector<double>>();
      const bool meanfield = fit.contains("omega");
      const std::vector<double> scale = fit.at(meanfield ? "omega" : "L").get<std::vector<double>>();
      const size_t mu_col = column(t, "mu"), sigma_col = column(t, "sigma");
      for (size_t k = 1; k < t.rows.size(); ++k) {
        const std::vector<double>& row = t.rows[k];
        const double mu = row[mu_col], sigma = row[sigma_col];
        BOOST_TEST(row[0] == 0);
        BOOST_TEST(close_rel(row[1], full_log_density(mu, sigma), 1e-12), "log_p__ " << row[1]);
        // eps from the unconstrained draw: u = mean + S eps (S diagonal exp(omega), or L lower
        // triangular packed by columns).
        const double u[2] = {mu - mean[0], std::log(sigma) - mean[1]};
        double eps[2];
        if (meanfield) {
          eps[0] = u[0] / std::exp(scale[0]);
          eps[1] = u[1] / std::exp(scale[1]);
        } else {
          const double l00 = scale[0], l10 = scale[1], l11 = scale[2];
          eps[0] = u[0] / l00;
          eps[1] = (u[1] - l10 * eps[0]) / l11;
        }
        BOOST_TEST(close(row[2], -0.5 * (eps[0] * eps[0] + eps[1] * eps[1]), 1e-9), "log_g__ " << row[2]);
      }
    }
  }
}
