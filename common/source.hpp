// Source files, locations and user-facing diagnostics.
//
// Every user error in the compiler is a Diagnostic: "file:line:col: message",
// then the source line and a caret under the column. Compile errors are
// collected in a DiagnosticList and thrown together as CompileError.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace latent {

struct SourceFile {
  std::string path;  // as given by the user, printed in messages
  std::string text;
  // 1-based line -> text of that line without the newline ("" when out of range)
  std::string line(int line_number) const;
};

struct SourceLoc {
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
};

struct Diagnostic {
  SourceLoc loc;
  std::string message;
};

// The 1-based line and column (counted in UTF-8 characters) of a byte offset in
// a text (for messages about data files).
SourceLoc location_of(const std::string& text, size_t offset);

// Renders "path:line:col: error: message\n  <source line>\n  <caret>".
std::string format_diagnostic(const SourceFile& file, const Diagnostic& d);

// Limits on what a message prints, whatever the input: the first kMaxDiagnostics
// errors of a compilation ("... and K more errors" after them), each message line cut
// at kMaxMessageLine characters, a whole message at kMaxMessageBytes.
constexpr size_t kMaxDiagnostics = 20;
constexpr size_t kMaxMessageLine = 1000;
constexpr size_t kMaxMessageBytes = 64 * 1024;

// `text` cut to `max` bytes (at a UTF-8 character boundary) with "..." after it.
std::string cap_text(const std::string& text, size_t max);
// A whole message cut to kMaxMessageBytes, ending with a note that it was cut.
std::string cap_message(const std::string& message);

// A user error with a message ready to print (one or several diagnostics).
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DiagnosticList {
 public:
  explicit DiagnosticList(std::shared_ptr<const SourceFile> file) : file_(std::move(file)) {}
  void error(SourceLoc loc, std::string message);
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  // Throws UserError with every collected diagnostic formatted, if any.
  void throw_if_any() const;

 private:
  std::shared_ptr<const SourceFile> file_;
  std::vector<Diagnostic> items_;
};

}  // namespace latent
