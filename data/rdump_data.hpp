// CmdStan's R dump data files (`.data.R`, `.R`): one assignment per variable, as
// rstan::stan_rdump() and R's dump() write them:
//
//   N <- 3
//   y <- c(1.5, 2, -Inf)
//   K <- 2L                                        # integers may carry R's L suffix
//   X <- structure(c(1, 2, 3, 4, 5, 6), .Dim = c(2, 3))   # column-major, as R stores arrays
//   idx <- 1:10
//   z <- integer(0)                                # an empty vector
//
// Accepted: `<-` or `=`; names plain, "quoted", 'quoted' or `backquoted`;
// statements separated by new lines or `;`; `#` comments; numbers with an
// optional sign, exponent, hexadecimal `0x..`, `L` suffix; `Inf`, `-Inf`, `NaN`;
// `TRUE`/`FALSE` (1 and 0, as R's as.integer); `c(...)` (nested `c` and `a:b`
// inside are flattened, as R does); `a:b` ranges of integers; `integer(n)`,
// `double(n)`, `numeric(n)` (n zeros); `structure(values, .Dim = dims)` (or
// `dim = dims`, R 4's dput) with the values in R's column-major order. The
// result is the DataSet the equivalent CmdStan JSON gives: dims outermost first,
// values row-major (so `X` above is [[1, 3, 5], [2, 4, 6]]).
//
// Refused with a message naming file:line:column and the field: `NA` (Stan data
// has no missing values; rstan and CmdStan refuse it too), `list(...)`, strings,
// other attributes (dimnames, names), function calls, dims that do not match
// the number of values, a name given twice, numbers out of range. R has no
// scalars: a single value without `.Dim` also fits a declared container of
// one element, and `c(x)` a declared scalar (stan_rdump writes a vector of
// length one as `y <- 3`); DataValue::r_vector marks such values.
//
// Limits as for JSON (README.md, "Limits"): the file size, at most 32
// dimensions, and at most 2^29 values in one file (the most a 1 GiB JSON file
// can hold), which bounds what `a:b` and `integer(n)` may expand to.
#pragma once

#include <string>

#include "data/json_data.hpp"

namespace latent {

// Parses R dump text; source_name names it in messages.
DataSet rdump_data_from_string(const std::string& text, const std::string& source_name);

// Reads and parses a file (kind names it in messages: "data file", "init file").
DataSet rdump_data_from_file(const std::string& path, const std::string& kind = "data file");

}  // namespace latent
