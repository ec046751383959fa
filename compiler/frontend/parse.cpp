// read_source_file and parse_program: model text -> AST.
//
// The pipeline (see parse_detail.hpp for the pieces) stops at the first stage
// that finds an error and throws UserError with all of that stage's
// diagnostics, each "file:line:col: error: message" plus the source line and a
// caret. No AST is built from a program with syntax errors, and no exception
// other than UserError leaves parse_program.
#include "compiler/frontend/frontend.hpp"
#include "compiler/frontend/parse_detail.hpp"

#include "common/read_file.hpp"

#include "LatentLexer.h"
#include "LatentParser.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace latent {

std::shared_ptr<const SourceFile> read_source_file(const std::string& path) {
  auto file = std::make_shared<SourceFile>();
  file->path = path;
  file->text = read_file_limited(path, "model file", kMaxModelFileBytes);
  return file;
}

namespace {

using namespace parse_detail;
using latent_grammar::LatentLexer;
using latent_grammar::LatentParser;

std::unique_ptr<ast::Program> run_pipeline(std::shared_ptr<const SourceFile> source, DiagnosticList& diags) {
  check_encoding(*source, diags);
  diags.throw_if_any();

  // Lex everything first (stopping early if the nesting guard trips), so that
  // lexical errors are reported as such rather than as confusing syntax errors.
  antlr4::ANTLRInputStream input(source->text);
  LatentLexer lexer(&input);
  CollectingErrorListener lexer_errors(diags);
  lexer.removeErrorListeners();
  lexer.addErrorListener(&lexer_errors);
  std::vector<std::unique_ptr<antlr4::Token>> lexed;
  std::vector<antlr4::Token*> view;
  NestingGuard guard;
  std::optional<Diagnostic> too_deep;
  for (;;) {
    lexed.push_back(lexer.nextToken());
    view.push_back(lexed.back().get());
    if (view.back()->getType() == antlr4::Token::EOF) break;
    if ((too_deep = guard.feed(view.back()))) break;
  }
  diags.throw_if_any();
  check_lexical_errors(view, diags);
  diags.throw_if_any();
  if (too_deep) {
    diags.error(too_deep->loc, too_deep->message);
    diags.throw_if_any();
  }

  antlr4::ListTokenSource token_source(std::move(lexed));
  antlr4::CommonTokenStream tokens(&token_source);
  LatentParser parser(&tokens);
  CollectingErrorListener parser_errors(diags);
  parser.removeErrorListeners();
  parser.addErrorListener(&parser_errors);
  parser.setErrorHandler(std::make_shared<SyntaxErrorStrategy>(diags));
  LatentParser::ProgramContext* tree = nullptr;
  try {
    tree = parser.program();
  } catch (const TooManySyntaxErrors&) {
  }
  if (diags.empty() && (tree == nullptr || parser.getNumberOfSyntaxErrors() > 0))
    diags.error({}, "syntax error");  // defensive: ANTLR counted an error nobody reported
  diags.throw_if_any();

  auto program = build_program(tree, source, diags);
  diags.throw_if_any();
  return program;
}

}  // namespace

std::unique_ptr<ast::Program> parse_program(std::shared_ptr<const SourceFile> source) {
  // ANTLR 4.9's C++ runtime shares its prediction cache (DFA) between all
  // parser instances without complete locking, so one parse runs at a time.
  // A parse takes a few milliseconds; compilations can still overlap in the
  // later stages.
  static std::mutex antlr_mutex;
  std::lock_guard<std::mutex> lock(antlr_mutex);
  DiagnosticList diags(source);
  try {
    return run_pipeline(source, diags);
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    throw UserError(source->path + ": error: internal parser failure: " + e.what());
  } catch (...) {
    throw UserError(source->path + ": error: internal parser failure");
  }
}

}  // namespace latent
