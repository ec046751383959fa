// The `latent` command line, run as a separate process: exit codes, output
// files and their content (compared with BoundModel and with closed forms),
// and one clear message on stderr, exit code 1 and no output file for every
// user error.
#define BOOST_TEST_MODULE cli
#include "tests/support/model_fixture.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <numeric>

using namespace latent;
using namespace latent::testing;
using nlohmann::json;

namespace {

using Vec = std::vector<double>;

const std::vector<std::string> kExamples{"eight_schools", "logistic", "kidiq", "linear_regression",
                                         "mixture", "ark", "garch"};

std::string model_of(const std::string& example) { return example_dir(example) + "/model.lat"; }
std::string data_of(const std::string& example) { return example_dir(example) + "/data.json"; }

// "NaN" / "Infinity" / "-Infinity" strings (the CLI's JSON for non-finite numbers) or a number.
double number(const json& j) {
  if (j.is_number()) return j.get<double>();
  std::string s = j.get<std::string>();
  if (s == "NaN") return std::nan("");
  return s[0] == '-' ? -INFINITY : INFINITY;
}

json parse_json(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    BOOST_ERROR("not JSON: " << e.what() << "\n" << text.substr(0, 500));
    return json::object();
  }
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// A user error: exit code 1 (not a crash, not an internal error), nothing on
// stdout, one message on stderr that contains every `parts`.
void expect_user_error(const RunResult& r, const std::vector<std::string>& parts) {
  BOOST_TEST(r.exited, r);
  BOOST_TEST(r.exit_code == 1, r);
  BOOST_TEST(r.out.empty(), r);
  BOOST_TEST(!r.err.empty(), r);
  BOOST_TEST(!contains(r.err, "internal error"), r);
  for (auto& p : parts) BOOST_TEST(contains(r.err, p), "stderr should mention '" << p << "'\n" << r);
}

// The data rows of a CmdStan-style CSV (comments skipped): header, then values.
std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::istringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// Ordinary least squares of kidiq: kid_score = b1 + b2 * mom_iq.
std::pair<double, double> kidiq_ols() {
  auto data = json::parse(read_text(data_of("kidiq")));
  Vec x = data["mom_iq"].get<Vec>(), y = data["kid_score"].get<Vec>();
  const double n = static_cast<double>(x.size());
  double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
  return {my - sxy / sxx * mx, sxy / sxx};
}

const std::string kEightSchoolsInit =
    "{\"theta_tilde\": [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8], \"mu\": 4.5, \"tau\": 2.5}";

}  // namespace

// ============================================================================================
// check, grad
// ============================================================================================

BOOST_AUTO_TEST_CASE(check_every_example) {
  TempDir dir;
  for (auto& name : kExamples) {
    RunResult r = run_latent({"check", model_of(name)}, dir);
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(r.exited);
      BOOST_TEST(r.exit_code == 0, r);
      BOOST_TEST(contains(r.out, "ok"), r);
      BOOST_TEST(r.err.empty(), r);
    }
  }
}

BOOST_AUTO_TEST_CASE(help_exits_zero) {
  TempDir dir;
  RunResult r = run_latent({"--help"}, dir);
  BOOST_TEST(r.exit_code == 0, r);
  BOOST_TEST(contains(r.out + r.err, "fit"), r);
  RunResult f = run_latent({"fit", "--help"}, dir);
  BOOST_TEST(f.exit_code == 0, f);
  BOOST_TEST(contains(f.out + f.err, "--method"), f);
}

BOOST_AUTO_TEST_CASE(grad_at_constrained_init) {
  TempDir dir;
  std::string init = dir.write("init.json", kEightSchoolsInit);
  RunResult r = run_latent({"grad", model_of("eight_schools"), "--data", data_of("eight_schools"), "--at", init}, dir);
  BOOST_TEST(r.exit_code == 0, r);
  json j = parse_json(r.out);
  if (!j.contains("log_density")) return;

  auto m = load_example("eight_schools");
  std::mt19937_64 rng(0);
  Vec theta = m->unconstrain(DataSet::from_json_string(kEightSchoolsInit, "init.json"), rng);
  // theta: theta_tilde, mu, log(tau)
  BOOST_TEST(close(theta[9], std::log(2.5), 1e-15));
  Vec g = gradient(*m, theta, true);
  Vec u = j["unconstrained"].get<Vec>();
  BOOST_TEST(u.size() == theta.size());
  for (size_t i = 0; i < u.size() && i < theta.size(); ++i) BOOST_TEST(close(u[i], theta[i], 1e-15), i);
  BOOST_TEST(close(number(j["log_density"]), lp(*m, theta, true), 1e-14));
  BOOST_TEST(close(number(j["log_density_jacobian_false"]), lp(*m, theta, false), 1e-14));
  Vec jg = j["gradient"].get<Vec>();
  BOOST_TEST(jg.size() == g.size());
  for (size_t i = 0; i < jg.size() && i < g.size(); ++i) BOOST_TEST(close(jg[i], g[i], 1e-14), i);
  // the Jacobian of tau = exp(u) is log(tau)
  BOOST_TEST(close(number(j["log_density"]) - number(j["log_density_jacobian_false"]), std::log(2.5), 1e-12));
}

