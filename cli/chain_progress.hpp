// Progress of sampling chains on standard error. The chains only store their
// counts (atomics, no lock in the sampler's loop); a printer thread renders them:
// on a terminal, one line per chain redrawn in place (one line for all chains
// beyond 8); otherwise a plain line per chain at every tenth of its iterations.
#pragma once

#include "runtime/inference/chains.hpp"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace latent::cli {

class ChainProgressDisplay {
 public:
  ChainProgressDisplay(int chains, int64_t warmup, int64_t samples, bool terminal);
  ~ChainProgressDisplay();  // stops the printer after a last rendering
  ChainProgressDisplay(const ChainProgressDisplay&) = delete;
  ChainProgressDisplay& operator=(const ChainProgressDisplay&) = delete;

  // For NutsOptions::progress: called from the chains' threads.
  void update(const ChainProgress& p);
  void finish();

 private:
  struct alignas(64) Chain {  // a cache line each: chains update their own from different threads
    std::atomic<int64_t> iteration{0}, divergences{0};
    int printed_tenth = 0;  // plain output: the last tenth printed
  };
  void loop();
  void render();
  std::string line(int chain) const;

  int64_t warmup_, total_;
  bool terminal_;
  std::unique_ptr<Chain[]> chains_;
  int count_;
  int lines_drawn_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false, finished_ = false;
  std::thread printer_;
};

}  // namespace latent::cli
