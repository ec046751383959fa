#include "compiler/frontend/typing.hpp"

namespace latent::typing {
namespace {

bool scalar(const Type& t) { return t.is_scalar(); }
bool lin(const Type& t) { return t.is_linear_algebra(); }
bool is(const Type& t, Base b) { return t.base == b && t.array_dims == 0; }

// int op int -> int, otherwise real
Type arith(const Type& a, const Type& b) {
  return (a.is_int() && b.is_int()) ? Type::int_() : Type::real();
}

Type fail(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return Type::error();
}

}  // namespace

Type common_type(const Type& a, const Type& b) {
  if (a.is_error()) return b;
  if (b.is_error()) return a;
  if (a == b) return a;
  if (a.array_dims != b.array_dims) return Type::error();
  bool num_a = a.base == Base::Int || a.base == Base::Real;
  bool num_b = b.base == Base::Int || b.base == Base::Real;
  if (num_a && num_b) return Type::real(a.array_dims);
  return Type::error();
}

Type binary(const std::string& op, const Type& a, const Type& b, std::string* why) {
  if (a.is_error() || b.is_error()) return Type::error();
  const std::string A = a.str(), B = b.str();

  if (op == "+" || op == "-") {
    if (scalar(a) && scalar(b)) return arith(a, b);
    if (scalar(a) && lin(b)) return b;
    if (lin(a) && scalar(b)) return a;
    if (lin(a) && lin(b) && a.base == b.base) return a;
    return fail(why, op == "+" ? "cannot add " + A + " and " + B
                               : "cannot subtract " + B + " from " + A);
  }
  if (op == "*") {
    if (scalar(a) && scalar(b)) return arith(a, b);
    if (scalar(a) && lin(b)) return b;
    if (lin(a) && scalar(b)) return a;
    if (is(a, Base::RowVector) && is(b, Base::Vector)) return Type::real();
    if (is(a, Base::Vector) && is(b, Base::RowVector)) return Type::matrix();
    if (is(a, Base::Matrix) && is(b, Base::Vector)) return Type::vector();
    if (is(a, Base::RowVector) && is(b, Base::Matrix)) return Type::row_vector();
    if (is(a, Base::Matrix) && is(b, Base::Matrix)) return Type::matrix();
    std::string msg = "cannot multiply " + A + " by " + B;
    if (lin(a) && a == b) msg += " (use .* for elementwise multiplication)";
    return fail(why, msg);
  }
  if (op == "/") {
    if (scalar(a) && scalar(b)) return arith(a, b);
    if (lin(a) && scalar(b)) return a;
    if (is(a, Base::RowVector) && is(b, Base::Matrix)) return Type::row_vector();
    if (is(a, Base::Matrix) && is(b, Base::Matrix)) return Type::matrix();
    std::string msg = "cannot divide " + A + " by " + B;
    if (lin(a) && a == b) msg += " (use ./ for elementwise division)";
    return fail(why, msg);
  }
  if (op == "\\") {
    if (is(a, Base::Matrix) && is(b, Base::Vector)) return Type::vector();
    if (is(a, Base::Matrix) && is(b, Base::Matrix)) return Type::matrix();
    return fail(why, "cannot left-divide " + A + " by " + B + " (\\ needs a matrix on the left)");
  }
  if (op == "%") {
    if (a.is_int() && b.is_int()) return Type::int_();
    return fail(why, "operator % needs int operands, found " + A + " and " + B);
  }
  if (op == "%/%") {
    if (a.is_int() && b.is_int()) return Type::int_();
    return fail(why, "operator %/% needs int operands, found " + A + " and " + B);
  }
  if (op == ".^") {
    if (scalar(a) && scalar(b)) return Type::real();
    if (scalar(a) && lin(b)) return b;
    if (lin(a) && scalar(b)) return a;
    if (lin(a) && a == b) return a;
    return fail(why, "cannot raise " + A + " to the power " + B + " elementwise");
  }
  if (op == "^") {
    if (scalar(a) && scalar(b)) return Type::real();
    return fail(why, "operator ^ needs scalar operands, found " + A + " and " + B);
  }
  if (op == ".*" || op == "./") {
    if (scalar(a) && scalar(b)) return arith(a, b);
    if (scalar(a) && lin(b)) return b;
    if (lin(a) && scalar(b)) return a;
    if (lin(a) && a == b) return a;
    return fail(why, op == ".*" ? "cannot multiply " + A + " and " + B + " elementwise"
                                : "cannot divide " + A + " by " + B + " elementwise");
  }
  if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=" ||
      op == "&&" || op == "||") {
    if (scalar(a) && scalar(b)) return Type::int_();
    return fail(why, "operator " + op + " needs scalar operands, found " + A + " and " + B);
  }
  return fail(why, "unknown operator '" + op + "'");
}