// `grad --time` says where the compile time went (issue 10): the data, each
// pipeline stage, and whether the machine code came from the object cache.
BOOST_AUTO_TEST_CASE(grad_time_reports_stages_and_cache) {
  TempDir dir;
  std::string previous = std::getenv("LATENT_CACHE_DIR") ? std::getenv("LATENT_CACHE_DIR") : "";
  setenv("LATENT_CACHE_DIR", dir.file("cache").c_str(), 1);
  std::vector<std::string> args{"grad", model_of("kidiq"), "--data", data_of("kidiq"), "--time"};
  RunResult cold = run_latent(args, dir), warm = run_latent(args, dir);
  if (previous.empty()) unsetenv("LATENT_CACHE_DIR"); else setenv("LATENT_CACHE_DIR", previous.c_str(), 1);
  BOOST_TEST(cold.exit_code == 0, cold);
  BOOST_TEST(warm.exit_code == 0, warm);
  for (const auto& [r, cached] : {std::pair{&cold, false}, std::pair{&warm, true}}) {
    json j = parse_json(r->out);
    BOOST_TEST_REQUIRE(j.contains("compile_stages"), *r);
    const json& stages = j["compile_stages"];
    BOOST_TEST(stages["cached"].get<bool>() == cached, *r);
    double sum = 0;
    for (const char* stage : {"ast", "data", "lowered", "objective", "gradient", "llvm", "llvm-optimized"}) {
      BOOST_TEST_REQUIRE(stages.contains(stage), stage << "\n" << *r);
      double seconds = number(stages[stage]);
      BOOST_TEST(seconds >= 0, stage);
      sum += seconds;
    }
    BOOST_TEST(number(stages["ast"]) > 0);
    BOOST_TEST(number(stages["llvm-optimized"]) > 0);
    BOOST_TEST(sum <= number(j["compile_seconds"]), *r);
  }
}

BOOST_AUTO_TEST_CASE(grad_at_unconstrained_point_and_no_jacobian) {
  TempDir dir;
  const Vec theta{0.3, -1.1, 0.25, 0.9, -0.4, 1.3, -0.7, 0.05, 2.0, -0.5};
  std::string arr = "[";
  for (size_t i = 0; i < theta.size(); ++i) arr += (i ? ", " : "") + std::to_string(theta[i]);
  arr += "]";
  auto m = load_example("eight_schools");
  Vec exact;  // the values as the CLI parsed them from the decimal text
  for (double v : theta) exact.push_back(std::stod(std::to_string(v)));

  RunResult r =
      run_latent({"grad", model_of("eight_schools"), "--data", data_of("eight_schools"), "--unconstrained", arr}, dir);
  BOOST_TEST(r.exit_code == 0, r);
  json j = parse_json(r.out);
  if (j.contains("log_density")) {
    BOOST_TEST(close(number(j["log_density"]), lp(*m, exact, true), 1e-14));
    Vec g = gradient(*m, exact, true), jg = j["gradient"].get<Vec>();
    for (size_t i = 0; i < jg.size() && i < g.size(); ++i) BOOST_TEST(close(jg[i], g[i], 1e-14), i);
  }

  RunResult n = run_latent(
      {"grad", model_of("eight_schools"), "--data", data_of("eight_schools"), "--unconstrained", arr, "--no-jacobian"},
      dir);
  BOOST_TEST(n.exit_code == 0, n);
  json k = parse_json(n.out);
  if (k.contains("log_density")) {
    BOOST_TEST(close(number(k["log_density"]), lp(*m, exact, false), 1e-14), n.out);
    BOOST_TEST(close(number(k["log_density"]), number(k["log_density_jacobian_false"]), 1e-14), n.out);
    Vec g = gradient(*m, exact, false), kg = k["gradient"].get<Vec>();
    BOOST_TEST(kg.size() == g.size());
    for (size_t i = 0; i < kg.size() && i < g.size(); ++i) BOOST_TEST(close(kg[i], g[i], 1e-14), i);
    // d/du of the Jacobian term u is 1: the two gradients differ only in log(tau)'s coordinate
    Vec jg = j.contains("gradient") ? j["gradient"].get<Vec>() : Vec(10, 0.0);
    BOOST_TEST(close(jg[9] - kg[9], 1.0, 1e-12));
    for (size_t i = 0; i < 9; ++i) BOOST_TEST(close(jg[i], kg[i], 1e-14));
  }
}

