#include "runtime/inference/worker_pool.hpp"

#include "common/source.hpp"

#include <algorithm>
#include <chrono>
#include <system_error>

namespace latent {

WorkerPool::WorkerPool(int threads, const std::function<std::thread(std::function<void()>)>& spawn) {
  threads_.reserve(static_cast<size_t>(std::max(0, threads - 1)));
  try {
    for (int i = 1; i < threads; ++i) {
      std::function<void()> body = [this] { loop(); };
      threads_.push_back(spawn ? spawn(std::move(body)) : std::thread(std::move(body)));
    }
  } catch (const std::system_error& e) {
    // The system refused a thread (too many, or no memory for its stack). The
    // destructor does not run for a constructor that throws: stop and join the
    // threads already started here, then report it.
    const size_t started = threads_.size() + 1;
    stop_and_join();
    throw UserError("cannot start " + std::to_string(threads) + " threads (the system refused after " +
                    std::to_string(started) + ": " + e.what() + "); use fewer --threads");
  }
}

WorkerPool::~WorkerPool() { stop_and_join(); }

void WorkerPool::stop_and_join() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void WorkerPool::work() {
  while (true) {
    int64_t i;
    const std::function<void(int64_t)>* task;
    {
      // The task is read with the index: a worker that wakes late joins the current run.
      std::lock_guard<std::mutex> lock(mutex_);
      if (next_ >= count_) return;
      i = next_++;
      task = task_;
    }
    try {
      (*task)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

namespace {

// How long a thread polls before it sleeps on a condition variable. A training
// step runs two sections a few milliseconds apart (the gradient, then the
// optimiser's step): waking a sleeping thread costs a system call and tens of
// microseconds of scheduling on a virtual machine each time, more than the poll.
constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Polls `ready` (with the lock held) until it holds or kSpin has passed.
template <class Ready>
void spin_until(std::mutex& mutex, Ready&& ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  do {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (ready()) return;
    }
    for (int k = 0; k < 64; ++k) cpu_relax();
  } while (std::chrono::steady_clock::now() < until);
}

}  // namespace

void WorkerPool::loop() {
  uint64_t seen = 0;
  while (true) {
    auto started = [&] { return stop_ || generation_ != seen; };
    spin_until(mutex_, started);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, started);
      if (stop_) return;
      seen = generation_;
      ++busy_;
    }
    work();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --busy_;
    }
    done_.notify_all();
  }
}

void WorkerPool::run(int64_t n, const std::function<void(int64_t)>& task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    next_ = 0;
    count_ = n;
    error_ = nullptr;
    ++generation_;
  }
  start_.notify_all();
  work();
  auto finished = [&] { return busy_ == 0 && next_ >= count_; };
  spin_until(mutex_, finished);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, finished);
  if (error_) std::rethrow_exception(error_);
}

}  // namespace latent
