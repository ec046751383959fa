// latent public API: the exception type.
//
// Every function of the public API reports failures by throwing latent::Error:
// model text that does not parse or type-check, data that does not match the data
// block, a missing file, a fit that diverges, arguments of the wrong size. Its
// what() is the message the `latent` command line prints for the same problem
// (without the final newline), e.g. for a syntax error
//
//   model.lat:7:13: error: expected ';' after the statement
//     mu ~ normal(0, 5)
//               ^
//
// and for data "data.json: field 'N' is missing (declared in the data block as int N)".
#pragma once

#include <stdexcept>
#include <string>

namespace latent {

class Error : public std::runtime_error {
 public:
  enum class Kind {
    user,      // a problem with the model, the data or the arguments (the CLI's exit code 1)
    internal,  // a bug or an environment failure inside latent (the CLI's exit code 2)
  };
  explicit Error(const std::string& message, Kind kind = Kind::user)
      : std::runtime_error(message), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

}  // namespace latent
