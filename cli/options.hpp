// Validators for the options of the `latent` subcommands. CLI11 checks each
// option's text with them before converting it, and reports a failure as
// "--name: <message>", so every message names the option and says what it takes
// ("--iter: must be an integer from 1 to 2147483647, got '0'") instead of
// CLI11's own wording (conversion errors, 300-digit ranges).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace latent::cli {

// Threads a command may use (--threads): more gives no speed on any machine that
// latent targets, and thousands of threads exhaust memory (each has a stack).
constexpr int kMaxThreads = 256;

// An integer in [lo, hi] (decimal, optional sign; no fraction, no exponent).
CLI::Validator integer_in(int64_t lo, int64_t hi = std::numeric_limits<int64_t>::max());

// A finite real number greater than `lo` (or at least `lo` when `inclusive`) and at most `hi`.
CLI::Validator real_above(double lo, bool inclusive, double hi = std::numeric_limits<double>::max());

// One of the given words.
CLI::Validator one_of(std::vector<std::string> words);

// The message of a command-line error for the user: CLI11's errors reworded where
// they are unclear (an unknown command, unexpected arguments in reverse order).
std::string command_line_error(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv);

}  // namespace latent::cli