BOOST_AUTO_TEST_CASE(ir_prints_every_stage) {
  TempDir dir;
  RunResult r = run_latent({"ir", model_of("eight_schools"), "--data", data_of("eight_schools")}, dir);
  BOOST_TEST(r.exit_code == 0, r);
  for (const char* stage : {"ast", "lowered", "objective", "gradient", "llvm", "llvm-optimized"})
    BOOST_TEST(contains(r.out, std::string("; ---- stage ") + stage + "\n"), stage << "\n" << r);
  BOOST_TEST(contains(r.out, "log density"), r);
  BOOST_TEST(contains(r.out, "define"), "LLVM IR functions expected\n" << r);
  RunResult s = run_latent({"ir", model_of("eight_schools"), "--data", data_of("eight_schools"), "--stage", "ir"}, dir);
  BOOST_TEST(s.exit_code == 0, s);
  BOOST_TEST(contains(s.out, "; ---- stage objective"), s);
  BOOST_TEST(!contains(s.out, "define"), s);
}

// `ir --precision mixed` (the default, as `fit --method svi` runs) shows the
// operands and results kept in float (MADE's masked weights); `double` none.
BOOST_AUTO_TEST_CASE(ir_shows_what_mixed_precision_keeps_in_float) {
  TempDir dir;
  const std::string images = std::string(LATENT_SOURCE_DIR) + "/tests/data/fashion-mnist-300-images-idx3-ubyte.gz";
  const std::string made = std::string(LATENT_SOURCE_DIR) + "/examples/made/made.lat";
  std::vector<std::string> args{"ir", made, "--data", images, "--batch", "128", "--stage", "llvm-optimized"};
  RunResult mixed = run_latent(args, dir);
  BOOST_TEST(mixed.exit_code == 0, mixed);
  BOOST_TEST(contains(mixed.out, " x float>"), "masked weights computed into floats (vector stores)\n" << mixed);
  args.insert(args.end(), {"--precision", "double"});
  RunResult in_double = run_latent(args, dir);
  BOOST_TEST(in_double.exit_code == 0, in_double);
  BOOST_TEST(!contains(in_double.out, "float"), in_double);
}

// The data checks run once, when a model is bound: compiled without LLVM's
// optimisation passes (optnone), the log density with them.
BOOST_AUTO_TEST_CASE(the_data_checks_are_not_optimised) {
  TempDir dir;
  RunResult r = run_latent({"ir", model_of("eight_schools"), "--data", data_of("eight_schools"), "--stage", "llvm"}, dir);
  BOOST_TEST(r.exit_code == 0, r);
  std::istringstream lines(r.out);
  std::string line, checks_attributes, density_line;
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("define void @latent_data_checks(", 0) == 0) checks_attributes = l.substr(l.rfind(") ") + 2);
    if (l.rfind("define void @latent_log_density(", 0) == 0) density_line = l;
  }
  BOOST_TEST(checks_attributes.size() > 1, r);  // "#2 {"
  std::string group = checks_attributes.substr(0, checks_attributes.find(' '));
  BOOST_TEST(contains(r.out, "attributes " + group + " = { noinline optnone }"), r);
  BOOST_TEST(!contains(density_line, "#"), density_line);
}

// The optimisation pipeline (compiler/codegen/jit.cpp) keeps what the gradients'
// speed comes from: the GARCH example's loops are vectorised, their logarithms
// and exponentials calling glibc's vector math library.
BOOST_AUTO_TEST_CASE(the_optimised_code_is_vectorised) {
  TempDir dir;
  RunResult r = run_latent({"ir", model_of("garch"), "--data", data_of("garch"), "--stage", "llvm-optimized"}, dir);
  BOOST_TEST(r.exit_code == 0, r);
  BOOST_TEST(contains(r.out, "vector.body"), r);
  BOOST_TEST(contains(r.out, "x double>"), r);
  BOOST_TEST(contains(r.out, "_ZGVdN4v_log"), r);
  BOOST_TEST(contains(r.out, "_ZGVdN4v_exp"), r);
}

