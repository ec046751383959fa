// The front end: source text -> checked AST.
#pragma once

#include "compiler/frontend/ast.hpp"

#include <memory>

namespace latent {

// Reads a model file; throws UserError naming the path when it cannot be read.
std::shared_ptr<const SourceFile> read_source_file(const std::string& path);

// Parses the text with the ANTLR grammar. Throws UserError listing every syntax
// error as "file:line:col: error: ..." with the source line and a caret.
std::unique_ptr<ast::Program> parse_program(std::shared_ptr<const SourceFile> source);

// Resolves names, types every expression (fills Expr::type and VarDecl::type) and
// enforces block rules. Throws UserError listing every error found.
void check_program(ast::Program& program);

}  // namespace latent
