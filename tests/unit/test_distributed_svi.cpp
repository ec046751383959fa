// SVI beyond one process (runtime/inference/svi.hpp, runtime/distributed/job.hpp):
//  1. a batch's estimate does not depend on how it is split: a fit on one part
//     equals the fit on three parts (threads) to rounding, tail batches included;
//  2. checkpoints: a fit killed (SIGKILL) after a checkpoint, or stopped by
//     SIGTERM (it checkpoints after the current step), and resumed with
//     --resume ends where the uninterrupted fit ends, to the last digit; a
//     resumed fit checks that its options are the checkpoint's;
//  3. with MPI (-DLATENT_MPI=ON; skipped otherwise): 2 ranks give the 1-rank
//     fit to rounding; a checkpoint of a 1-rank fit resumes on 2 ranks; a job
//     stopped by SIGTERM checkpoints and resumes; a rank failing mid-fit stops
//     the job with its message, without a hang.
#define BOOST_TEST_MODULE distributed_svi
#include "tests/support/mpi_run.hpp"
#include "tests/support/svi_fixture.hpp"

#include "runtime/inference/svi.hpp"
#include "runtime/output/svi_fit.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

using namespace latent;
using namespace latent::testing;

namespace {

// A global parameter (automatic guide), local latents of both plate layouts
// (a matrix's first index, an array's index) drawn by an amortised guide, and a network.
const char* kModel = R"(
data { int<plate> N; matrix[N, 2] x; }
network { dense dec(1, 2); }
parameters { real mu; real<lower=0> tau; matrix[N, 1] z; array[N] vector[2] w; }
model {
  mu ~ normal(0, 2);
  tau ~ lognormal(0, 1);
  to_vector(z) ~ normal(mu, tau);
  for (n in 1:N) {
    w[n] ~ normal(0, 1);
    if (x[n, 1] > 50) reject("row ", n, " has x = ", x[n, 1]);
  }
  x ~ normal(dec(z), 0.5);
  for (n in 1:N) x[n] ~ normal(w[n]', 2);
}
guide {
  network { dense enc_mu(2, 1); dense enc_ls(2, 1); dense w_mu(2, 2); }
  z ~ normal(enc_mu(x), exp(enc_ls(x)));
  for (n in 1:N) w[n] ~ normal(w_mu(x[n])', 0.5);
}
)";

// N rows of x, one of them (1-based `bad`, 0: none) with x[bad, 1] = 99 (the model rejects it).
std::string data_json(int n, int bad = 0) {
  std::string rows;
  for (int i = 1; i <= n; ++i) {
    double a = i == bad ? 99 : std::sin(1.3 * i) * 2, b = std::cos(0.7 * i) - 0.5;
    rows += (i > 1 ? ", [" : "[") + std::to_string(a) + ", " + std::to_string(b) + "]";
  }
  return "{\"N\": " + std::to_string(n) + ", \"x\": [" + rows + "]}";
}

double max_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i])));
  return worst;
}

// The phi of a fit file, checked against the model's layout.
std::vector<double> phi_of(const std::string& fit_path, const std::string& model_path, const std::string& data_path) {
  SviModel m(program(read_text(model_path)), open_data_source(data_path));
  return read_svi_fit(fit_path, m.reference()).phi;
}

struct Files {
  TempDir dir;
  std::string model = dir.write("model.lat", kModel);
  std::string data = dir.write("data.json", data_json(23));
};

std::vector<std::string> fit_args(const Files& f, const std::string& out, int epochs, int threads = 1) {
  return {"fit", f.model, "--data", f.data, "--method", "svi", "--batch", "7", "--epochs", std::to_string(epochs),
          "--lr", "0.01", "--seed", "11", "--threads", std::to_string(threads), "--quiet", "-o", out};
}

