// NUTS chains and ADVI's draws across the processes of an MPI job (issue 17):
// `mpirun -np K latent fit ...` gives the files a single process writes (NUTS:
// the same draws to the last digit; ADVI: the same fit up to rounding), only
// rank 0 writes, and a failing rank stops the job with its message. The parts
// that need no MPI (a chain's result as bytes, the keyed noise) run in every
// build; the runs under mpirun are skipped, saying so, in a build without MPI.
#define BOOST_TEST_MODULE mpi_chains
#include "tests/support/csv_file.hpp"
#include "tests/support/mpi_run.hpp"

#include "runtime/distributed/job.hpp"
#include "runtime/inference/chains_in_job.hpp"
#include "runtime/inference/draw_noise.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

using namespace latent;
using namespace latent::testing;

namespace {

std::string model_of(const std::string& example) { return example_dir(example) + "/model.lat"; }
std::string data_of(const std::string& example) { return example_dir(example) + "/data.json"; }

std::vector<std::string> fit_args(const std::string& example, const std::string& method,
                                  const std::vector<std::string>& more) {
  std::vector<std::string> args{"fit", model_of(example), "--data", data_of(example), "--method", method};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The lines of a CSV that are not comments (the header and the rows, as written).
std::vector<std::string> non_comment_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  return lines;
}

// The summary table without its line of timings ("slowest chain: warm-up ... s").
std::string without_timings(const std::string& summary) {
  std::istringstream in(summary);
  std::string line, kept;
  while (std::getline(in, line))
    if (!contains(line, "slowest chain")) kept += line + "\n";
  return kept;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool skip_without_mpi() {
  if (mpi_available()) return false;
  BOOST_TEST_MESSAGE("skipped: built without MPI (-DLATENT_MPI=ON) or mpirun cannot start here");
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_chain_result_survives_its_bytes_exactly) {
  ChainResult c;
  c.chain = 2;
  c.rows = 2;
  c.draws = {-7.25, 0.1, 1e-310, std::nan(""), -0.0, std::numeric_limits<double>::infinity(), 3.0000000000000004, 1.0 / 3};
  c.initial_point = {0.5, -1.5};
  c.step_size = 0.123456789012345678;
  c.inverse_metric = {2.0 / 3, 5.0 / 7};
  c.warmup_seconds = 1.25;
  c.sampling_seconds = 2.5;
  c.warmup_divergences = 3;
  c.divergences = 1;
  c.max_depth_hits = 4;
  c.gradient_evaluations = 123456789012;
  c.generated_failures = 2;
  c.first_generated_failure = "normal_rng: Scale parameter is 0, but must be positive!\nline 2";

  ChainResult back = deserialize_chain(serialize_chain(c));
  BOOST_TEST(back.chain == c.chain);
  BOOST_TEST(back.rows == c.rows);
  BOOST_TEST_REQUIRE(back.draws.size() == c.draws.size());
  for (size_t k = 0; k < c.draws.size(); ++k) BOOST_TEST(same_bits(back.draws[k], c.draws[k]), "draw value " << k);
  BOOST_TEST(back.initial_point == c.initial_point);
  BOOST_TEST(same_bits(back.step_size, c.step_size));
  BOOST_TEST(back.inverse_metric == c.inverse_metric);
  BOOST_TEST(back.warmup_seconds == c.warmup_seconds);
  BOOST_TEST(back.sampling_seconds == c.sampling_seconds);
  BOOST_TEST(back.warmup_divergences == c.warmup_divergences);
  BOOST_TEST(back.divergences == c.divergences);
  BOOST_TEST(back.max_depth_hits == c.max_depth_hits);
  BOOST_TEST(back.gradient_evaluations == c.gradient_evaluations);
  BOOST_TEST(back.generated_failures == c.generated_failures);
  BOOST_TEST(back.first_generated_failure == c.first_generated_failure);

  // Cut short or with bytes left over: an error, not a half-read result.
  std::string bytes = serialize_chain(c);
  BOOST_CHECK_THROW(deserialize_chain(bytes.substr(0, bytes.size() - 3)), std::runtime_error);
  BOOST_CHECK_THROW(deserialize_chain(bytes + "x"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(a_job_of_one_runs_every_chain_and_gathers_its_own) {
  distributed::Job one;  // a job of one process, whatever the build
  BOOST_TEST(chains_of_rank(3, one) == (std::vector<int>{0, 1, 2}));
  std::vector<ChainResult> mine(2);
  mine[1].chain = 1;
  mine[1].draws = {1, 2};
  std::vector<ChainResult> all = gather_chains(mine, 2, one);
  BOOST_TEST_REQUIRE(all.size() == 2u);
  BOOST_TEST(all[1].draws == mine[1].draws);
}

BOOST_AUTO_TEST_CASE(the_noise_of_a_draw_depends_only_on_its_keys) {
  const int64_t n = 5;
  std::vector<double> a(n), b(n), c(n);
  draw_noise(7, 0, 12, 3, a.data(), n);
  draw_noise(7, 0, 12, 3, b.data(), n);
  BOOST_TEST(a == b);  // the same keys, drawn anywhere: the same noise
  for (auto [seed, stream, evaluation, draw] : {std::array<uint64_t, 4>{8, 0, 12, 3}, {7, 1, 12, 3}, {7, 0, 13, 3},
                                                  {7, 0, 12, 4}}) {
    draw_noise(seed, stream, evaluation, draw, c.data(), n);
    BOOST_TEST(c != a, "keys " << seed << " " << stream << " " << evaluation << " " << draw);
  }
  // Standard normal over many draws: mean 0 and variance 1 (to ~5 standard errors).
  double sum = 0, squares = 0;
  const int draws = 20000;
  for (int d = 0; d < draws; ++d) {
    draw_noise(1, 0, 0, static_cast<uint64_t>(d), c.data(), n);
    for (double x : c) {
      sum += x;
      squares += x * x;
    }
  }
  const double count = static_cast<double>(draws * n), mean = sum / count;
  BOOST_TEST(std::fabs(mean) < 5 / std::sqrt(count));
  BOOST_TEST(std::fabs(squares / count - mean * mean - 1) < 5 * std::sqrt(2 / count));
}

BOOST_AUTO_TEST_CASE(nuts_chains_on_two_processes_draw_what_one_process_draws) {
  if (skip_without_mpi()) return;
  TempDir one, two;
  auto args = [](const TempDir& dir) {
    return fit_args("eight_schools", "nuts",
                    {"--chains", "3", "--warmup", "150", "--samples", "100", "--seed", "7", "-o", dir.file("draws.csv")});
  };
  RunResult single = run_latent(args(one), one);
  BOOST_TEST_REQUIRE(single.exit_code == 0, single);
  RunResult job = run_latent_mpi(2, args(two), two);
  BOOST_TEST_REQUIRE(job.exit_code == 0, job);

  for (int chain = 1; chain <= 3; ++chain) {
    const std::string name = "draws_" + std::to_string(chain) + ".csv";
    BOOST_TEST_CONTEXT(name) {
      std::vector<std::string> a = non_comment_lines(read_text(one.file(name))),
                               b = non_comment_lines(read_text(two.file(name)));
      BOOST_TEST(a.size() == 101u);  // the header and 100 draws
      BOOST_TEST(a == b);            // every value as written, to the last digit
      // The adaptation's result is in the comments: the step size and the metric.
      Csv x = read_csv(one.file(name)), y = read_csv(two.file(name));
      std::vector<std::string> adaptation_x, adaptation_y;
      for (size_t k = 0; k < x.comments.size(); ++k)
        if (contains(x.comments[k], "Step size")) adaptation_x = {x.comments[k], x.comments.at(k + 2)};
      for (size_t k = 0; k < y.comments.size(); ++k)
        if (contains(y.comments[k], "Step size")) adaptation_y = {y.comments[k], y.comments.at(k + 2)};
      BOOST_TEST(!adaptation_x.empty());
      BOOST_TEST(adaptation_x == adaptation_y);
    }
  }
  // Rank 1 wrote nothing of its own: the same files in both directories.
  std::vector<std::string> files_one = one.entries(), files_two = two.entries();
  std::sort(files_one.begin(), files_one.end());
  std::sort(files_two.begin(), files_two.end());
  BOOST_TEST(files_one == files_two);
  // One summary (rank 0's), the same as the single process's but for the timings.
  BOOST_TEST(without_timings(job.out) == without_timings(single.out));
  BOOST_TEST(contains(job.err, "of 2 processes"), job);
}

BOOST_AUTO_TEST_CASE(more_processes_than_chains_leave_some_waiting) {
  if (skip_without_mpi()) return;
  TempDir one, three;
  auto args = [](const TempDir& dir) {
    return fit_args("eight_schools", "nuts",
                    {"--chains", "2", "--warmup", "100", "--samples", "50", "--seed", "3", "--quiet", "-o",
                     dir.file("draws.csv")});
  };
  RunResult single = run_latent(args(one), one);
  BOOST_TEST_REQUIRE(single.exit_code == 0, single);
  RunResult job = run_latent_mpi(3, args(three), three);  // rank 2 runs no chain
  BOOST_TEST_REQUIRE(job.exit_code == 0, job);
  for (const std::string name : {"draws_1.csv", "draws_2.csv"})
    BOOST_TEST(non_comment_lines(read_text(one.file(name))) == non_comment_lines(read_text(three.file(name))), name);
}

BOOST_AUTO_TEST_CASE(advi_on_two_processes_fits_what_one_process_fits) {
  if (skip_without_mpi()) return;
  for (const std::string method : {"advi", "fullrank"}) {
    BOOST_TEST_CONTEXT(method) {
      TempDir one, two;
      // 45 draws per ELBO estimate: blocks of 22 and 23, weighted by their share.
      // A well-conditioned posterior: in an ill-conditioned one (kidiq's) the
      // stochastic steps amplify the rounding of the sums until the runs part.
      auto args = [&](const TempDir& dir) {
        return fit_args("logistic", method,
                        {"--grad-samples", "4", "--elbo-samples", "45", "--seed", "11", "-o", dir.file("fit.json")});
      };
      RunResult single = run_latent(args(one), one);
      BOOST_TEST_REQUIRE(single.exit_code == 0, single);
      RunResult job = run_latent_mpi(2, args(two), two);
      BOOST_TEST_REQUIRE(job.exit_code == 0, job);
      nlohmann::json a = nlohmann::json::parse(read_text(one.file("fit.json")));
      nlohmann::json b = nlohmann::json::parse(read_text(two.file("fit.json")));
      BOOST_TEST(a["iterations"] == b["iterations"]);
      std::vector<double> mu_a = a["mu"], mu_b = b["mu"];
      BOOST_TEST_REQUIRE(mu_a.size() == mu_b.size());
      for (size_t k = 0; k < mu_a.size(); ++k)
        BOOST_TEST(close_rel(mu_b[k], mu_a[k], 1e-8), "mu[" << k << "]: " << mu_b[k] << " vs " << mu_a[k]);
      BOOST_TEST(close_rel(b["elbo"].get<double>(), a["elbo"].get<double>(), 1e-8));
      BOOST_TEST(one.entries().size() == two.entries().size());  // rank 1 wrote nothing
      BOOST_TEST(!contains(job.err, "rank 1"), job);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failing_chain_stops_the_job_with_its_message) {
  if (skip_without_mpi()) return;
  TempDir dir;
  // No point has a finite log density: every chain fails to start.
  std::string model = dir.write("nowhere.lat", "parameters { real x; } model { target += negative_infinity(); }\n");
  auto start = std::chrono::steady_clock::now();
  RunResult r = run_latent_mpi(2, {"fit", model, "--method", "nuts", "--chains", "3", "-o", dir.file("d.csv")}, dir, 120);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(r.exit_code != 0, r);
  BOOST_TEST(r.exit_code != 124, "the job hung until the timeout\n" << r);
  BOOST_TEST(seconds < 100);
  BOOST_TEST(contains(r.err, "stopped the job"), r);
  BOOST_TEST(contains(r.err, "initial"), r);  // the chain's own message
  BOOST_TEST(!std::filesystem::exists(dir.file("d_1.csv")));
}

BOOST_AUTO_TEST_CASE(iwae_is_refused_on_several_processes) {
  if (skip_without_mpi()) return;
  TempDir dir;
  RunResult r = run_latent_mpi(
      2, fit_args("logistic", "advi", {"--objective", "iwae", "--k", "4", "-o", dir.file("fit.json")}), dir,
      120);
  BOOST_TEST(r.exit_code == 1, r);
  BOOST_TEST(contains(r.err, "cannot be split across the 2 processes"), r);
  BOOST_TEST(!std::filesystem::exists(dir.file("fit.json")));
}
