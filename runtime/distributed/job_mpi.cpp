// The job with MPI (-DLATENT_MPI=ON): the ranks of MPI_COMM_WORLD.
#include "runtime/distributed/job.hpp"

#include "common/source.hpp"

#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace latent::distributed {

namespace {

// Set by the launchers we know (Open MPI's mpirun, PMIx and PMI launchers such
// as Slurm's srun): without one, latent runs as a job of one, as in the plain build.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name)) return true;
  return false;
}

int count(size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) throw UserError("latent: a message between ranks is larger than 2^31 values\n");
  return static_cast<int>(n);
}

void check(int status, const char* what) {
  if (status != MPI_SUCCESS) throw UserError(std::string("latent: MPI failed in ") + what + "\n");
}

}  // namespace

Job& job() {
  static Job the_job;
  return the_job;
}

void Job::sum(double* values, size_t n) {
  if (size_ == 1) return;
  auto start = std::chrono::steady_clock::now();
  check(MPI_Allreduce(MPI_IN_PLACE, values, count(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  seconds_in_sum_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Job::sum(float* values, size_t n) {
  if (size_ == 1) return;
  auto start = std::chrono::steady_clock::now();
  check(MPI_Allreduce(MPI_IN_PLACE, values, count(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  seconds_in_sum_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Job::broadcast(std::string& bytes) {
  if (size_ == 1) return;
  unsigned long long n = bytes.size();
  check(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
  bytes.resize(static_cast<size_t>(n));
  check(MPI_Bcast(bytes.data(), count(bytes.size()), MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
}

std::vector<std::string> Job::gather(const std::string& mine) {
  if (size_ == 1) return {mine};
  int n = count(mine.size());
  std::vector<int> sizes(root() ? static_cast<size_t>(size_) : 0), offsets;
  check(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::string all;
  if (root()) {
    size_t total = 0;
    for (int s : sizes) {
      offsets.push_back(count(total));
      total += static_cast<size_t>(s);
    }
    all.resize(total);
  }
  check(MPI_Gatherv(mine.data(), n, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD),
        "MPI_Gatherv");
  std::vector<std::string> parts;
  for (size_t r = 0; r < sizes.size(); ++r)
    parts.push_back(all.substr(static_cast<size_t>(offsets[r]), static_cast<size_t>(sizes[r])));
  return parts;
}

void Job::abort(int exit_code) {
  if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

JobSession::JobSession(int& argc, char**& argv) {
  if (!launched_by_mpi()) return;
  int provided = 0;
  // Failing here, every rank would run the whole job alone and write the same outputs.
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::fputs("latent: started by an MPI launcher, but MPI_Init failed\n", stderr);
    std::exit(1);
  }
  started_ = true;
  Job& j = job();
  MPI_Comm_rank(MPI_COMM_WORLD, &j.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &j.size_);
}

JobSession::~JobSession() {
  if (started_) MPI_Finalize();
}

bool built_with_mpi() { return true; }

}  // namespace latent::distributed