// LATENT_LLVM_OPTIONS passes options to LLVM (as clang's -mllvm): -time-passes
// reports each compile's passes; an unknown option is a user error naming it.
BOOST_AUTO_TEST_CASE(llvm_options_come_from_the_environment) {
  TempDir dir;
  std::vector<std::string> args{"grad", model_of("kidiq"), "--data", data_of("kidiq")};
  std::string previous = std::getenv("LATENT_CACHE") ? std::getenv("LATENT_CACHE") : "";
  setenv("LATENT_CACHE", "off", 1);  // the passes run only when the object is compiled
  setenv("LATENT_LLVM_OPTIONS", "-time-passes", 1);
  RunResult timed = run_latent(args, dir);
  setenv("LATENT_LLVM_OPTIONS", "-no-such-llvm-option", 1);
  RunResult unknown = run_latent(args, dir);
  unsetenv("LATENT_LLVM_OPTIONS");
  if (previous.empty()) unsetenv("LATENT_CACHE"); else setenv("LATENT_CACHE", previous.c_str(), 1);
  BOOST_TEST(timed.exit_code == 0, timed);
  BOOST_TEST(contains(timed.err, "Pass execution timing report"), timed);
  BOOST_TEST(contains(timed.err, "LoopVectorizePass"), timed);
  BOOST_TEST(unknown.exit_code == 1, unknown);
  BOOST_TEST(unknown.err == "latent: LATENT_LLVM_OPTIONS: Unknown command line argument '-no-such-llvm-option'.\n",
             unknown);
  BOOST_TEST(unknown.out.empty(), unknown);
}

// Every stage of every example, with the method each is fitted by (the VAE and
// the DLGM on the bundled Fashion-MNIST images).
BOOST_AUTO_TEST_CASE(ir_prints_every_stage_of_every_example) {
  TempDir dir;
  const std::string images = std::string(LATENT_SOURCE_DIR) + "/tests/data/fashion-mnist-300-images-idx3-ubyte.gz";
  std::vector<std::vector<std::string>> runs;
  for (const char* m : {"eight_schools", "logistic", "kidiq", "linear_regression", "mixture", "ark", "garch"})
    runs.push_back({"ir", model_of(m), "--data", data_of(m)});
  runs.push_back({"ir", model_of("kidiq"), "--data", data_of("kidiq"), "--method", "advi"});
  runs.push_back({"ir", model_of("kidiq"), "--data", data_of("kidiq"), "--method", "fullrank"});
  runs.push_back({"ir", model_of("eight_schools"), "--data", data_of("eight_schools"), "--method", "outputs"});
  for (const char* m : {"vae/vae.lat", "dlgm/dlgm.lat"}) {
    std::string model = std::string(LATENT_SOURCE_DIR) + "/examples/" + m;
    runs.push_back({"ir", model, "--data", images, "--batch", "8"});
    runs.push_back({"ir", model, "--data", images, "--batch", "8", "--method", "svi", "--evaluation"});
    runs.push_back({"ir", model, "--data", images, "--batch", "8", "--method", "sample", "--step", "prior"});
    runs.push_back({"ir", model, "--data", images, "--batch", "8", "--method", "sample", "--step", "encoder"});
  }
  for (const auto& args : runs) {
    RunResult r = run_latent(args, dir);
    BOOST_TEST(r.exit_code == 0, r);
    for (const char* stage : {"ast", "lowered", "objective", "gradient", "llvm", "llvm-optimized"})
      BOOST_TEST(contains(r.out, std::string("; ---- stage ") + stage + "\n"), stage << "\n" << r);
  }
}

BOOST_AUTO_TEST_CASE(grad_argument_errors) {
  TempDir dir;
  RunResult a = run_latent(
      {"grad", model_of("eight_schools"), "--data", data_of("eight_schools"), "--unconstrained", "[1, 2]"}, dir);
  expect_user_error(a, {"10"});
  RunResult b = run_latent(
      {"grad", model_of("eight_schools"), "--data", data_of("eight_schools"), "--unconstrained", "[1, 2"}, dir);
  expect_user_error(b, {"--unconstrained"});
  std::string init = dir.write("bad_init.json", "{\"tau\": -1}");
  RunResult c = run_latent({"grad", model_of("eight_schools"), "--data", data_of("eight_schools"), "--at", init}, dir);
  expect_user_error(c, {"bad_init.json", "tau"});
}

