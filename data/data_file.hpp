// Reading a data file (or an init file) in either of CmdStan's formats: JSON or
// R dump. The format is chosen by the file's extension (`.json`; `.R` or `.r`,
// which covers `.data.R`) and otherwise by its content: an R dump when it
// starts with a `#` comment or with a name followed by `<-` or `=`, JSON
// otherwise (so that a broken JSON file still gets JSON's messages).
#pragma once

#include <string>

#include "data/json_data.hpp"

namespace latent {

enum class DataFormat { Json, RDump };

// The format of a file named `path` whose text starts with `head`.
DataFormat data_format_of(const std::string& path, const std::string& head);

// Reads and parses a data file in its format. `kind` names it in messages
// ("data file", "init file"). Throws UserError as the readers do.
DataSet read_data_file(const std::string& path, const std::string& kind = "data file");

}  // namespace latent
