// Helpers for writing library entries (stdlib/functions.cpp, containers.cpp):
// type rules from lists of signatures, and size arguments known from data.
#pragma once

#include "stdlib/library.hpp"

#include <string>
#include <vector>

namespace latent::stdlib {

struct Sig {
  std::vector<Type> args;
  Type result;
};

inline std::string list_types(const std::vector<Type>& ts) {
  std::string s;
  for (size_t i = 0; i < ts.size(); ++i) s += (i ? ", " : "") + ts[i].str();
  return s;
}

// A function with a fixed list of signatures (int arguments promote to real).
inline TypeRule signatures(std::string name, std::vector<Sig> sigs) {
  return [name, sigs](const std::vector<Type>& args, std::string* why) -> Type {
    for (const Sig& s : sigs) {
      if (s.args.size() != args.size()) continue;
      bool ok = true;
      for (size_t i = 0; i < args.size() && ok; ++i) ok = args[i].is_error() || assignable(s.args[i], args[i]);
      if (ok) return s.result;
    }
    std::string expected;
    for (const Sig& s : sigs) expected += "\n    " + s.result.str() + " " + name + "(" + list_types(s.args) + ")";
    *why = "no matching signature for " + name + "(" + list_types(args) + "); available:" + expected;
    return Type::error();
  };
}

inline Type real_like(Type t) {
  if (t.base == Base::Int) t.base = Base::Real;
  return t;
}

// Stan's 1-based size argument, which must be known when data is read.
inline int64_t known_size(CallContext& ctx, const Value& v, const char* what) {
  if (!v.node->is_const()) ctx.error(ctx.name() + ": the " + std::string(what) + " must be known from data");
  auto n = static_cast<int64_t>(v.node->value);
  if (n < 0) ctx.error(ctx.name() + ": the " + std::string(what) + " must be non-negative, got " + std::to_string(n));
  return n;
}

}  // namespace latent::stdlib
