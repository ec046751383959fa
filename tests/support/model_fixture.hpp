// Helpers shared by the model-level tests (test_stdlib, test_models, test_cli):
// compiling a model string with data, evaluating it, finite-difference
// gradients, temporary files and running the `latent` binary.
#pragma once

#include <boost/test/unit_test.hpp>

#include "compiler/frontend/frontend.hpp"
#include "common/source.hpp"
#include "data/json_data.hpp"
#include "kernels/eval_context.hpp"
#include "runtime/model/bound_model.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace latent::testing {

// ---- compiling and evaluating ------------------------------------------------------------

// Parses, checks and binds `model_text` (named "test.lat" in messages) to the JSON data.
inline std::unique_ptr<BoundModel> make_model(const std::string& model_text, const std::string& json = "{}",
                                              const std::string& path = "test.lat") {
  auto src = std::make_shared<SourceFile>(SourceFile{path, model_text});
  std::shared_ptr<ast::Program> prog = parse_program(src);
  check_program(*prog);
  return std::make_unique<BoundModel>(prog, DataSet::from_json_string(json, "data.json"));
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string example_dir(const std::string& name) {
  return std::string(LATENT_SOURCE_DIR) + "/examples/" + name;
}

// An example model bound to its data (examples/<name>/model.lat, data.json).
inline std::unique_ptr<BoundModel> load_example(const std::string& name) {
  std::string dir = example_dir(name);
  return make_model(read_text(dir + "/model.lat"), read_text(dir + "/data.json"), dir + "/model.lat");
}

inline double lp(const BoundModel& m, const std::vector<double>& theta, bool jacobian = true) {
  return m.log_density(theta.data(), nullptr, jacobian);
}

inline std::vector<double> gradient(const BoundModel& m, const std::vector<double>& theta, bool jacobian = true,
                                    double* value = nullptr) {
  std::vector<double> g(theta.size(), std::nan(""));
  double v = m.log_density(theta.data(), g.data(), jacobian);
  if (value) *value = v;
  return g;
}

// Central finite differences of the log density (4th-order, step scaled with |x|).
inline std::vector<double> fd_gradient(const BoundModel& m, const std::vector<double>& theta, bool jacobian = true,
                                       double step = 1e-5) {
  std::vector<double> g(theta.size());
  for (size_t i = 0; i < theta.size(); ++i) {
    double h = step * std::max(1.0, std::fabs(theta[i]));
    auto at = [&](double d) {
      std::vector<double> t = theta;
      t[i] += d;
      return lp(m, t, jacobian);
    };
    g[i] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
  }
  return g;
}

// |a - b| <= rel * max(1, |b|)
// The output `name` of the model at theta as its elements in column-major order
// ("L.1.1", "L.2.1", ...; "v.1", ...; "r").
inline std::vector<double> output_values(const BoundModel& m, const std::vector<double>& theta, const std::string& name) {
  std::vector<std::string> names = m.output_names();
  std::vector<double> out = m.constrained_outputs(theta.data());
  std::vector<std::pair<std::vector<int>, double>> found;
  for (size_t k = 0; k < names.size(); ++k) {
    const std::string& n = names[k];
    if (n != name && n.rfind(name + ".", 0) != 0) continue;
    std::vector<int> index;
    std::stringstream s(n.substr(name.size()));
    std::string part;
    while (std::getline(s, part, '.'))
      if (!part.empty()) index.push_back(std::stoi(part));
    std::reverse(index.begin(), index.end());  // column-major: the last index slowest
    found.push_back({index, out[k]});
  }
  std::sort(found.begin(), found.end());
  std::vector<double> v;
  for (auto& [index, x] : found) v.push_back(x);
  return v;
}

// The message of the check that fails at theta ("" when none does); the density
// there must not be finite.
inline std::string failure_message(const BoundModel& m, const std::vector<double>& theta) {
  EvalContext ctx;
  double v = m.log_density(theta.data(), nullptr, true, &ctx);
  BOOST_TEST(!std::isfinite(v));
  return ctx.failed ? ctx.failure_text() : "";
}

inline bool close(double a, double b, double rel) {
  if (std::isnan(a) || std::isnan(b)) return false;
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= rel * std::max(1.0, std::fabs(b));
}

// Relative closeness for values far from 1 in magnitude: |a - b| <= rel * |b| (or abs when b == 0).
inline bool close_rel(double a, double b, double rel) {
  if (std::isnan(a) || std::isnan(b)) return false;
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= rel * std::max(std::fabs(b), 1e-300) || std::fabs(a - b) <= 1e-300;
}

inline std::string vec_str(const std::vector<double>& v) {
  std::ostringstream s;
  s.precision(17);
  s << "[";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  return s.str() + "]";
}

// Gradient of m equals the finite-difference gradient to `tol` (relative to max(1, |fd|)).
inline void check_gradient(const BoundModel& m, const std::vector<double>& theta, bool jacobian = true,
                           double tol = 1e-6, const std::string& what = "") {
  double value = 0;
  std::vector<double> g = gradient(m, theta, jacobian, &value);
  BOOST_TEST_CONTEXT(what << " at theta = " << vec_str(theta) << " (lp = " << value << ")") {
    BOOST_TEST(std::isfinite(value));
    std::vector<double> fd = fd_gradient(m, theta, jacobian);
    for (size_t i = 0; i < g.size(); ++i)
      BOOST_TEST(close(g[i], fd[i], tol), "d/dtheta[" << i << "]: gradient " << g[i] << " vs finite differences "
                                                      << fd[i] << " (diff " << g[i] - fd[i] << ")");
  }
}

inline std::vector<double> random_theta(std::mt19937_64& rng, size_t n, double lo = -1.5, double hi = 1.5) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> t(n);
  for (auto& x : t) x = u(rng);
  return t;
}

