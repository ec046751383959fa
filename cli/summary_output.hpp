// Printing a posterior summary (runtime/inference/summary.hpp): a table for
// people, CSV (posterior's column names) and JSON for programs.
#pragma once

#include "runtime/inference/summary.hpp"

#include <string>

namespace latent::cli {

std::string summary_table(const PosteriorSummary& s);
std::string summary_csv(const PosteriorSummary& s);
std::string summary_json(const PosteriorSummary& s);
// "warning: ..." lines, one per warning.
std::string summary_warnings(const PosteriorSummary& s);

}  // namespace latent::cli