Type unary(const std::string& op, const Type& a, std::string* why) {
  if (a.is_error()) return Type::error();
  if (op == "-" || op == "+") {
    if (scalar(a) || lin(a)) return a;
    return fail(why, (op == "-" ? "cannot negate " : "unary + cannot be applied to ") + a.str());
  }
  if (op == "!") {
    if (scalar(a)) return Type::int_();
    return fail(why, "operator ! needs an int or real operand, found " + a.str());
  }
  return fail(why, "unknown operator '" + op + "'");
}

Type transpose(const Type& a, std::string* why) {
  if (a.is_error()) return Type::error();
  if (is(a, Base::Vector)) return Type::row_vector();
  if (is(a, Base::RowVector)) return Type::vector();
  if (is(a, Base::Matrix)) return Type::matrix();
  return fail(why, "cannot transpose " + a.str() + " (only vector, row_vector and matrix)");
}

Type ternary(const Type& a, const Type& b, std::string* why) {
  if (a.is_error() || b.is_error()) return Type::error();
  Type t = common_type(a, b);
  if (t.is_error() || t.base == Base::Void || t.base == Base::String)
    return fail(why, "the branches of ?: have incompatible types " + a.str() + " and " + b.str());
  return t;
}

int max_indexes(const Type& t) {
  int n = t.array_dims;
  if (t.base == Base::Vector || t.base == Base::RowVector) n += 1;
  if (t.base == Base::Matrix) n += 2;
  return n;
}

Type index(const Type& x, const std::vector<IndexKind>& idx, const std::string& what,
           std::string* why) {
  if (x.is_error()) return Type::error();
  int most = max_indexes(x);
  if (most == 0) return fail(why, "cannot index " + what + " of type " + x.str());
  if (static_cast<int>(idx.size()) > most)
    return fail(why, "wrong number of indexes for " + what + " of type " + x.str() + ": " +
                         std::to_string(idx.size()) + " given, at most " + std::to_string(most));
  size_t i = 0;
  int kept = 0;  // array dimensions kept by multi-indexes
  for (; i < idx.size() && static_cast<int>(i) < x.array_dims; ++i)
    if (idx[i] == IndexKind::Multi) ++kept;
  if (i == idx.size()) return {x.base, kept + x.array_dims - static_cast<int>(i)};
  // The remaining one or two indexes apply to the vector / row_vector / matrix.
  Base res = x.base;
  bool single0 = idx[i] == IndexKind::Single;
  if (x.base == Base::Vector || x.base == Base::RowVector) {
    res = single0 ? Base::Real : x.base;
  } else {  // matrix
    if (i + 1 == idx.size()) {
      res = single0 ? Base::RowVector : Base::Matrix;
    } else {
      bool single1 = idx[i + 1] == IndexKind::Single;
      if (single0)
        res = single1 ? Base::Real : Base::RowVector;
      else
        res = single1 ? Base::Vector : Base::Matrix;
    }
  }
  return {res, kept};
}

Type array_literal(const std::vector<Type>& elems, std::string* why) {
  if (elems.empty()) return fail(why, "empty array expressions {} are not allowed");
  for (const auto& e : elems)
    if (e.is_error()) return Type::error();
  Type t = elems[0];
  for (size_t i = 1; i < elems.size(); ++i) {
    Type c = common_type(t, elems[i]);
    if (c.is_error())
      return fail(why, "array expression elements must have the same type, found " + t.str() +
                           " and " + elems[i].str());
    t = c;
  }
  if (t.base == Base::Void || t.base == Base::String)
    return fail(why, "array expression elements cannot be of type " + t.str());
  return {t.base, t.array_dims + 1};
}

Type row_vector_literal(const std::vector<Type>& elems, std::string* why) {
  for (const auto& e : elems)
    if (e.is_error()) return Type::error();
  if (elems.empty()) return Type::row_vector();
  bool all_scalar = true, all_rows = true;
  for (const auto& e : elems) {
    all_scalar = all_scalar && scalar(e);
    all_rows = all_rows && is(e, Base::RowVector);
  }
  if (all_scalar) return Type::row_vector();
  if (all_rows) return Type::matrix();
  std::vector<std::string> kinds;
  for (const auto& e : elems) {
    bool seen = false;
    for (const auto& k : kinds) seen = seen || k == e.str();
    if (!seen) kinds.push_back(e.str());
  }
  std::string found;
  for (size_t i = 0; i < kinds.size(); ++i) found += (i ? " and " : "") + kinds[i];
  return fail(why,
              "row vector expression [...] needs all scalars (a row_vector) or all row_vectors "
              "(a matrix), found " + found);
}

Type foreach_element(const Type& c, std::string* why) {
  if (c.is_error()) return Type::error();
  if (c.array_dims > 0) return {c.base, c.array_dims - 1};
  if (lin(c)) return Type::real();
  return fail(why, "cannot loop over " + c.str() +
                       " (foreach needs an array, vector, row_vector or matrix)");
}

}  // namespace latent::typing