// Runs `argv` (a program found on PATH, its stderr in `err_path`) until `out`
// appears, then sends it `signal_number`; returns its wait status. The wait is
// on the directory's events (inotify), not on time: a checkpoint is written to a
// temporary file and renamed, which is IN_MOVED_TO; two minutes at most.
int interrupt_at_first_checkpoint(std::vector<std::string> argv, const std::string& err_path, const std::string& out,
                                  int signal_number) {
  const std::filesystem::path file(out);
  int events = inotify_init1(IN_CLOEXEC);
  BOOST_REQUIRE(events >= 0);
  BOOST_REQUIRE(inotify_add_watch(events, file.parent_path().c_str(), IN_MOVED_TO | IN_CREATE) >= 0);
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (!freopen("/dev/null", "w", stdout) || !freopen(err_path.c_str(), "w", stderr)) _exit(126);
    execvp(args[0], args.data());
    _exit(127);
  }
  BOOST_REQUIRE(pid > 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  alignas(inotify_event) char buffer[4096];
  while (!std::filesystem::exists(file)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd ready{events, POLLIN, 0};
    if (left.count() <= 0 || poll(&ready, 1, static_cast<int>(left.count())) <= 0) break;
    if (read(events, buffer, sizeof buffer) < 0) break;  // the events themselves: exists() decides
  }
  close(events);
  kill(pid, signal_number);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

// ---- 1. splitting a batch -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_fit_does_not_depend_on_how_its_batches_are_split) {
  SviModel m(program(kModel), json_source(data_json(23)));
  SviConfig config;
  config.batch = 7;  // 23 rows: batches of 7, 7, 7 and 2
  config.epochs = 3;
  config.lr = 0.01;
  config.seed = 5;
  config.threads = 1;
  SviResult one = fit_svi(m, config);
  config.threads = 3;  // three parts of every batch (the tail batch: two parts of one row)
  SviResult three = fit_svi(m, config);
  BOOST_REQUIRE_EQUAL(one.epochs.size(), 3u);
  BOOST_TEST(max_relative_difference(three.phi, one.phi) < 1e-12);
  BOOST_TEST(std::abs(three.epochs.back().neg_elbo_per_datum - one.epochs.back().neg_elbo_per_datum) < 1e-9);
  // The fit moved (a test of equal results must not compare two unchanged starts).
  BOOST_TEST(max_relative_difference(one.phi, initial_phi(m.reference(), 5)) > 1e-3);
}

// ---- 2. checkpoints -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_checkpoint_continues_to_the_uninterrupted_result) {
  SviModel m(program(kModel), json_source(data_json(23)));
  SviConfig config;
  config.batch = 7;
  config.epochs = 4;
  config.seed = 3;
  config.lr = 0.01;
  SviResult straight = fit_svi(m, config);
  // Checkpoints every 5 steps (4 steps per epoch): after step 10 the fit is in epoch 3, 2 steps done.
  std::vector<SviState> saved;
  config.checkpoint_every = 5;
  config.checkpoint = [&](const SviState& s) { saved.push_back(s); };
  SviResult checkpointed = fit_svi(m, config);
  BOOST_REQUIRE_EQUAL(saved.size(), 4u);  // steps 5, 10, 15 and the end
  BOOST_TEST(checkpointed.phi == straight.phi);
  BOOST_CHECK_EQUAL(saved[1].epoch, 3);
  BOOST_CHECK_EQUAL(saved[1].step, 2);
  config.checkpoint = nullptr;
  SviResult resumed = fit_svi(m, config, saved[1]);
  BOOST_TEST(resumed.phi == straight.phi);  // to the last digit
  BOOST_REQUIRE_EQUAL(resumed.epochs.size(), 2u);  // epochs 3 and 4
  BOOST_CHECK_EQUAL(resumed.epochs.back().neg_elbo_per_datum, straight.epochs.back().neg_elbo_per_datum);
}

BOOST_AUTO_TEST_CASE(a_fit_killed_or_stopped_after_a_checkpoint_resumes_to_the_same_result) {
  Files f;
  const std::string straight = f.dir.file("straight.fit");
  RunResult s = run_latent(fit_args(f, straight, 150), f.dir);
  BOOST_REQUIRE_MESSAGE(s.exited && s.exit_code == 0, s);
  // The same fit with a checkpoint (written to disk and synced) every 5 steps, ended
  // once its first checkpoint is there: SIGKILL (nothing more is written), or
  // SIGTERM, a scheduler's notice (a checkpoint after the current step, exit 143).
  for (int signal_number : {SIGKILL, SIGTERM}) {
    BOOST_TEST_CONTEXT("signal " << signal_number) {
      const std::string out = f.dir.file("interrupted" + std::to_string(signal_number) + ".fit");
      const std::string err = f.dir.file("interrupted.err");
      std::vector<std::string> args = fit_args(f, out, 150);
      args.insert(args.end(), {"--checkpoint-every", "5"});
      std::vector<std::string> command{LATENT_BINARY};
      command.insert(command.end(), args.begin(), args.end());
      const int status = interrupt_at_first_checkpoint(command, err, out, signal_number);
      SviFit partial = read_svi_fit(out, SviModel(program(kModel), json_source(data_json(23))).reference());
      BOOST_REQUIRE(partial.has_state);
      BOOST_TEST_MESSAGE("ended at epoch " << partial.state.epoch << ", step " << partial.state.step);
      BOOST_TEST(partial.state.epoch < 150);
      if (signal_number == SIGKILL) {
        BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status), "the fit ended before it was killed: the test needs a longer fit");
      } else {
        BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 143, "status " << status);
        BOOST_TEST(contains(read_text(err), "latent: stopped by SIGTERM at epoch " +
                                                std::to_string(partial.state.epoch) + ", step " +
                                                std::to_string(partial.state.step)),
                   read_text(err));
      }
      args.push_back("--resume");
      RunResult r = run_latent(args, f.dir);
      BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
      BOOST_TEST(phi_of(out, f.model, f.data) == phi_of(straight, f.model, f.data));  // to the last digit
    }
  }
}

