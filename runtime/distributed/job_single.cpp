// The job without MPI (the default build): one process, whose sums, broadcasts
// and gathers are its own values.
#include "runtime/distributed/job.hpp"

#include <cstdlib>

namespace latent::distributed {

Job& job() {
  static Job the_job;
  return the_job;
}

void Job::sum(double*, size_t) {}
void Job::sum(float*, size_t) {}
void Job::broadcast(std::string&) {}
std::vector<std::string> Job::gather(const std::string& mine) { return {mine}; }
void Job::abort(int exit_code) { std::exit(exit_code); }

JobSession::JobSession(int&, char**&) {}
JobSession::~JobSession() = default;

bool built_with_mpi() { return false; }

}  // namespace latent::distributed
