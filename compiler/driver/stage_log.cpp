#include "compiler/driver/stage_log.hpp"

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace latent::driver {

namespace {

constexpr const char* kStageNames[] = {"ast", "lowered", "objective", "gradient", "llvm", "llvm-optimized"};
static_assert(std::size(kStageNames) == static_cast<size_t>(Stage::Count));

struct Environment {
  std::array<bool, static_cast<size_t>(Stage::Count)> print{};
  bool time = false;
  Environment() {
    if (const char* t = std::getenv("LATENT_TIME_STAGES")) time = std::string(t) == "1";
    const char* debug = std::getenv("LATENT_DEBUG");
    if (!debug) return;
    std::stringstream names(debug);
    std::string name;
    while (std::getline(names, name, ',')) {
      if (name == "all") {
        print.fill(true);
      } else if (auto s = stage_from_name(name)) {
        print[static_cast<size_t>(*s)] = true;
      } else if (!name.empty()) {
        std::cerr << "latent: LATENT_DEBUG: unknown stage '" << name
                  << "' (stages: ast, lowered, objective, gradient, llvm, llvm-optimized, all)\n";
      }
    }
  }
};

const Environment& environment() {
  static const Environment e;
  return e;
}

}  // namespace

const char* stage_name(Stage s) { return kStageNames[static_cast<size_t>(s)]; }

std::optional<Stage> stage_from_name(const std::string& name) {
  for (size_t k = 0; k < std::size(kStageNames); ++k)
    if (name == kStageNames[k]) return static_cast<Stage>(k);
  return std::nullopt;
}

StageSeconds& stage_seconds() {
  thread_local StageSeconds seconds{};
  return seconds;
}

StageLog::StageLog(const StageOptions& options) : capture_(options.capture) {
  const Environment& env = environment();
  print_ = env.print;
  time_ = env.time;
}

void StageLog::finished(Stage s, double seconds) {
  stage_seconds()[index(s)] += seconds;
  if (time_) std::cerr << "latent: stage " << stage_name(s) << ": " << seconds * 1e3 << " ms\n";
}

void StageLog::show(Stage s, const std::string& text) {
  if (capture_[index(s)]) captured_[index(s)] = text;
  if (print_[index(s)]) std::cerr << "; ---- stage " << stage_name(s) << "\n" << text << "\n";
}

}  // namespace latent::driver
