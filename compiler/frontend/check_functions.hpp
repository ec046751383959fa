// User-defined functions in the checker: the table of signatures of the
// functions block, Stan's overload resolution, the rules that a function's
// name suffix imposes, the "returns on every path" rule and the call graph
// (which functions recurse).
//
// The checker (check.cpp) checks the bodies with its ordinary statement and
// expression rules, in the context of the function being checked; this file
// holds what is specific to functions and needs no such context.
#pragma once

#include "common/source.hpp"
#include "compiler/frontend/ast.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace latent::functions {

// What a name's suffix makes of a function: where it may be called, what it may do.
enum class Suffix { None, Lpdf, Lpmf, Lupdf, Lupmf, Cdf, Lcdf, Lccdf, Lp, Rng };
Suffix suffix_of(const std::string& name);

// "real f(data real, vector)": a signature as messages show it.
std::string signature_text(const ast::FunctionDef& f);

// Stan's rule for a non-void function: the end of the body cannot be reached
// (every path ends in return or reject). Loops do not count: their body may not run.
bool returns_on_every_path(const ast::Stmt& s);

class FunctionTable {
 public:
  // Reads the functions block: every definition and forward declaration, in
  // source order. Reports bad names and suffix rules, two definitions with the
  // same argument types, a definition that does not match its declaration, and
  // a declaration that is never defined.
  void collect(std::vector<ast::FunctionDef>& defs, DiagnosticList& diags);

  bool has(const std::string& name) const { return by_name_.count(name) != 0; }

  // The overload of `name` for arguments of these types (Stan's rule: the
  // signatures that accept them, int promoting to real, with the fewest
  // promotions; a tie is ambiguous). Null with *why set when there is none.
  const ast::FunctionDef* resolve(const std::string& name, const std::vector<Type>& args, std::string* why) const {
    return resolve(std::vector<std::string>{name}, args, why);
  }
  // The same over the overloads of several names (`y ~ foo(...)`: foo_lpdf and foo_lpmf).
  const ast::FunctionDef* resolve(const std::vector<std::string>& names, const std::vector<Type>& args,
                                  std::string* why) const;

  // Calls seen in function bodies; then marks FunctionDef::reaches_recursion.
  void add_call(const ast::FunctionDef* caller, const ast::FunctionDef* callee) { calls_[caller].insert(callee); }
  void mark_recursion();

 private:
  // Overloads of one name: the definition of each signature (or its
  // declaration while no definition has been seen).
  std::map<std::string, std::vector<ast::FunctionDef*>> by_name_;
  std::map<const ast::FunctionDef*, std::set<const ast::FunctionDef*>> calls_;
};

}  // namespace latent::functions