// ============================================================================================
// fit
// ============================================================================================

BOOST_AUTO_TEST_CASE(fit_map_kidiq_csv_and_json) {
  TempDir dir;
  auto [b1, b2] = kidiq_ols();
  std::string csv = dir.file("out.csv"), js = dir.file("out.json");

  RunResult r = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--method", "map", "-o", csv}, dir);
  BOOST_TEST(r.exit_code == 0, r);
  BOOST_TEST(r.out.empty(), r);
  BOOST_TEST(std::filesystem::exists(csv));
  auto rows = csv_rows(read_text(csv));
  BOOST_TEST(rows.size() == 2u, read_text(csv));
  if (rows.size() == 2) {
    std::vector<std::string> header{"lp__", "beta.1", "beta.2", "sigma"};
    BOOST_TEST(rows[0] == header, boost::test_tools::per_element());
    BOOST_TEST(rows[1].size() == 4u);
    if (rows[1].size() == 4) {
      double e1 = std::stod(rows[1][1]), e2 = std::stod(rows[1][2]), sigma = std::stod(rows[1][3]);
      // flat prior on beta: the mode in beta is least squares (to CmdStan's default tolerances,
      // which stop ~1e-4 away along the ridge of the strongly correlated intercept and slope)
      BOOST_TEST(close_rel(e1, b1, 1e-3), e1 << " vs OLS " << b1);
      BOOST_TEST(close_rel(e2, b2, 1e-3), e2 << " vs OLS " << b2);
      BOOST_TEST(sigma > 10);
      BOOST_TEST(sigma < 30);
      // lp__ is the log density (jacobian=0) at the estimate
      auto m = load_example("kidiq");
      Vec theta{e1, e2, std::log(sigma)};
      BOOST_TEST(close_rel(std::stod(rows[1][0]), lp(*m, theta, false), 1e-6));
    }
  }

  RunResult rj = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "-o", js}, dir);
  BOOST_TEST(rj.exit_code == 0, rj);
  json j = parse_json(read_text(js));
  BOOST_TEST(j.contains("parameters"), j.dump());
  if (!j.contains("parameters")) return;
  BOOST_TEST(j["converged"].get<bool>());
  Vec beta = j["parameters"]["beta"].get<Vec>();
  BOOST_TEST(beta.size() == 2u);
  BOOST_TEST(close_rel(beta[0], b1, 1e-3), beta[0] << " vs " << b1);
  BOOST_TEST(close_rel(beta[1], b2, 1e-3), beta[1] << " vs " << b2);
  BOOST_TEST(close_rel(j["columns"]["beta.2"].get<double>(), beta[1], 1e-15));

  // `parameters` is a valid --init: the fit restarts at the optimum, and grad --at gives the same point.
  std::string init = dir.write("init.json", j["parameters"].dump());
  RunResult again = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--init", init, "-o",
                                dir.file("again.json")},
                               dir);
  BOOST_TEST(again.exit_code == 0, again);
  json k = parse_json(read_text(dir.file("again.json")));
  if (k.contains("parameters")) {
    Vec beta2 = k["parameters"]["beta"].get<Vec>();
    // (the slope and intercept are strongly correlated: one more step along the ridge is fine)
    BOOST_TEST(close_rel(beta2[0], beta[0], 1e-4), beta2[0] << " vs " << beta[0]);
    BOOST_TEST(close_rel(beta2[1], beta[1], 1e-4), beta2[1] << " vs " << beta[1]);
    BOOST_TEST(k["iterations"].get<int>() <= 5, k.dump());
  }
  RunResult g = run_latent({"grad", model_of("kidiq"), "--data", data_of("kidiq"), "--at", init}, dir);
  BOOST_TEST(g.exit_code == 0, g);
  json gj = parse_json(g.out);
  if (gj.contains("unconstrained")) {
    Vec u = gj["unconstrained"].get<Vec>(), w = j["unconstrained"].get<Vec>();
    BOOST_TEST(u.size() == w.size());
    for (size_t i = 0; i < u.size() && i < w.size(); ++i) BOOST_TEST(close(u[i], w[i], 1e-12), i);
  }
}

