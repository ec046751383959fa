// Hardening (no crash, hang or internal error on any input): the cases that are
// not programs or command lines with a fixed output, so not golden cases —
//  - the worker pool when the system refuses a thread (no deadlock; a message);
//  - SVI through softmax / log_softmax / log_sum_exp of learned values (an
//    un-stopped max_reduce reached reverse mode);
//  - input files with size limits, FIFOs, write failures on standard output;
//  - message caps (diagnostics, message length);
//  - the fit-file readers on malformed text;
//  - values larger than the element limit built inside the IR.
#define BOOST_TEST_MODULE hardening
#include "tests/support/svi_fixture.hpp"

#include "common/read_file.hpp"
#include "common/source.hpp"
#include "compiler/ir/ir.hpp"
#include "runtime/inference/svi.hpp"
#include "runtime/inference/worker_pool.hpp"
#include "runtime/model/svi_model.hpp"
#include "runtime/output/svi_fit.hpp"
#include "runtime/output/variational_fit.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cmath>
#include <system_error>
#include <thread>

using namespace latent;
using namespace latent::testing;

namespace {

template <class F>
std::string user_error_of(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---- the worker pool ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(worker_pool_refused_thread_joins_the_started_ones) {
  // The system refuses the 4th thread: the three started ones are stopped and
  // joined (the constructor used to unwind while they waited: a deadlock), and the
  // error says what happened.
  std::atomic<int> started{0};
  auto spawn = [&](std::function<void()> body) {
    if (started == 3) throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
    ++started;
    return std::thread(std::move(body));
  };
  std::string msg = user_error_of([&] { WorkerPool pool(8, spawn); });
  BOOST_TEST(started.load() == 3);
  BOOST_TEST(contains(msg, "cannot start 8 threads"), msg);
  BOOST_TEST(contains(msg, "after 4"), msg);
  // The pool still works when every thread starts.
  WorkerPool pool(4);
  std::atomic<int64_t> sum{0};
  pool.run(100, [&](int64_t i) { sum += i; });
  BOOST_TEST(sum.load() == 4950);
}

// ---- SVI through softmax of learned values --------------------------------------------------

BOOST_AUTO_TEST_CASE(svi_trains_through_softmax_of_networks_and_parameters) {
  // The max shift of log_sum_exp / softmax is under stop_gradient; it was dropped
  // while lowering (the network weights were not yet parameters), and reverse
  // mode met a bare max_reduce: "internal error: max_reduce is only
  // differentiated under stop_gradient".
  const std::string data = R"({"N": 3, "x": [[1, 2], [3, 4], [0, -1]]})";
  for (const std::string body : {"target += sum(log_softmax(h(x)));", "target += sum(softmax(to_vector(h(x)[1])));",
                                 "target += log_sum_exp(to_vector(h(x))) + log_sum_exp(v) + sum(softmax(v));"}) {
    BOOST_TEST_CONTEXT(body) {
      std::string text =
          "data { int<plate> N; matrix[N, 2] x; }\nnetwork { dense h(2, 3); }\nparameters { vector[3] v; }\n"
          "model { v ~ normal(0, 1);\n" +
          body + "\n}\n";
      SviModel m(program(text), json_source(data));
      SviConfig config;
      config.batch = 2;
      config.epochs = 2;
      SviResult r = fit_svi(m, config);
      BOOST_TEST(r.phi.size() == static_cast<size_t>(m.reference().num_phi()));
      for (double v : r.phi) BOOST_TEST(std::isfinite(v));
    }
  }
}

// ---- input files -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(read_file_limits) {
  TempDir dir;
  std::string big = dir.file("big.json");
  write_text(big, std::string(2000, ' '));
  std::string msg = user_error_of([&] { read_file_limited(big, "data file", 1000); });
  BOOST_TEST(contains(msg, "cannot read data file '" + big + "': the file is larger than 1000 bytes"), msg);
  BOOST_TEST(read_file_limited(big, "data file", 2000).size() == 2000u);
  // A device without end is read only up to the limit.
  msg = user_error_of([&] { read_file_limited("/dev/zero", "model file", 1 << 20); });
  BOOST_TEST(contains(msg, "larger than 1 MiB"), msg);
  // Binary data is rejected from its first bytes.
  msg = user_error_of([] { DataSet::from_json_file("/dev/urandom"); });
  BOOST_TEST(contains(msg, "not a JSON text file"), msg);
  // A FIFO (or a pipe, --data <(...)) is read to its end, not by its size.
  std::string fifo = dir.file("fifo");
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::thread writer([&] { write_text(fifo, "{\"N\": 3}"); });
  std::string error;
  double n = 0;
  try {
    n = DataSet::from_json_file(fifo).find("N")->values.at(0);
  } catch (const UserError& e) {
    error = e.what();
  }
  writer.join();
  BOOST_TEST(error == "");
  BOOST_TEST(n == 3.0);
  BOOST_TEST(contains(user_error_of([&] { read_file_limited(dir.path.string(), "fit file", 100); }), "it is a directory"));
  BOOST_TEST(contains(user_error_of([&] { read_file_limited(dir.file("none"), "init file", 100); }),
                      "cannot read init file"));
}

BOOST_AUTO_TEST_CASE(standard_output_write_failure_is_an_error) {
  // `latent fit ... > /dev/full` lost the CSV and exited 0.
  TempDir dir;
  std::string model = dir.file("m.lat"), data = dir.file("d.json");
  write_text(model, "parameters { real mu; } model { mu ~ normal(0, 1); }\n");
  write_text(data, "{}");
  for (const std::string command : {"fit", "check"}) {
    std::string cmd = std::string("exec ") + LATENT_BINARY + " " + command + " " + model +
                      (command == "fit" ? " --data " + data + " --quiet" : std::string()) + " >/dev/full 2>" +
                      dir.file("err");
    int status = std::system(cmd.c_str());
    BOOST_TEST_CONTEXT(command) {
      BOOST_TEST(WIFEXITED(status));
      BOOST_TEST(WEXITSTATUS(status) == 1);
      BOOST_TEST(contains(read_text(dir.file("err")), "cannot write to standard output: No space left on device"));
    }
  }
}

// ---- message caps ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(diagnostics_are_capped) {
  auto src = std::make_shared<SourceFile>(SourceFile{"t.lat", "x\n"});
  DiagnosticList d(src);
  for (int i = 0; i < 1000; ++i) d.error({1, 1}, "error " + std::to_string(i) + " " + std::string(5000, 'y'));
  std::string msg = user_error_of([&] { d.throw_if_any(); });
  BOOST_TEST(contains(msg, "error 19 "));
  BOOST_TEST(!contains(msg, "error 20 "));
  BOOST_TEST(contains(msg, "... and 980 more errors"));
  BOOST_TEST(msg.size() < 30000u);
  std::string huge(200000, 'z');
  BOOST_TEST(cap_message(huge).size() < kMaxMessageBytes + 100);
  // Cut at a character boundary: "é" is two bytes.
  std::string accents;
  for (int i = 0; i < 600; ++i) accents += "\xC3\xA9";
  std::string cut = cap_text(accents, 1001);
  BOOST_TEST(cut.size() == 1000u + 3u);
}