// The value of output column `name` (CmdStan name, e.g. "theta.1").
inline double output(const BoundModel& m, const std::vector<double>& theta, const std::string& name) {
  std::vector<std::string> names = m.output_names();
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    BOOST_ERROR("no output column named " << name);
    return std::nan("");
  }
  std::vector<double> out = m.constrained_outputs(theta.data());
  return out.at(static_cast<size_t>(it - names.begin()));
}

// The UserError message thrown by f, or "" (and a test failure) when none is thrown.
template <class F>
std::string user_error(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  } catch (const std::exception& e) {
    BOOST_ERROR("expected a UserError, got another exception: " << e.what());
    return e.what();
  }
  BOOST_ERROR("expected a UserError, nothing was thrown");
  return "";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The UserError message of fn(), or "<no error>".
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "<no error>";
}

// ---- temporary files and the CLI ---------------------------------------------------------

// A fresh directory, removed with its contents on destruction.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "latent-test-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    path = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename().string());
    return out;
  }
  std::string write(const std::string& name, const std::string& text) const {
    write_text(file(name), text);
    return file(name);
  }
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct RunResult {
  bool exited = false;   // terminated normally (not by a signal)
  int exit_code = -1;    // when exited
  int signal = 0;        // when killed by a signal
  std::string out, err;
};

inline std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  return os << "exit " << r.exit_code << (r.exited ? "" : " (signal " + std::to_string(r.signal) + ")")
            << "\n--- stdout ---\n" << r.out.substr(0, 2000) << "\n--- stderr ---\n" << r.err.substr(0, 2000);
}

// Runs a shell command line, capturing stdout and stderr in files of `dir`.
inline RunResult run_command(const std::string& cmd, const TempDir& dir) {
  std::string out = dir.file(".stdout"), err = dir.file(".stderr");
  std::string full = "{ " + cmd + "; } </dev/null >" + shell_quote(out) + " 2>" + shell_quote(err);
  int status = std::system(full.c_str());
  RunResult r;
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// Runs LATENT_BINARY with the arguments (each shell-quoted); `exec`: the status
// is the binary's own (a signal stays a signal).
inline RunResult run_latent(const std::vector<std::string>& args, const TempDir& dir) {
  std::string cmd = "exec " + shell_quote(LATENT_BINARY);
  for (auto& a : args) cmd += " " + shell_quote(a);
  return run_command(cmd, dir);
}

}  // namespace latent::testing
