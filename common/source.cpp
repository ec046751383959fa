#include "common/source.hpp"

#include <algorithm>
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

SourceLoc location_of(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  int column = 1;
  for (size_t i = line_start; i < offset; ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  return {line, column};
}

namespace {

// A line worth echoing: valid UTF-8 (no overlong forms, surrogates or code points
// above U+10FFFF, as check_encoding requires) without control characters.
bool printable(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t') return false;
      if (c == 0x7F) return false;
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < lo || second > hi) return false;
    for (size_t k = 2; k < len; ++k)
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
  out << ": error: " << cap_text(d.message, kMaxMessageLine) << "\n";
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
  for (size_t i = 0; i < items_.size() && i < kMaxDiagnostics; ++i) all += format_diagnostic(*file_, items_[i]);
  if (items_.size() > kMaxDiagnostics) {
    size_t more = items_.size() - kMaxDiagnostics;
    all += "... and " + std::to_string(more) + " more error" + (more == 1 ? "" : "s") + "\n";
  }
  throw UserError(all);
}

std::string cap_text(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  return text.substr(0, cut) + "...";
}

std::string cap_message(const std::string& message) {
  if (message.size() <= kMaxMessageBytes) return message;
  return cap_text(message, kMaxMessageBytes) + "\n(the message was cut at " + std::to_string(kMaxMessageBytes / 1024) +
         " KiB)\n";
}

}  // namespace latent
