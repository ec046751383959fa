// A fit that stops at its iteration limit without meeting its convergence test
// is not a success: its outputs are written (they may still be useful, and the
// JSON says `converged: false`), a warning naming --iter goes to standard error
// (also with --quiet), and `latent` exits with status 3 instead of 0.
//
// Exit statuses of `latent`: 0 done; 1 a user error (one message); 2 an internal
// error (a bug); 3 a fit (map, laplace, advi, fullrank, dadvi) stopped at --iter
// before converging, outputs written. CmdStan exits 0 in that case with an
// informational message, which scripts cannot tell from success.
#pragma once

#include <string>
#include <vector>

namespace latent::cli {

constexpr int kExitNotConverged = 3;

// Prints the warning and returns kExitNotConverged. `what` says what stopped and
// what it did not meet ("L-BFGS stopped at ... before meeting its tolerances");
// `meaning` what the output may not be ("the mode"); outputs are the files
// written (none: standard output).
int report_not_converged(const std::string& what, const std::string& meaning, const std::vector<std::string>& outputs);

}  // namespace latent::cli
