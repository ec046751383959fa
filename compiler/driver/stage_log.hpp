// Printing and timing the pipeline's stages (compiler/driver/pipeline.hpp).
//
// LATENT_DEBUG=lowered,objective (or =all) prints those stages' text to standard
// error as they complete; LATENT_TIME_STAGES=1 prints each stage's time. A caller
// (`latent ir`) may also capture a stage's text. Every stage's time is added to
// the calling thread's totals (stage_seconds()), which `latent grad --time` reports.
#pragma once

#include "compiler/driver/pipeline.hpp"

#include <array>
#include <chrono>
#include <string>

namespace latent::driver {

using StageSeconds = std::array<double, static_cast<size_t>(Stage::Count)>;

// Seconds spent in each stage by this thread since the last reset.
StageSeconds& stage_seconds();

class StageLog {
 public:
  explicit StageLog(const StageOptions& options = {});

  // Printed or captured: its text is made.
  bool wanted(Stage s) const { return print_[index(s)] || capture_[index(s)]; }

  // Runs one stage: result = produce(); its text is describe(result) when wanted.
  template <class Produce, class Describe>
  auto run(Stage s, Produce produce, Describe describe) {
    auto start = std::chrono::steady_clock::now();
    auto result = produce();
    finished(s, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (wanted(s)) show(s, describe(result));
    return result;
  }

  const std::array<std::string, static_cast<size_t>(Stage::Count)>& captured() const { return captured_; }

 private:
  static size_t index(Stage s) { return static_cast<size_t>(s); }
  void finished(Stage s, double seconds);
  void show(Stage s, const std::string& text);

  std::array<bool, static_cast<size_t>(Stage::Count)> print_{}, capture_{};
  bool time_ = false;
  std::array<std::string, static_cast<size_t>(Stage::Count)> captured_;
};

}  // namespace latent::driver
