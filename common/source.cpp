#include "common/source.hpp"

#include <sstream>

namespace latent {

std::string SourceFile::line(int line_number) const {
  if (line_number < 1) return "";
  size_t start = 0;
  for (int i = 1; i < line_number; ++i) {
    start = text.find('\n', start);
    if (start == std::string::npos) return "";
    ++start;
  }
  size_t end = text.find('\n', start);
  std::string s = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

namespace {

// A line worth echoing: valid UTF-8 without control characters (not binary junk).
bool printable(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t') return false;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += len;
  }
  return true;
}

}  // namespace

std::string format_diagnostic(const SourceFile& file, const Diagnostic& d) {
  std::ostringstream out;
  out << file.path;
  if (d.loc.line > 0) out << ":" << d.loc.line << ":" << d.loc.column;
  out << ": error: " << d.message << "\n";
  std::string src = file.line(d.loc.line);
  if (d.loc.line > 0 && !src.empty() && printable(src)) {
    // Replace tabs so the caret lines up; cap very long lines.
    for (char& c : src)
      if (c == '\t') c = ' ';
    if (src.size() > 200) src = src.substr(0, 200) + "...";
    out << "  " << src << "\n";
    int col = d.loc.column < 1 ? 1 : d.loc.column;
    if (col <= static_cast<int>(src.size()) + 1) out << "  " << std::string(col - 1, ' ') << "^\n";
  }
  return out.str();
}

void DiagnosticList::error(SourceLoc loc, std::string message) {
  items_.push_back({loc, std::move(message)});
}

void DiagnosticList::throw_if_any() const {
  if (items_.empty()) return;
  std::string all;
  for (const auto& d : items_) all += format_diagnostic(*file_, d);
  throw UserError(all);
}

}  // namespace latent
