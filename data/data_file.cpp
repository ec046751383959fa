// Choosing between CmdStan's two data formats. See data_file.hpp.
#include "data/data_file.hpp"

#include <cctype>

#include "common/read_file.hpp"
#include "data/rdump_data.hpp"

namespace latent {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// `name <-` or `name =` (plain or quoted name), or a comment, after blanks.
bool starts_like_rdump(const std::string& text) {
  size_t p = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) p = 3;
  while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p]))) ++p;
  if (p >= text.size()) return false;
  const char c = text[p];
  if (c == '#') return true;
  if (c == '"' || c == '\'' || c == '`') {
    const size_t close = text.find(c, p + 1);
    if (close == std::string::npos) return false;
    p = close + 1;
  } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '.') {
    while (p < text.size() && (std::isalnum(static_cast<unsigned char>(text[p])) || text[p] == '.' || text[p] == '_')) ++p;
  } else {
    return false;
  }
  while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) ++p;
  return text.compare(p, 2, "<-") == 0 || (p < text.size() && text[p] == '=');
}

}  // namespace

DataFormat data_format_of(const std::string& path, const std::string& head) {
  if (ends_with(path, ".json") || ends_with(path, ".JSON")) return DataFormat::Json;
  if (ends_with(path, ".R") || ends_with(path, ".r")) return DataFormat::RDump;
  return starts_like_rdump(head) ? DataFormat::RDump : DataFormat::Json;
}

DataSet read_data_file(const std::string& path, const std::string& kind) {
  const bool r_by_name = data_format_of(path, "") == DataFormat::RDump;
  std::string text = read_file_limited(path, kind, kMaxDataFileBytes, [&](const std::string& head) {
    check_text_head(head, path, r_by_name ? "an R dump text file" : "a JSON text file");
  });
  if (data_format_of(path, text) == DataFormat::RDump) return rdump_data_from_string(text, path);
  return DataSet::from_json_string(text, path);
}

}  // namespace latent
