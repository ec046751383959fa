// Running latent as a job of several MPI processes (mpirun --oversubscribe -np K),
// for the tests of the MPI build. Without MPI (the default build) the tests that
// need it are skipped: mpi_available() says why.
#pragma once

#include "tests/support/model_fixture.hpp"

#include <cstdlib>
#include <string>
#include <vector>

namespace latent::testing {

// Whether this build has MPI and mpirun can start processes here.
inline bool mpi_available() {
#ifdef LATENT_MPI
  return std::system("mpirun --version >/dev/null 2>&1") == 0;
#else
  return false;
#endif
}

// Runs `latent args...` on `ranks` processes. --allow-run-as-root: CI runs as
// root; --oversubscribe: more ranks than cores; timeout: a hang fails the test
// (exit 124) instead of stalling the suite.
inline RunResult run_latent_mpi(int ranks, const std::vector<std::string>& args, const TempDir& dir,
                                int timeout_seconds = 300) {
  std::string cmd = "exec timeout " + std::to_string(timeout_seconds) +
                    " mpirun --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " " +
                    shell_quote(LATENT_BINARY);
  for (auto& a : args) cmd += " " + shell_quote(a);
  return run_command(cmd, dir);
}

}  // namespace latent::testing
