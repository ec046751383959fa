// Static typing of calls into the standard library, used by the checker.
//
// The library itself (stdlib/functions.cpp, stdlib/distributions.cpp) holds one
// entry per function: its type rule, its lowering to IR and its argument checks.
// This header is the part the type checker needs.
#pragma once

#include "compiler/frontend/types.hpp"

#include <string>
#include <vector>

namespace latent::stdlib {

// Type of `name(args...)`. Handles plain functions and the density forms
// `dist_lpdf`, `dist_lupdf`, `dist_lpmf`, `dist_lupmf` (args[0] is the variate).
// On failure returns Type::error() and sets *why to a one-line explanation
// (unknown function, or the signatures that exist).
Type call_type(const std::string& name, const std::vector<Type>& args, std::string* why);

// Checks `variate ~ dist(args...)`. Returns false and sets *why on failure.
bool tilde_ok(const std::string& dist, const Type& variate, const std::vector<Type>& args,
              std::string* why);

// True when `name` names any library function or distribution form.
bool is_known(const std::string& name);

}  // namespace latent::stdlib
