// Internals of the parser, shared by the files that implement parse_program:
//
//   parse.cpp          read_source_file, parse_program: the pipeline below
//   syntax_errors.cpp  encoding check, lexical error tokens, ANTLR error strategy
//                      that turns ANTLR's recovery events into readable messages
//   nesting_guard.cpp  refuses inputs nested deeply enough to exhaust the stack
//   ast_builder.cpp    parse tree -> ast::Program, plus the rules the grammar
//                      accepts loosely (block names and order, type sizes, ...)
//
// parse_program runs: check_encoding -> lex all tokens (feeding NestingGuard)
// -> check_lexical_errors -> the guard's verdict -> ANTLR parse with SyntaxErrorStrategy -> build_program,
// stopping (throwing UserError with every diagnostic) after the first stage that
// reports an error. Nothing here is part of the front end's public interface.
#pragma once

#include "compiler/frontend/ast.hpp"
#include "common/source.hpp"

#include "LatentParser.h"
#include "antlr4-runtime.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace latent::parse_detail {

using latent_grammar::LatentParser;

// ---- locations (ANTLR columns are 0-based code points; ours are 1-based) ----

SourceLoc loc_of(const antlr4::Token* token);
// The column just after the token's last character (for "expected ';'").
SourceLoc loc_after(const antlr4::Token* token);

// ---- syntax_errors.cpp ----

// Reports NUL bytes and invalid UTF-8 (a binary file, a wrong encoding).
void check_encoding(const SourceFile& file, DiagnosticList& diags);

// Reports the lexer's error tokens (stray characters, unterminated comments and
// strings, #include). `tokens` is the complete token stream, EOF included.
void check_lexical_errors(const std::vector<antlr4::Token*>& tokens, DiagnosticList& diags);

// Thrown by the error strategy to stop parsing after too many syntax errors.
struct TooManySyntaxErrors {};

// Replaces ANTLR's messages ("mismatched input 'x' expecting {...}") by short
// ones ("unexpected 'x', expected ';'") recorded in `diags`.
class SyntaxErrorStrategy : public antlr4::DefaultErrorStrategy {
 public:
  explicit SyntaxErrorStrategy(DiagnosticList& diags) : diags_(diags) {}

 protected:
  void reportNoViableAlternative(antlr4::Parser* parser, const antlr4::NoViableAltException& e) override;
  void reportInputMismatch(antlr4::Parser* parser, const antlr4::InputMismatchException& e) override;
  void reportFailedPredicate(antlr4::Parser* parser, const antlr4::FailedPredicateException& e) override;
  void reportUnwantedToken(antlr4::Parser* parser) override;
  void reportMissingToken(antlr4::Parser* parser) override;

 private:
  void unexpected(antlr4::Parser* parser, antlr4::Token* token, const antlr4::misc::IntervalSet* expected);
  bool missing_semicolon(antlr4::Parser* parser, antlr4::Token* token, const std::string& wanted);
  void add(SourceLoc loc, std::string message);
  DiagnosticList& diags_;
  int count_ = 0;
  int last_line_ = 0;
};

// Catches whatever ANTLR reports outside the strategy (lexer, parser) so that
// nothing is printed to the console; messages are kept as ANTLR wrote them.
class CollectingErrorListener : public antlr4::BaseErrorListener {
 public:
  explicit CollectingErrorListener(DiagnosticList& diags) : diags_(diags) {}
  void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t line,
                   size_t column, const std::string& message, std::exception_ptr e) override;

 private:
  DiagnosticList& diags_;
};

// ---- nesting_guard.cpp ----

constexpr int kMaxBracketDepth = 200;      // ( [ { nested inside each other
constexpr int kMaxNestingEstimate = 2000;  // brackets + operator / statement chains

// Refuses input whose parse would recurse too deeply (see nesting_guard.cpp).
// Fed every token in order; returns the error once a limit is crossed.
class NestingGuard {
 public:
  std::optional<Diagnostic> feed(const antlr4::Token* token);

 private:
  struct Level {
    long chain = 0;      // operator / statement chain length at this bracket level
    bool block = false;  // opened by a statement block's '{'
  };
  void add_to_chain();
  void restart_chain();
  std::vector<Level> levels_ = std::vector<Level>(1);  // the top level, then one per open bracket
  long chains_ = 0;                                    // sum of the chains of all open levels
  size_t previous_ = antlr4::Token::INVALID_TYPE;      // type of the previous token
  bool pending_restart_ = false;                       // a statement ended unless 'else' follows
};

// ---- ast_builder.cpp ----

// Builds the AST from a parse tree without syntax errors. Problems the grammar
// lets through (unknown block names, block order, bad type sizes, literals out
// of range, ...) are reported in `diags`; the result is only valid if none were.
std::unique_ptr<ast::Program> build_program(LatentParser::ProgramContext* tree,
                                            std::shared_ptr<const SourceFile> source,
                                            DiagnosticList& diags);

}  // namespace latent::parse_detail