BOOST_AUTO_TEST_CASE(fit_jacobian_flag) {
  // s ~ gamma(3, 2): the mode of the density of s is (3 - 1) / 2 = 1 (CmdStan's default, jacobian=0);
  // with --jacobian, the mode of the density of log(s) is 3 / 2.
  TempDir dir;
  std::string model = dir.write("g.lat", "parameters { real<lower=0> s; }\nmodel {\n  s ~ gamma(3, 2);\n}\n");
  for (bool jac : {false, true}) {
    std::vector<std::string> args{"fit", model, "-o", dir.file("out.json"), "-q"};
    if (jac) args.push_back("--jacobian");
    RunResult r = run_latent(args, dir);
    BOOST_TEST(r.exit_code == 0, r);
    json j = parse_json(read_text(dir.file("out.json")));
    if (!j.contains("parameters")) continue;
    double s = j["parameters"]["s"].get<double>();
    // (CmdStan's default relative-gradient tolerance leaves ~1e-5 of slack here)
    BOOST_TEST(close_rel(s, jac ? 1.5 : 1.0, 1e-4), "jacobian " << jac << ": " << s);
  }
}

BOOST_AUTO_TEST_CASE(seeds_are_reproducible) {
  TempDir dir;
  auto run = [&](const std::string& seed) {
    return run_latent({"grad", model_of("eight_schools"), "--data", data_of("eight_schools"), "--seed", seed}, dir);
  };
  RunResult a = run("7"), b = run("7"), c = run("8");
  BOOST_TEST(a.exit_code == 0, a);
  BOOST_TEST(a.out == b.out);
  BOOST_TEST(a.out != c.out);
  RunResult f1 = run_latent({"fit", model_of("eight_schools"), "--data", data_of("eight_schools"), "--seed", "3", "-q"},
                            dir);
  RunResult f2 = run_latent({"fit", model_of("eight_schools"), "--data", data_of("eight_schools"), "--seed", "3", "-q"},
                            dir);
  BOOST_TEST(f1.exit_code == 0, f1);
  BOOST_TEST(f1.out == f2.out);
}

BOOST_AUTO_TEST_CASE(fit_csv_on_stdout) {
  TempDir dir;
  RunResult r = run_latent({"fit", model_of("eight_schools"), "--data", data_of("eight_schools"), "-q"}, dir);
  BOOST_TEST(r.exit_code == 0, r);
  auto rows = csv_rows(r.out);
  BOOST_TEST(rows.size() == 2u, r);
  if (!rows.empty()) {
    BOOST_TEST(rows[0].size() == 1u + 8 + 2 + 8);
    BOOST_TEST(rows[0][0] == "lp__");
    BOOST_TEST(rows[0][1] == "theta_tilde.1");
    BOOST_TEST(rows[0].back() == "theta.8");
  }
}

BOOST_AUTO_TEST_CASE(fit_methods_not_available_are_user_errors) {
  TempDir dir;
  RunResult r = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--method", "gibbs", "-o",
                            dir.file("out.csv")},
                           dir);
  expect_user_error(r, {"gibbs"});
  BOOST_TEST(!std::filesystem::exists(dir.file("out.csv")));
}

// ============================================================================================
// User errors: exit 1, one message naming the file, no crash, no output file
// ============================================================================================

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(missing_model_file) {
  TempDir dir;
  std::string missing = dir.file("no_such_model.lat");
  RunResult r = run_latent({"fit", missing, "-o", dir.file("out.csv")}, dir);
  expect_user_error(r, {"no_such_model.lat"});
  BOOST_TEST(!std::filesystem::exists(dir.file("out.csv")));
  expect_user_error(run_latent({"check", missing}, dir), {"no_such_model.lat"});
  expect_user_error(run_latent({"grad", missing}, dir), {"no_such_model.lat"});
  // a directory is not a model file
  expect_user_error(run_latent({"check", dir.path.string()}, dir), {dir.path.string()});
}

BOOST_AUTO_TEST_CASE(empty_model_file) {
  TempDir dir;
  std::string empty = dir.write("empty.lat", "");
  RunResult r = run_latent({"fit", empty, "-o", dir.file("out.csv")}, dir);
  BOOST_TEST(r.exited, r);
  BOOST_TEST(r.exit_code == 1, r);
  BOOST_TEST(contains(r.err, "empty.lat"), r);
  BOOST_TEST(!std::filesystem::exists(dir.file("out.csv")));
}