// ---- fit files -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(variational_fit_reader_rejects_malformed_files) {
  Family f;
  auto err = [&](const std::string& text, int64_t n = 1) {
    return user_error_of([&] { parse_variational_fit(text, "f.json", n, &f); });
  };
  BOOST_TEST(contains(err("[1, 2"), "f.json: not a JSON fit file: parse error"));
  BOOST_TEST(!contains(err("[1, 2"), "json.exception"));
  BOOST_TEST(contains(err("{\"method\": 1}"), "not a variational fit"));
  BOOST_TEST(contains(err(R"({"method": "advi", "family": [1], "mu": [0], "omega": [0]})"), "'family' must be"));
  BOOST_TEST(contains(err(R"({"method": "advi", "mu": {"a": 1}, "omega": [0]})"), "'mu' must be an array of numbers"));
  BOOST_TEST(contains(err(R"({"method": "advi", "mu": [0], "omega": [0, 1]})"), "'omega' has 2 values, expected 1"));
  BOOST_TEST(contains(err(R"({"method": "advi", "family": "fullrank", "mu": [0, 0], "L": [1]})", 2), "'L' has 1 values"));
  BOOST_TEST(contains(err(R"({"method": "advi", "mu": [0, 0], "omega": [0, 0]})"), "the fit has 2 unconstrained"));
  std::vector<double> phi = parse_variational_fit(R"({"method": "advi", "family": "meanfield", "mu": [1], "omega": [2]})",
                                                  "f.json", 1, &f);
  BOOST_TEST(phi == std::vector<double>({1, 2}));
}

BOOST_AUTO_TEST_CASE(svi_fit_reader_rejects_malformed_files) {
  SviModel m(program("data { int<plate> N; matrix[N, 2] x; }\nnetwork { dense h(2, 1); }\nparameters { real mu; }\n"
                     "model { mu ~ normal(0, 1); target += sum(h(x)); }\n"),
             json_source(R"({"N": 2, "x": [[1, 2], [3, 4]]})"));
  const SviModel::Compiled& layout = m.reference();
  auto err = [&](const std::string& text) { return user_error_of([&] { parse_svi_fit(text, "f.fit", layout); }); };
  const std::string head = R"({"format": "latent-svi-fit", "model": "m.lat", "data": "d.json", "max_rows": 0, "analytic_kl": false)";
  BOOST_TEST(contains(err("{"), "not JSON"));
  BOOST_TEST(contains(err(R"({"format": 7})"), "not a latent SVI fit"));
  BOOST_TEST(contains(err(head + "}"), "'tensors' is missing"));
  BOOST_TEST(contains(err(head + R"(, "tensors": 5})"), "'tensors' must be an array"));
  BOOST_TEST(contains(err(head + R"(, "tensors": []})"), "made for a different model"));
  BOOST_TEST(contains(err(R"({"format": "latent-svi-fit", "model": "m", "data": "d", "max_rows": -1, "analytic_kl": false})"),
                      "'max_rows' must be a non-negative integer"));
  BOOST_TEST(contains(err(R"({"format": "latent-svi-fit", "model": "m", "data": "d", "max_rows": 1.5, "analytic_kl": false})"),
                      "'max_rows' must be a non-negative integer"));
  BOOST_TEST(contains(err(R"({"format": "latent-svi-fit", "model": "m", "data": "d", "max_rows": 0, "analytic_kl": 1})"),
                      "'analytic_kl' must be true or false"));
}

// ---- sizes -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(graph_rejects_values_over_the_element_limit) {
  ir::Graph g;
  std::string msg = user_error_of([&] { g.fill(g.constant(0), {int64_t{1} << 20, int64_t{1} << 20}); });
  BOOST_TEST(contains(msg, "larger than the limit of 268435456"), msg);
  BOOST_TEST(ir::element_count({int64_t{1} << 40, int64_t{1} << 40}) == std::numeric_limits<int64_t>::max());
  BOOST_TEST(ir::element_count({3, 0, int64_t{1} << 62}) == 0);
}