BOOST_AUTO_TEST_CASE(a_resumed_fit_keeps_the_checkpoints_options) {
  Files f;
  const std::string out = f.dir.file("fit.fit");
  std::vector<std::string> args = fit_args(f, out, 2);
  args.insert(args.end(), {"--checkpoint-every", "3"});
  RunResult first = run_latent(args, f.dir);
  BOOST_REQUIRE_MESSAGE(first.exited && first.exit_code == 0, first);
  std::vector<std::string> other = fit_args(f, out, 4);
  other[7] = "5";  // --batch 5
  other.push_back("--resume");
  RunResult r = run_latent(other, f.dir);
  BOOST_CHECK_EQUAL(r.exit_code, 1);
  BOOST_CHECK_MESSAGE(contains(r.err, "--resume: the checkpoint " + out + " was written with --batch 7, this run has "
                                      "--batch 5"), r.err);
  std::vector<std::string> no_output = fit_args(f, out, 2);
  no_output.resize(no_output.size() - 2);
  no_output.push_back("--resume");
  RunResult n = run_latent(no_output, f.dir);
  BOOST_CHECK_EQUAL(n.exit_code, 1);
  BOOST_CHECK_MESSAGE(contains(n.err, "--resume needs --output x.fit"), n.err);
  // A fit written without --checkpoint-every has nothing to resume from.
  const std::string plain = f.dir.file("plain.fit");
  BOOST_REQUIRE_EQUAL(run_latent(fit_args(f, plain, 1), f.dir).exit_code, 0);
  std::vector<std::string> again = fit_args(f, plain, 2);
  again.push_back("--resume");
  RunResult p = run_latent(again, f.dir);
  BOOST_CHECK_EQUAL(p.exit_code, 1);
  BOOST_CHECK_MESSAGE(contains(p.err, "holds a finished fit without a checkpoint"), p.err);
}

