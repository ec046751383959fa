// latent grad MODEL --data D [--at P | --unconstrained V]: log density and
// gradient at a point, as one JSON object (optionally timed).
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <random>

namespace latent::cli {

namespace {

struct GradOptions {
  std::string model, data, at, unconstrained;
  bool no_jacobian = false, time = false;
  uint64_t seed = 0;
};

std::vector<double> parse_unconstrained(const std::string& text, int64_t n) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw UserError("--unconstrained: not a JSON array of numbers: " + json_error_text(e));
  }
  if (!j.is_array()) throw UserError("--unconstrained: expected a JSON array of numbers");
  if (static_cast<int64_t>(j.size()) != n)
    throw UserError("--unconstrained: the model has " + std::to_string(n) + " unconstrained parameters, but " +
                    std::to_string(j.size()) + " values were given");
  std::vector<double> x;
  for (auto& v : j) {
    if (!v.is_number()) throw UserError("--unconstrained: every element must be a number");
    x.push_back(v.get<double>());
  }
  return x;
}

std::string json_array(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + json_number(v[i]);
  return s + "]";
}

double median_seconds_per_gradient(const BoundModel& m, const std::vector<double>& theta, bool jacobian) {
  std::vector<double> g(theta.size());
  for (int i = 0; i < 20; ++i) m.log_density(theta.data(), g.data(), jacobian);
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (times.size() < 20 || std::chrono::steady_clock::now() - start < std::chrono::seconds(1)) {
    auto t0 = std::chrono::steady_clock::now();
    m.log_density(theta.data(), g.data(), jacobian);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + static_cast<long>(times.size() / 2), times.end());
  return times[times.size() / 2];
}

}  // namespace

Command add_grad_command(CLI::App& app) {
  auto o = std::make_shared<GradOptions>();
  auto* sub = app.add_subcommand("grad", "Log density and its gradient at a point, as JSON");
  sub->add_option("model", o->model, "Model file")->required();
  sub->add_option("--data", o->data, "Data file (CmdStan JSON or R dump, .data.R)");
  auto* at = sub->add_option("--at", o->at, "Point: constrained parameter values by name (CmdStan init file, JSON or R dump)");
  sub->add_option("--unconstrained", o->unconstrained, "Point: the unconstrained vector as a JSON array")->excludes(at);
  sub->add_flag("--no-jacobian", o->no_jacobian, "Leave out the log-Jacobian of the constraint transforms");
  sub->add_option("--seed", o->seed, "Seed of the random point used without --at")->check(integer_in(0));
  sub->add_flag("--time", o->time, "Also time the value-and-gradient evaluation and the compilation");
  return [o] {
    bool jacobian = !o->no_jacobian;
    LoadedModel lm = load_model(o->model, o->data, jacobian, o->seed);
    const BoundModel& m = *lm.model;
    std::mt19937_64 rng(o->seed);
    std::vector<double> theta;
    if (!o->unconstrained.empty()) {
      theta = parse_unconstrained(o->unconstrained, m.num_unconstrained());
    } else if (!o->at.empty()) {
      theta = m.unconstrain(read_data_file(o->at, "file of --at"), rng);
    } else {
      theta = m.random_point(rng);
    }
    std::vector<double> grad(theta.size());
    double lp = m.log_density(theta.data(), grad.data(), jacobian);
    double lp_nojac = m.log_density(theta.data(), nullptr, false);
    // As fit and the README say: a log density that is not finite at the point (a
    // failed check, reject, or a value out of range) is an error, exit status 1.
    if (!std::isfinite(lp))
      throw UserError("latent: the log density is not finite at this point:\n" +
                      m.diagnose(theta.data(), jacobian).text());
    std::cout << "{\"log_density\": " << json_number(lp) << ", \"log_density_jacobian_false\": " << json_number(lp_nojac)
              << ",\n \"gradient\": " << json_array(grad) << ",\n \"unconstrained\": " << json_array(theta);
    if (o->time) {
      std::cout << ",\n \"seconds_per_gradient\": " << json_number(median_seconds_per_gradient(m, theta, jacobian))
                << ", \"compile_seconds\": " << json_number(lm.compile_seconds) << ",\n \"compile_stages\": {";
      for (size_t k = 0; k < lm.compile_stages.size(); ++k)
        std::cout << (k ? ", " : "") << "\"" << lm.compile_stages[k].first << "\": " << json_number(lm.compile_stages[k].second);
      std::cout << ", \"cached\": " << (m.compiled_from_cache(jacobian) ? "true" : "false") << "}";
    }
    std::cout << "}\n";
    return 0;
  };
}

}  // namespace latent::cli
