#include "cli/chain_progress.hpp"

#include <chrono>
#include <iostream>
#include <sstream>

namespace latent::cli {

ChainProgressDisplay::ChainProgressDisplay(int chains, int64_t warmup, int64_t samples, bool terminal)
    : warmup_(warmup), total_(warmup + samples), terminal_(terminal), chains_(new Chain[static_cast<size_t>(chains)]),
      count_(chains) {
  printer_ = std::thread([this] { loop(); });
}

ChainProgressDisplay::~ChainProgressDisplay() { finish(); }

void ChainProgressDisplay::update(const ChainProgress& p) {
  Chain& c = chains_[static_cast<size_t>(p.chain)];
  c.iteration.store(p.iteration, std::memory_order_relaxed);
  c.divergences.store(p.divergences, std::memory_order_relaxed);
}

void ChainProgressDisplay::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;
    finished_ = true;
    stop_ = true;
  }
  wake_.notify_all();
  printer_.join();
}

void ChainProgressDisplay::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::milliseconds(terminal_ ? 200 : 500));
    render();
  }
}

std::string ChainProgressDisplay::line(int chain) const {
  const Chain& c = chains_[static_cast<size_t>(chain)];
  int64_t it = c.iteration.load(std::memory_order_relaxed);
  std::ostringstream s;
  s << "chain " << chain + 1 << ": iteration " << it << " / " << total_ << " ("
    << (total_ > 0 ? 100 * it / total_ : 100) << "%) "
    << (it >= total_ ? "done" : it == 0 ? "waiting" : it < warmup_ ? "warm-up" : "sampling");
  int64_t d = c.divergences.load(std::memory_order_relaxed);
  s << ", " << d << (d == 1 ? " divergence" : " divergences");
  return s.str();
}

void ChainProgressDisplay::render() {
  if (!terminal_) {
    for (int k = 0; k < count_; ++k) {
      Chain& c = chains_[static_cast<size_t>(k)];
      int64_t it = c.iteration.load(std::memory_order_relaxed);
      int tenth = total_ > 0 ? static_cast<int>(10 * it / total_) : 10;
      if (tenth > c.printed_tenth) {
        c.printed_tenth = tenth;
        std::cerr << line(k) << "\n";
      }
    }
    std::cerr << std::flush;
    return;
  }
  std::string text;
  if (lines_drawn_ > 0) text += "\033[" + std::to_string(lines_drawn_) + "A";  // back to the first line
  if (count_ <= 8) {
    for (int k = 0; k < count_; ++k) text += "\r\033[K" + line(k) + "\n";
    lines_drawn_ = count_;
  } else {
    int64_t done = 0, divergences = 0, warming = 0, finished = 0;
    for (int k = 0; k < count_; ++k) {
      int64_t it = chains_[static_cast<size_t>(k)].iteration.load(std::memory_order_relaxed);
      done += it;
      divergences += chains_[static_cast<size_t>(k)].divergences.load(std::memory_order_relaxed);
      warming += it < warmup_;
      finished += it >= total_;
    }
    int64_t all = total_ * count_;
    std::ostringstream s;
    s << "\r\033[K" << count_ << " chains: iteration " << done << " / " << all << " (" << (all ? 100 * done / all : 100)
      << "%), " << warming << " in warm-up, " << finished << " done, " << divergences << " divergences\n";
    text += s.str();
    lines_drawn_ = 1;
  }
  std::cerr << text << std::flush;
}

}  // namespace latent::cli