// ---- 3. MPI -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(two_ranks_fit_what_one_fits) {
  if (!mpi_available()) {
    BOOST_TEST_MESSAGE("skipped: built without MPI (-DLATENT_MPI=ON) or no mpirun");
    return;
  }
  Files f;
  const std::string one = f.dir.file("one.fit"), two = f.dir.file("two.fit");
  RunResult a = run_latent(fit_args(f, one, 6), f.dir);
  BOOST_REQUIRE_MESSAGE(a.exited && a.exit_code == 0, a);
  RunResult b = run_latent_mpi(2, fit_args(f, two, 6), f.dir);
  BOOST_REQUIRE_MESSAGE(b.exited && b.exit_code == 0, b);
  // The ranks' sum is in single precision (as the optimiser's moments): equal to rounding.
  std::vector<double> p1 = phi_of(one, f.model, f.data), p2 = phi_of(two, f.model, f.data);
  BOOST_TEST(max_relative_difference(p2, p1) < 1e-5);
  SviModel m(program(kModel), json_source(data_json(23)));
  BOOST_TEST(max_relative_difference(p1, initial_phi(m.reference(), 11)) > 1e-3);  // it moved
  // Only rank 0 wrote: no temporary or second output files.
  std::vector<std::string> entries = f.dir.entries();
  for (const std::string& e : entries) BOOST_TEST((e[0] != '.' || e == ".stdout" || e == ".stderr"), e);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_one_rank_resumes_on_two) {
  if (!mpi_available()) {
    BOOST_TEST_MESSAGE("skipped: built without MPI (-DLATENT_MPI=ON) or no mpirun");
    return;
  }
  Files f;
  const std::string straight = f.dir.file("straight.fit"), out = f.dir.file("resumed.fit");
  BOOST_REQUIRE_EQUAL(run_latent(fit_args(f, straight, 5), f.dir).exit_code, 0);
  std::vector<std::string> args = fit_args(f, out, 2);
  args.insert(args.end(), {"--checkpoint-every", "3"});
  BOOST_REQUIRE_EQUAL(run_latent(args, f.dir).exit_code, 0);
  args = fit_args(f, out, 5);
  args.insert(args.end(), {"--checkpoint-every", "3", "--resume"});
  RunResult r = run_latent_mpi(2, args, f.dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  BOOST_TEST(max_relative_difference(phi_of(out, f.model, f.data), phi_of(straight, f.model, f.data)) < 1e-5);
}

BOOST_AUTO_TEST_CASE(a_job_stopped_by_sigterm_checkpoints_and_resumes) {
  if (!mpi_available()) {
    BOOST_TEST_MESSAGE("skipped: built without MPI (-DLATENT_MPI=ON) or no mpirun");
    return;
  }
  Files f;
  const std::string straight = f.dir.file("straight.fit"), out = f.dir.file("job.fit"), err = f.dir.file("job.err");
  // The uninterrupted job on 2 ranks: the resumed one sums the same parts in the same order.
  RunResult s = run_latent_mpi(2, fit_args(f, straight, 3000), f.dir);
  BOOST_REQUIRE_MESSAGE(s.exited && s.exit_code == 0, s);
  // mpirun passes SIGTERM on to the ranks; any rank's request travels in the
  // step's sum, so all stop after the same step and rank 0 writes the checkpoint.
  std::vector<std::string> args = fit_args(f, out, 3000);
  args.insert(args.end(), {"--checkpoint-every", "5"});
  std::vector<std::string> command{"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2", LATENT_BINARY};
  command.insert(command.end(), args.begin(), args.end());
  const int status = interrupt_at_first_checkpoint(command, err, out, SIGTERM);
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status " << status << "\n" << read_text(err));
  BOOST_TEST(contains(read_text(err), "latent: stopped by SIGTERM at epoch "), read_text(err));
  SviFit partial = read_svi_fit(out, SviModel(program(kModel), json_source(data_json(23))).reference());
  BOOST_REQUIRE(partial.has_state);
  BOOST_REQUIRE_MESSAGE(partial.state.epoch < 3000, "the job ended before SIGTERM: the test needs a longer fit");
  args.push_back("--resume");
  RunResult r = run_latent_mpi(2, args, f.dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  BOOST_TEST(phi_of(out, f.model, f.data) == phi_of(straight, f.model, f.data));  // to the last digit
}

BOOST_AUTO_TEST_CASE(a_rank_failing_mid_fit_stops_the_job_with_its_message) {
  if (!mpi_available()) {
    BOOST_TEST_MESSAGE("skipped: built without MPI (-DLATENT_MPI=ON) or no mpirun");
    return;
  }
  Files f;
  const std::string bad = f.dir.write("bad.json", data_json(23, 17));
  std::vector<std::string> args = fit_args(f, f.dir.file("bad.fit"), 6);
  args[3] = bad;
  auto start = std::chrono::steady_clock::now();
  RunResult r = run_latent_mpi(2, args, f.dir, 120);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("stopped after " << seconds << " s");
  BOOST_CHECK(r.exited);
  BOOST_CHECK_NE(r.exit_code, 0);
  BOOST_CHECK_NE(r.exit_code, 124);  // not the timeout: no rank hung
  BOOST_CHECK_MESSAGE(contains(r.err, "stopped the job"), r.err);
  BOOST_CHECK_MESSAGE(contains(r.err, "has x = 99"), r.err);
  BOOST_CHECK_MESSAGE(contains(r.err, "(epoch 1, step"), r.err);
  BOOST_CHECK(!std::filesystem::exists(f.dir.file("bad.fit")));
}

BOOST_AUTO_TEST_CASE(a_command_of_one_process_refuses_to_run_on_several) {
  if (!mpi_available()) {
    BOOST_TEST_MESSAGE("skipped: built without MPI (-DLATENT_MPI=ON) or no mpirun");
    return;
  }
  Files f;
  const std::string kidiq = example_dir("kidiq");
  RunResult map = run_latent_mpi(2, {"fit", kidiq + "/model.lat", "--data", kidiq + "/data.json", "--method", "map"},
                                 f.dir, 120);
  BOOST_CHECK_EQUAL(map.exit_code, 1);
  BOOST_CHECK_MESSAGE(contains(map.err, "--method map runs on one process: start it without mpirun"), map.err);
  RunResult grad = run_latent_mpi(2, {"grad", kidiq + "/model.lat", "--data", kidiq + "/data.json"}, f.dir, 120);
  BOOST_CHECK_EQUAL(grad.exit_code, 1);
  BOOST_CHECK_MESSAGE(contains(grad.err, "latent grad runs on one process"), grad.err);
  BOOST_CHECK(grad.out.empty());
}
