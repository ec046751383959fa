// The checked AST as text (`latent ir --stage ast`): the program in Stan syntax,
// every compound expression parenthesised as the parser grouped it and followed
// by the type the checker gave it, `(a + b : vector)`.
#pragma once

#include "compiler/frontend/ast.hpp"

#include <string>

namespace latent::ast {

std::string print_program(const Program& program);

}  // namespace latent::ast
