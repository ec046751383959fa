// Stan's typing rules for operators, indexing and literals.
//
// Pure functions over Type, used by the checker (check.cpp) and available to any
// later pass that needs to re-derive a type. Each returns Type::error() when the
// operation is not defined; then *why holds a one-line message, or stays empty
// when an operand already had the error type (the error was reported before,
// so callers must not report a follow-on error).
#pragma once

#include "compiler/frontend/types.hpp"

#include <string>
#include <vector>

namespace latent::typing {

// The common type two values promote to (int -> real, array[] int -> array[] real),
// or Type::error() when there is none. An error operand yields the other operand.
Type common_type(const Type& a, const Type& b);

// a op b for op in + - * / % %/% \ ^ .^ .* ./ == != < <= > >= && ||
Type binary(const std::string& op, const Type& a, const Type& b, std::string* why);

// op a for op in - + !
Type unary(const std::string& op, const Type& a, std::string* why);

// a'
Type transpose(const Type& a, std::string* why);

// The type of c ? a : b from its branches (the condition is checked separately).
Type ternary(const Type& a, const Type& b, std::string* why);

// What one index inside brackets does to the dimension it applies to.
enum class IndexKind { Single, Multi };  // Multi: range, ':' or an array of ints

// The type of x[i1, ..., in] given x's type. `what` names x in messages
// ("'x'", or "expression").
Type index(const Type& x, const std::vector<IndexKind>& idx, const std::string& what,
           std::string* why);

// Number of indexes a value of type t accepts at most (array dims + 1 or 2).
int max_indexes(const Type& t);

// {a, b, ...}
Type array_literal(const std::vector<Type>& elems, std::string* why);

// [a, b, ...]
Type row_vector_literal(const std::vector<Type>& elems, std::string* why);

// The element type of `for (x in container)`.
Type foreach_element(const Type& container, std::string* why);

}  // namespace latent::typing
