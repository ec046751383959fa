// Shared by the libFuzzer targets (fuzz/README.md): what counts as a finding.
//
// Every input must end in a result or a UserError (a message for the user). Any
// other exception — std::logic_error from an invariant, std::bad_alloc from a size
// nobody checked, a library's exception — is a finding: it is reported and the
// target aborts, so libFuzzer saves the input. Crashes, hangs, sanitizer reports
// and leaks are findings by themselves.
#pragma once

#include "common/source.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace latent::fuzz {

template <class F>
void expect_user_errors_only(F&& body) {
  try {
    body();
  } catch (const UserError& e) {
    // The message must stay bounded, whatever the input.
    if (std::string(e.what()).size() > 2 * kMaxMessageBytes) {
      std::fprintf(stderr, "fuzz: a user error of %zu bytes\n", std::string(e.what()).size());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: not a user error: %s\n", e.what());
    std::abort();
  }
}

}  // namespace latent::fuzz
