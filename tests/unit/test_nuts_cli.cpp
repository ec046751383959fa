// `latent fit --method nuts` and `latent summary` as separate processes: the files
// per chain (names, CmdStan's header and adaptation comments, rows), the summary
// on standard output and its CSV / JSON forms against the library's summary of
// the same files, reproducibility by seed, progress lines, and user errors
// (exit 1, one message, no file written).
#define BOOST_TEST_MODULE nuts_cli
#include "tests/support/model_fixture.hpp"

#include "runtime/inference/summary.hpp"
#include "runtime/output/stan_csv.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

using namespace latent;
using namespace latent::testing;
using nlohmann::json;

namespace {

std::string model_of(const std::string& example) { return example_dir(example) + "/model.lat"; }
std::string data_of(const std::string& example) { return example_dir(example) + "/data.json"; }

std::vector<std::string> fit_args(const std::string& example, const std::vector<std::string>& more) {
  std::vector<std::string> args{"fit", model_of(example), "--data", data_of(example), "--method", "nuts"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The data rows of a CSV text (no comments, no header).
std::vector<std::string> data_rows(const std::string& text) {
  std::vector<std::string> rows;
  std::istringstream in(text);
  std::string line;
  bool header = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (!header) {
      header = true;
      continue;
    }
    rows.push_back(line);
  }
  return rows;
}

void expect_user_error(const RunResult& r, const std::string& part) {
  BOOST_TEST(r.exited, r);
  BOOST_TEST(r.exit_code == 1, r);
  BOOST_TEST(!contains(r.err, "internal error"), r);
  BOOST_TEST(contains(r.err, part), "stderr should mention '" << part << "'\n" << r);
}

}  // namespace

BOOST_AUTO_TEST_CASE(fit_nuts_writes_one_cmdstan_csv_per_chain_and_prints_the_summary) {
  TempDir dir;
  RunResult r = run_latent(fit_args("eight_schools", {"--chains", "3", "--warmup", "300", "--samples", "200", "--seed",
                                                      "5", "-o", dir.file("draws.csv")}),
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  std::vector<ChainTable> chains;
  for (int k = 1; k <= 3; ++k) {
    const std::string path = dir.file("draws_" + std::to_string(k) + ".csv");
    BOOST_REQUIRE_MESSAGE(std::filesystem::exists(path), path);
    const std::string text = read_text(path);
    for (const std::string& part :
         {std::string("# method = sample (Default)\n"), std::string("#     num_samples = 200\n"),
          std::string("#     num_warmup = 300\n"), std::string("#             max_depth = 10\n"),
          std::string("#         metric = diag_e\n"), "# id = " + std::to_string(k) + "\n",
          std::string("#   seed = 5\n"), std::string("#     num_chains = 3\n"),
          std::string("lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,theta_tilde.1,"),
          std::string(",mu,tau,theta.1,"), std::string("\n# Adaptation terminated\n# Step size = "),
          std::string("\n# Diagonal elements of inverse mass matrix:\n# "), std::string("seconds (Sampling)\n")})
      BOOST_TEST(contains(text, part), path << " should contain '" << part << "'");
    chains.push_back(read_stan_csv(path));
    BOOST_TEST(chains.back().rows == 200);
  }
  BOOST_TEST(!std::filesystem::exists(dir.file("draws_4.csv")));
  // Temporary files are gone.
  for (const std::string& e : dir.entries()) BOOST_TEST(!contains(e, ".tmp"), e);
  // The table on stdout; progress (not a terminal: plain lines) on stderr.
  BOOST_TEST(contains(r.out, "R-hat"), r);
  BOOST_TEST(contains(r.out, "\nmu "), r);
  BOOST_TEST(contains(r.out, "3 chains of 200 draws"), r);
  BOOST_TEST(contains(r.err, "chain 3: iteration 500 / 500 (100%) done"), r);

  // latent summary: JSON and CSV agree with the library's summary of the same files.
  PosteriorSummary expected = summarize(chains);
  RunResult js = run_latent({"summary", dir.file("draws.csv"), "--json"}, dir);  // draws.csv -> draws_1..3.csv
  BOOST_REQUIRE_MESSAGE(js.exited && js.exit_code == 0, js);
  json j = json::parse(js.out);
  BOOST_TEST(j["chains"] == 3);
  BOOST_TEST(j["draws_per_chain"] == 200);
  BOOST_REQUIRE(j["variables"].size() == expected.columns.size());
  for (size_t k = 0; k < expected.columns.size(); ++k) {
    const SummaryRow& c = expected.columns[k];
    BOOST_TEST(j["variables"][k]["variable"] == c.name);
    BOOST_TEST(j["variables"][k]["mean"].get<double>() == c.mean);
    BOOST_TEST(j["variables"][k]["rhat"].get<double>() == c.rhat);
    BOOST_TEST(j["variables"][k]["ess_bulk"].get<double>() == c.ess_bulk);
    BOOST_TEST(j["variables"][k]["ess_tail"].get<double>() == c.ess_tail);
  }
  RunResult csv = run_latent({"summary", dir.file("draws_1.csv"), dir.file("draws_2.csv"), dir.file("draws_3.csv"),
                              "--csv"},
                             dir);
  BOOST_REQUIRE_MESSAGE(csv.exited && csv.exit_code == 0, csv);
  BOOST_TEST(contains(csv.out, "variable,mean,mcse_mean,sd,q5,q50,q95,rhat,ess_bulk,ess_tail\nlp__,"), csv);
  BOOST_TEST(data_rows(csv.out).size() == expected.columns.size());
  RunResult table = run_latent({"summary", dir.file("draws.csv")}, dir);
  BOOST_TEST(table.out == r.out);  // the same table as after sampling
  // Two chains of the run: a different summary, still a valid one.
  RunResult two = run_latent({"summary", dir.file("draws_1.csv"), dir.file("draws_2.csv")}, dir);
  BOOST_TEST(contains(two.out, "2 chains of 200 draws"), two);
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_draws_and_one_chain_keeps_the_file_name) {
  TempDir dir;
  auto run = [&](const std::string& name, const std::string& seed, const std::string& threads) {
    RunResult r = run_latent(fit_args("kidiq", {"--chains", "2", "--warmup", "200", "--samples", "100", "--seed", seed,
                                                "--threads", threads, "-q", "-o", dir.file(name)}),
                             dir);
    BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
    BOOST_TEST(!contains(r.err, "iteration"), r);  // --quiet: no progress
    return data_rows(read_text(dir.file(name.substr(0, name.size() - 4) + "_1.csv")));
  };
  std::vector<std::string> a = run("a.csv", "9", "1"), b = run("b.csv", "9", "2"), c = run("c.csv", "10", "2");
  BOOST_TEST(a.size() == 100u);
  BOOST_TEST(a == b);  // same seed, another number of threads
  BOOST_TEST(a != c);
  RunResult one = run_latent(fit_args("kidiq", {"--chains", "1", "--warmup", "100", "--samples", "50", "--metric",
                                                "dense_e", "--init", "0", "-o", dir.file("one.csv")}),
                             dir);
  BOOST_REQUIRE_MESSAGE(one.exited && one.exit_code == 0, one);
  const std::string text = read_text(dir.file("one.csv"));
  BOOST_TEST(contains(text, "#         metric = dense_e\n"));
  BOOST_TEST(contains(text, "# init = 0\n"));
  BOOST_TEST(contains(text, "\n# Elements of inverse mass matrix:\n"));
  BOOST_TEST(data_rows(text).size() == 50u);
  BOOST_TEST(contains(one.err, "fewer than 150 warm-up iterations"), one);  // the shrunk schedule is reported
}

BOOST_AUTO_TEST_CASE(user_errors_exit_1_with_one_message_and_write_nothing) {
  TempDir dir;
  const std::string out = dir.file("draws.csv");
  expect_user_error(run_latent(fit_args("kidiq", {"--chains", "0", "-o", out}), dir), "from 1 to 1024");
  expect_user_error(run_latent(fit_args("kidiq", {"--chains", "5000", "-o", out}), dir), "from 1 to 1024");
  expect_user_error(run_latent(fit_args("kidiq", {"--adapt-delta", "1.5", "-o", out}), dir), "adapt_delta");
  expect_user_error(run_latent(fit_args("kidiq", {"--adapt-delta", "0", "-o", out}), dir), "adapt_delta");
  expect_user_error(run_latent(fit_args("kidiq", {"--samples", "0", "-o", out}), dir), "samples");
  expect_user_error(run_latent(fit_args("kidiq", {"--samples", "-3", "-o", out}), dir), "samples");
  expect_user_error(run_latent(fit_args("kidiq", {"--metric", "dense", "-o", out}), dir), "--metric");
  expect_user_error(run_latent(fit_args("kidiq", {"--init", dir.file("nope.json"), "-o", out}), dir), "nope.json");
  expect_user_error(run_latent(fit_args("kidiq", {"-o", dir.file("x.json")}), dir), "CSV");
  for (const std::string& e : dir.entries()) BOOST_TEST(e.front() == '.', "unexpected file " << e);
  // Summary: files of different models.
  RunResult a = run_latent(fit_args("kidiq", {"--chains", "1", "--warmup", "50", "--samples", "20", "-q", "-o",
                                              dir.file("kidiq.csv")}),
                           dir);
  RunResult b = run_latent(fit_args("eight_schools", {"--chains", "1", "--warmup", "50", "--samples", "20", "-q", "-o",
                                                      dir.file("schools.csv")}),
                           dir);
  BOOST_REQUIRE(a.exit_code == 0);
  BOOST_REQUIRE(b.exit_code == 0);
  expect_user_error(run_latent({"summary", dir.file("kidiq.csv"), dir.file("schools.csv")}, dir),
                    "does not have the columns");
}
