#include "compiler/frontend/check_functions.hpp"

#include "stdlib/signatures.hpp"

#include <algorithm>

namespace latent::functions {

namespace {

using ast::FunctionDef;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string types_text(const std::vector<Type>& ts) {
  std::string s;
  for (size_t i = 0; i < ts.size(); ++i) s += (i ? ", " : "") + ts[i].str();
  return s;
}

bool same_argument_types(const FunctionDef& a, const FunctionDef& b) {
  if (a.args.size() != b.args.size()) return false;
  for (size_t i = 0; i < a.args.size(); ++i)
    if (a.args[i].type != b.args[i].type) return false;
  return true;
}

bool has_error_type(const FunctionDef& f) {
  if (f.return_type.is_error()) return true;
  for (const auto& a : f.args)
    if (a.type.is_error()) return true;
  return false;
}

}  // namespace

Suffix suffix_of(const std::string& name) {
  static const std::pair<const char*, Suffix> table[] = {
      {"_lpdf", Suffix::Lpdf}, {"_lpmf", Suffix::Lpmf},   {"_lupdf", Suffix::Lupdf}, {"_lupmf", Suffix::Lupmf},
      {"_lcdf", Suffix::Lcdf}, {"_lccdf", Suffix::Lccdf}, {"_cdf", Suffix::Cdf},     {"_lp", Suffix::Lp},
      {"_rng", Suffix::Rng}};
  for (auto [text, suffix] : table)
    if (ends_with(name, text)) return suffix;
  return Suffix::None;
}

std::string signature_text(const FunctionDef& f) {
  std::string s = f.return_type.str() + " " + f.name + "(";
  for (size_t i = 0; i < f.args.size(); ++i)
    s += (i ? ", " : "") + std::string(f.args[i].data_only ? "data " : "") + f.args[i].type.str();
  return s + ")";
}

bool returns_on_every_path(const ast::Stmt& s) {
  switch (s.kind) {
    case ast::StmtKind::Return:
    case ast::StmtKind::Reject: return true;
    case ast::StmtKind::Block:
      return std::any_of(s.stmts.begin(), s.stmts.end(), [](const ast::StmtPtr& x) { return returns_on_every_path(*x); });
    case ast::StmtKind::If: return s.else_body && returns_on_every_path(*s.body) && returns_on_every_path(*s.else_body);
    default: return false;
  }
}

void FunctionTable::collect(std::vector<FunctionDef>& defs, DiagnosticList& diags) {
  for (FunctionDef& f : defs) {
    const std::string n = quoted(f.name);
    if (f.name.size() >= 2 && f.name.compare(f.name.size() - 2, 2, "__") == 0)
      diags.error(f.loc, "identifier " + n + " is reserved: names ending in '__' are internal");
    if (stdlib::is_known(f.name)) {
      diags.error(f.loc, n + " is a function of the library; a user-defined function needs another name");
      continue;
    }
    // The suffix decides what the function is, and so what it must look like.
    const Suffix suffix = suffix_of(f.name);
    const bool density = suffix == Suffix::Lpdf || suffix == Suffix::Lpmf;
    if (suffix == Suffix::Lupdf || suffix == Suffix::Lupmf) {
      const std::string stem = f.name.substr(0, f.name.rfind('_'));
      const std::string defined = stem + (suffix == Suffix::Lupdf ? "_lpdf" : "_lpmf");
      diags.error(f.loc, "define " + quoted(defined) + " instead of " + n + ": a user-defined " +
                             (suffix == Suffix::Lupdf ? "density" : "mass function") + " is written as " + defined +
                             " and can then also be called as " + f.name);
      continue;
    }
    if (density || suffix == Suffix::Cdf || suffix == Suffix::Lcdf || suffix == Suffix::Lccdf) {
      const std::string what = f.name.substr(f.name.rfind('_'));
      if (!f.return_type.is_error() && !f.return_type.is_real())
        diags.error(f.loc, "a " + what + " function must return real, but " + n + " returns " + f.return_type.str());
      if (f.args.empty())
        diags.error(f.loc, "a " + what + " function takes its variate as the first argument, but " + n +
                               " has no arguments");
    }
    if (density && !f.args.empty() && !f.args[0].type.is_error()) {
      const bool ints = f.args[0].type.base == Base::Int;
      const std::string stem = f.name.substr(0, f.name.rfind('_'));
      if (suffix == Suffix::Lpdf && ints)
        diags.error(f.args[0].loc, "the variate of a _lpdf function is real-valued, but " + quoted(f.args[0].name) +
                                       " is " + f.args[0].type.str() + "; for an integer variate define " +
                                       quoted(stem + "_lpmf"));
      if (suffix == Suffix::Lpmf && !ints)
        diags.error(f.args[0].loc, "the variate of a _lpmf function is int or an array of int, but " +
                                       quoted(f.args[0].name) + " is " + f.args[0].type.str() +
                                       "; for a real variate define " + quoted(stem + "_lpdf"));
    }
    for (size_t i = 0; i < f.args.size(); ++i) {
      const std::string& a = f.args[i].name;
      if (a.size() >= 2 && a.compare(a.size() - 2, 2, "__") == 0)
        diags.error(f.args[i].loc, "identifier " + quoted(a) + " is reserved: names ending in '__' are internal");
      for (size_t j = 0; j < i; ++j)
        if (f.args[j].name == a) diags.error(f.args[i].loc, "argument " + quoted(a) + " is given twice in " + n);
    }
    if (has_error_type(f)) continue;  // reported by the parser

    // One entry per signature: a forward declaration, then its definition.
    std::vector<FunctionDef*>& overloads = by_name_[f.name];
    auto same = std::find_if(overloads.begin(), overloads.end(),
                             [&](const FunctionDef* g) { return same_argument_types(*g, f); });
    if (same == overloads.end()) {
      overloads.push_back(&f);
      continue;
    }
    FunctionDef& old = **same;
    const std::string line = std::to_string(old.loc.line);
    if (old.body && f.body) {
      diags.error(f.loc, "function " + quoted(signature_text(old)) + " is already defined (at line " + line + ")");
      continue;
    }
    if (old.return_type != f.return_type) {
      diags.error(f.loc, "function " + n + " with these argument types is already declared (at line " + line +
                             ") with return type " + old.return_type.str() + ", not " + f.return_type.str() +
                             " (overloads must differ in their argument types)");
      if (f.body) *same = &f;  // defined all the same: no second error about a missing definition
      continue;
    }
    bool qualifiers_match = true;
    for (size_t i = 0; i < f.args.size(); ++i) qualifiers_match &= f.args[i].data_only == old.args[i].data_only;
    if (!qualifiers_match) {
      diags.error(f.loc, "this definition of " + n + " does not match its declaration at line " + line + " (" +
                             signature_text(old) + "): the 'data' qualifiers differ");
      if (f.body) *same = &f;
      continue;
    }
    if (f.body) *same = &f;  // the definition replaces its declaration
  }
  for (auto& [name, overloads] : by_name_)
    for (const FunctionDef* f : overloads)
      if (!f->body)
        diags.error(f->loc, "function " + quoted(signature_text(*f)) + " is declared but never defined");
}

const FunctionDef* FunctionTable::resolve(const std::vector<std::string>& names, const std::vector<Type>& args,
                                          std::string* why) const {
  std::vector<const FunctionDef*> candidates;
  for (const std::string& name : names)
    if (auto it = by_name_.find(name); it != by_name_.end())
      candidates.insert(candidates.end(), it->second.begin(), it->second.end());
  const std::string& name = candidates.empty() ? names.at(0) : candidates[0]->name;
  if (candidates.empty()) {
    *why = "unknown function " + quoted(name);
    return nullptr;
  }
  // Stan's rule: among the signatures that accept the arguments (int promoting
  // to real), the one with the fewest promotions; a tie is ambiguous.
  std::vector<const FunctionDef*> best;
  int fewest = 0;
  for (const FunctionDef* f : candidates) {
    if (f->args.size() != args.size()) continue;
    int promotions = 0;
    bool ok = true;
    for (size_t i = 0; i < args.size() && ok; ++i) {
      const Type& want = f->args[i].type;
      if (args[i].is_error() || args[i] == want) continue;
      ok = assignable(want, args[i]);
      ++promotions;
    }
    if (!ok) continue;
    if (best.empty() || promotions < fewest) {
      best = {f};
      fewest = promotions;
    } else if (promotions == fewest) {
      best.push_back(f);
    }
  }
  if (best.size() == 1) return best[0];
  if (best.empty()) {
    *why = "no matching signature for " + name + "(" + types_text(args) + "); available:";
    for (const FunctionDef* f : candidates) *why += "\n    " + signature_text(*f);
  } else {
    *why = "the call " + name + "(" + types_text(args) + ") is ambiguous: these signatures match it equally well:";
    for (const FunctionDef* f : best) *why += "\n    " + signature_text(*f);
  }
  return nullptr;
}

void FunctionTable::mark_recursion() {
  // Everything reachable from f by one call or more.
  auto reachable = [&](const FunctionDef* f) {
    std::set<const FunctionDef*> seen;
    std::vector<const FunctionDef*> stack{f};
    while (!stack.empty()) {
      const FunctionDef* g = stack.back();
      stack.pop_back();
      auto it = calls_.find(g);
      if (it == calls_.end()) continue;
      for (const FunctionDef* h : it->second)
        if (seen.insert(h).second) stack.push_back(h);
    }
    return seen;
  };
  std::map<const FunctionDef*, std::set<const FunctionDef*>> reach;
  for (auto& [name, overloads] : by_name_)
    for (const FunctionDef* f : overloads) reach[f] = reachable(f);
  for (auto& [name, overloads] : by_name_)
    for (FunctionDef* f : overloads) {
      const std::set<const FunctionDef*>& r = reach[f];
      bool recursive = r.count(f) != 0;
      for (const FunctionDef* g : r) recursive = recursive || reach[g].count(g) != 0;
      f->reaches_recursion = recursive;
    }
}

}  // namespace latent::functions
