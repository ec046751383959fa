// CmdStan's --init: a radius or a file. See init_option.hpp.
#include "cli/init_option.hpp"

#include "common/source.hpp"
#include "data/data_file.hpp"

#include <cmath>
#include <cstdlib>

namespace latent::cli {

InitOption read_init_option(const std::string& given) {
  InitOption init;
  if (given.empty()) return init;
  init.text = given;
  // As CmdStan: whatever reads whole as a number is a radius, not a file name.
  char* end = nullptr;
  const double radius = std::strtod(given.c_str(), &end);
  if (end != given.c_str() && *end == '\0') {
    if (!std::isfinite(radius) || radius < 0)
      throw UserError("--init: a radius must be a finite number, 0 or more (initial values uniform(-R, R) on the "
                      "unconstrained scale), got '" + given + "'");
    init.radius = radius;
    return init;
  }
  init.values = std::make_shared<DataSet>(read_data_file(given, "init file"));
  return init;
}

}  // namespace latent::cli
