// A fixed set of threads that run one parallel section at a time: run(n, f)
// calls f(0..n-1) across the workers and the calling thread, and returns when
// all are done. Persistent threads, so a training step pays no thread start-up.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace latent {

class WorkerPool {
 public:
  // `threads` in total, the calling thread included. When the system refuses a
  // thread, the threads already started are joined and UserError is thrown.
  // `spawn` (for tests) starts a thread in place of std::thread's constructor.
  explicit WorkerPool(int threads, const std::function<std::thread(std::function<void()>)>& spawn = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()) + 1; }
  // Calls task(i) for i in [0, n), each once, spread over the threads. The
  // first exception thrown by a task is rethrown here after all have finished.
  void run(int64_t n, const std::function<void(int64_t)>& task);

 private:
  void work();
  void loop();
  void stop_and_join();

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t next_ = 0, count_ = 0;
  int busy_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace latent