BOOST_AUTO_TEST_CASE(binary_junk) {
  TempDir dir;
  std::string junk;
  std::mt19937 rng(42);
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>(rng() & 0xff);
  junk[100] = '\0';
  std::string path = dir.write("junk.lat", junk);
  for (std::string cmd : {"check", "fit"}) {
    std::vector<std::string> args{cmd, path};
    if (cmd == "fit") args.insert(args.end(), {"-o", dir.file("out.csv")});
    RunResult r = run_latent(args, dir);
    expect_user_error(r, {"junk.lat"});
    BOOST_TEST(r.err.size() < 2000u, "one message, not a flood: " << r.err.size() << " bytes");
  }
  BOOST_TEST(!std::filesystem::exists(dir.file("out.csv")));
  // junk as a data file
  std::string data = dir.write("junk.json", junk);
  RunResult d = run_latent({"fit", model_of("kidiq"), "--data", data, "-o", dir.file("out.csv")}, dir);
  expect_user_error(d, {"junk.json"});
  BOOST_TEST(!std::filesystem::exists(dir.file("out.csv")));
}

BOOST_AUTO_TEST_CASE(syntax_error_has_line_and_column) {
  TempDir dir;
  std::string path = dir.write("bad.lat", "parameters {\n  real x\n}\nmodel {\n  x ~ normal(0, 1);\n}\n");
  RunResult r = run_latent({"check", path}, dir);
  expect_user_error(r, {"bad.lat:"});
  BOOST_TEST((contains(r.err, "bad.lat:2:") || contains(r.err, "bad.lat:3:")), r);
  std::string t = dir.write("type.lat", "parameters {\n  real x;\n}\nmodel {\n  x ~ normal(0, 1, 2);\n}\n");
  RunResult s = run_latent({"check", t}, dir);
  expect_user_error(s, {"type.lat:5:"});
}

BOOST_AUTO_TEST_CASE(deeply_nested_expression) {
  TempDir dir;
  const int depth = 5000;
  std::string expr = std::string(depth, '(') + "x" + std::string(depth, ')');
  std::string path = dir.write("deep.lat", "parameters { real x; }\nmodel {\n  target += " + expr + ";\n}\n");
  for (std::string cmd : {"check", "fit"}) {
    std::vector<std::string> args{cmd, path};
    if (cmd == "fit") args.insert(args.end(), {"-o", dir.file("out.csv")});
    RunResult r = run_latent(args, dir);
    BOOST_TEST_CONTEXT(cmd) {
      expect_user_error(r, {"deep.lat:3:"});
      BOOST_TEST(r.err.size() < 5000u, "one message, not a flood: " << r.err.size() << " bytes");
    }
  }
  BOOST_TEST(!std::filesystem::exists(dir.file("out.csv")));
  // deep unary minus and deep blocks are guarded too
  std::string neg = dir.write("neg.lat", "parameters { real x; }\nmodel {\n  target += " + std::string(depth, '-') +
                                             "x;\n}\n");
  expect_user_error(run_latent({"check", neg}, dir), {"neg.lat:3:"});
  std::string blocks = dir.write("blocks.lat", "parameters { real x; }\nmodel {\n" + std::string(depth, '{') +
                                                   "x ~ normal(0, 1);" + std::string(depth, '}') + "\n}\n");
  expect_user_error(run_latent({"check", blocks}, dir), {"blocks.lat:3:"});
}

BOOST_AUTO_TEST_CASE(data_errors) {
  TempDir dir;
  std::string out = dir.file("out.csv");
  // wrong shape: 7 values for J = 8
  std::string bad = dir.write("data.json",
                              "{\"J\": 8, \"y\": [28, 8, -3, 7, -1, 1, 18], \"sigma\": [15, 10, 16, 11, 9, 11, 10, 18]}");
  RunResult r = run_latent({"fit", model_of("eight_schools"), "--data", bad, "-o", out}, dir);
  expect_user_error(r, {"data.json", "'y'"});
  BOOST_TEST(!std::filesystem::exists(out));
  // missing data file
  RunResult m = run_latent({"fit", model_of("eight_schools"), "--data", dir.file("nope.json"), "-o", out}, dir);
  expect_user_error(m, {"nope.json"});
  BOOST_TEST(!std::filesystem::exists(out));
  // no data file at all for a model that needs data
  RunResult n = run_latent({"fit", model_of("eight_schools"), "-o", out}, dir);
  expect_user_error(n, {"'J'"});
  // a JSON syntax error: file:line:col
  std::string syntax = dir.write("syntax.json", "{\n  \"J\": 8,\n  \"y\": [1, 2,, 3]\n}\n");
  RunResult s = run_latent({"fit", model_of("eight_schools"), "--data", syntax, "-o", out}, dir);
  expect_user_error(s, {"syntax.json:3:"});
  // a value outside the declared bounds
  std::string bounds = dir.write("bounds.json",
                                 "{\"J\": 2, \"y\": [1, 2], \"sigma\": [1, -2]}");
  RunResult b = run_latent({"fit", model_of("eight_schools"), "--data", bounds, "-o", out}, dir);
  expect_user_error(b, {"bounds.json", "'sigma'"});
  BOOST_TEST(!std::filesystem::exists(out));
}

