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

// Renders "path:line:col: error: message\n  <source line>\n  <caret>".
std::string format_diagnostic(const SourceFile& file, const Diagnostic& d);

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
