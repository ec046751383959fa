#include "cli/options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace latent::cli {

namespace {

// The option's text as shown in a message: quoted, and cut when it is long.
std::string shown(const std::string& text) {
  return "'" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'";
}

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

CLI::Validator integer_in(int64_t lo, int64_t hi) {
  std::string what;
  if (hi == std::numeric_limits<int64_t>::max())
    what = lo == 1 ? "a positive integer" : lo == 0 ? "a non-negative integer" : "an integer of at least " + std::to_string(lo);
  else
    what = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  auto check = [lo, hi, what](std::string& text) -> std::string {
    const char* s = text.c_str();
    size_t i = (text[0] == '+' || text[0] == '-') ? 1 : 0;
    bool digits = i < text.size();
    for (size_t k = i; k < text.size(); ++k) digits = digits && text[k] >= '0' && text[k] <= '9';
    if (!digits) return "must be " + what + ", got " + shown(text);
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(s, &end, 10);
    if (errno == ERANGE || v < lo || v > hi) return "must be " + what + ", got " + shown(text);
    return "";
  };
  return CLI::Validator(check, "INT", "integer_in");
}

CLI::Validator real_above(double lo, bool inclusive, double hi) {
  std::string what = lo == 0 && !inclusive ? "a positive number"
                     : lo == 0             ? "a non-negative number"
                                           : std::string("a number ") + (inclusive ? "of at least " : "greater than ") +
                                                 number_text(lo);
  if (hi < std::numeric_limits<double>::max()) what += " and at most " + number_text(hi);
  auto check = [lo, inclusive, hi, what](std::string& text) -> std::string {
    char* end = nullptr;
    errno = 0;
    double v = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    bool whole = !text.empty() && end == text.c_str() + text.size();
    if (!whole || !std::isfinite(v) || errno == ERANGE || (inclusive ? v < lo : v <= lo) || v > hi)
      return "must be " + what + ", got " + shown(text);
    return "";
  };
  return CLI::Validator(check, "REAL", "real_above");
}

CLI::Validator one_of(std::vector<std::string> words) {
  auto check = [words](std::string& text) -> std::string {
    for (const std::string& w : words)
      if (w == text) return "";
    std::string list;
    for (size_t i = 0; i < words.size(); ++i) list += (i ? (i + 1 == words.size() ? " or " : ", ") : "") + words[i];
    return shown(text) + " is not one of " + list;
  };
  std::string desc;
  for (const std::string& w : words) desc += (desc.empty() ? "" : "|") + w;
  return CLI::Validator(check, desc, "one_of");
}

std::string command_line_error(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  std::string commands;
  for (const CLI::App* sub : app.get_subcommands({})) commands += (commands.empty() ? "" : ", ") + sub->get_name();
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr && app.get_subcommands().empty()) {
    // No subcommand was recognised: say what was given instead of "A subcommand is required".
    if (argc < 2) return "latent: no command given; the commands are " + commands;
    std::string first = argv[1];
    if (!first.empty() && first[0] == '-')
      return "latent: the command comes first (latent COMMAND MODEL [options]), got the option '" + first +
             "'; the commands are " + commands;
    return "latent: '" + (first.size() > 40 ? first.substr(0, 40) + "..." : first) +
           "' is not a command; the commands are " + commands;
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    // CLI11 lists the extra arguments in reverse order; list them as given.
    std::vector<std::string> extras;
    const std::vector<CLI::App*> parsed = app.get_subcommands();
    if (!parsed.empty()) extras = parsed[0]->remaining();
    if (extras.empty()) extras = app.remaining();
    std::string list;
    for (const std::string& a : extras) list += (list.empty() ? "" : " ") + a;
    std::string cmd = parsed.empty() ? "latent" : "latent " + parsed[0]->get_name();
    return cmd + ": unexpected argument" + (extras.size() == 1 ? "" : "s") + ": " + list +
           " (see latent " + (parsed.empty() ? "" : parsed[0]->get_name() + " ") + "--help)";
  }
  return std::string(e.what()) + "\nRun with --help for more information.";
}

}  // namespace latent::cli