BOOST_AUTO_TEST_CASE(shape_error_in_the_model) {
  TempDir dir;
  std::string path = dir.write("shape.lat",
                               "data { int N; }\nparameters { vector[N] a; vector[N + 1] b; }\n"
                               "model {\n  target += sum(a + b);\n}\n");
  std::string data = dir.write("d.json", "{\"N\": 3}");
  RunResult r = run_latent({"fit", path, "--data", data, "-o", dir.file("out.csv")}, dir);
  expect_user_error(r, {"shape.lat:4:"});
  BOOST_TEST(!std::filesystem::exists(dir.file("out.csv")));
}

BOOST_AUTO_TEST_CASE(log_density_not_finite_at_init) {
  TempDir dir;
  std::string out = dir.file("out.csv");
  // log of a negative number at x = 1
  std::string a = dir.write("log.lat", "parameters { real x; }\nmodel {\n  x ~ normal(0, 1);\n  target += log(x - 10);\n}\n");
  std::string init = dir.write("init.json", "{\"x\": 1}");
  RunResult r = run_latent({"fit", a, "--init", init, "-o", out}, dir);
  expect_user_error(r, {"log.lat:4"});
  BOOST_TEST(!std::filesystem::exists(out));
  // a negative scale computed from a parameter: the failed argument check names the statement
  std::string b = dir.write("scale.lat",
                            "parameters { real x; }\nmodel {\n  real s = x - 2;\n  0 ~ normal(x, s);\n}\n");
  RunResult s = run_latent({"fit", b, "--init", init, "-o", out}, dir);
  expect_user_error(s, {"scale.lat:4", "scale parameter"});
  BOOST_TEST(!std::filesystem::exists(out));
  // no finite random initial point at all
  std::string c = dir.write("never.lat", "parameters { real x; }\nmodel {\n  target += log(-1 - square(x));\n}\n");
  RunResult n = run_latent({"fit", c, "-o", out}, dir);
  expect_user_error(n, {"never.lat:3"});
  BOOST_TEST(!std::filesystem::exists(out));
  // an existing output file is left untouched by a failed fit
  write_text(out, "previous contents\n");
  RunResult k = run_latent({"fit", a, "--init", init, "-o", out}, dir);
  BOOST_TEST(k.exit_code == 1, k);
  BOOST_TEST(read_text(out) == "previous contents\n");
}

BOOST_AUTO_TEST_CASE(init_errors) {
  TempDir dir;
  std::string out = dir.file("out.csv");
  std::string bad = dir.write("init.json", "{\"sigma\": -3}");
  RunResult r = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--init", bad, "-o", out}, dir);
  expect_user_error(r, {"init.json", "sigma"});
  BOOST_TEST(!std::filesystem::exists(out));
  std::string shape = dir.write("shape.json", "{\"beta\": [1, 2, 3]}");
  RunResult s = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--init", shape, "-o", out}, dir);
  expect_user_error(s, {"shape.json", "beta"});
  RunResult m = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--init", dir.file("none.json"),
                            "-o", out},
                           dir);
  expect_user_error(m, {"none.json"});
  BOOST_TEST(!std::filesystem::exists(out));
}

BOOST_AUTO_TEST_CASE(command_line_errors_do_not_crash) {
  TempDir dir;
  RunResult a = run_latent({}, dir);
  BOOST_TEST(a.exited, a);
  BOOST_TEST(a.exit_code != 0, a);
  RunResult b = run_latent({"frobnicate"}, dir);
  BOOST_TEST(b.exited, b);
  BOOST_TEST(b.exit_code != 0, b);
  RunResult c = run_latent({"fit"}, dir);
  BOOST_TEST(c.exited, c);
  BOOST_TEST(c.exit_code != 0, c);
  BOOST_TEST(!c.err.empty(), c);
  RunResult d = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--iter", "-5"}, dir);
  BOOST_TEST(d.exited, d);
  BOOST_TEST(d.exit_code != 0, d);
}

BOOST_AUTO_TEST_SUITE_END()
