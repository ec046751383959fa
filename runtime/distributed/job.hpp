// The processes of one run of latent: a job of one process, or, in a build
// with MPI (-DLATENT_MPI=ON) started by mpirun or srun, the ranks of
// MPI_COMM_WORLD. Inference drivers ask the job which part of the work is
// theirs and combine the parts through it; rank 0 (the root) writes outputs
// and progress. Only the thread that started the job calls it (MPI's
// "funneled" level): the drivers' worker threads never communicate.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace latent::distributed {

class Job {
 public:
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }

  // Sums `values` over the ranks, in place (MPI_Allreduce).
  void sum(double* values, size_t n);
  void sum(float* values, size_t n);
  // Rank 0's `bytes` on every rank.
  void broadcast(std::string& bytes);
  // Every rank's `mine`, in rank order, at rank 0 (empty elsewhere).
  std::vector<std::string> gather(const std::string& mine);
  // Stops every rank of the job with `exit_code` (after the caller printed why).
  [[noreturn]] void abort(int exit_code);

  // Seconds spent in sum() so far (the cost of communication, for benchmarks).
  double seconds_in_sum() const { return seconds_in_sum_; }

 private:
  friend class JobSession;
  int rank_ = 0, size_ = 1;
  double seconds_in_sum_ = 0;
};

// The job of this process (a job of one until a JobSession starts MPI).
Job& job();

// Started first thing in main and ended last: initialises MPI when the
// process was launched by an MPI launcher (mpirun, srun) in a build with MPI,
// and finalises it. A plain `latent ...` never starts MPI (no start-up cost).
class JobSession {
 public:
  JobSession(int& argc, char**& argv);
  ~JobSession();
  JobSession(const JobSession&) = delete;
  JobSession& operator=(const JobSession&) = delete;

 private:
  bool started_ = false;
};

// Whether this build can run on several processes (built with MPI).
bool built_with_mpi();

}  // namespace latent::distributed
