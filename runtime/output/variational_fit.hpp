// The variational parameters that `latent fit --method advi|fullrank -o fit.json`
// writes and `latent eval` reads back: "method": "advi", "family", "mu" and
// "omega" (mean-field) or "L" (full-rank).
#pragma once

#include "compiler/transforms/variational.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

// phi (mu, then omega or L) of a model with n unconstrained parameters, from the
// fit file's text (`path` names it in messages). Throws UserError naming the file
// and the member at fault.
std::vector<double> parse_variational_fit(const std::string& text, const std::string& path, int64_t n,
                                          Family* family);

// The same from the file (read with the data-file size limit).
std::vector<double> read_variational_fit(const std::string& path, int64_t n, Family* family);

}  // namespace latent
