// The checker's symbol table: nested scopes of variables.
//
// Stan forbids a declaration from reusing any name visible at that point
// (shadowing an enclosing scope's variable is an error, as is redeclaring in the
// same scope), so one flat map with a stack of frames recording which names to
// drop on exit is enough.
#pragma once

#include "compiler/frontend/ast.hpp"
#include "compiler/frontend/types.hpp"

#include <string>
#include <unordered_map>
#include <vector>

namespace latent {

// Where a variable comes from; decides who may read and assign it.
enum class Origin {
  Data,
  TransformedData,
  Parameters,
  Network,  // learnable weights declared in a network block (read-only, no prior)
  TransformedParameters,
  GeneratedQuantities,
  Local,    // any declaration inside a statement, and the model block's declarations
  Loop,     // a for / foreach loop variable (read-only)
  Argument  // a user-defined function's argument (read-only, as Stan passes them as constants)
};

struct Symbol {
  std::string name;
  Type type;
  Origin origin = Origin::Local;
  SourceLoc loc;
  ast::BlockKind block = ast::BlockKind::Model;  // the block the declaration is in
  // Its value may depend on parameters (Stan's autodiff level): a real-valued
  // parameter, transformed parameter, local of the model, or function argument
  // without `data`. Such a value cannot be passed to a `data` argument.
  bool varies = false;
};

class Scopes {
 public:
  Scopes() { frames_.emplace_back(); }
  void push() { frames_.emplace_back(); }
  void pop() {
    for (const auto& n : frames_.back()) table_.erase(n);
    frames_.pop_back();
  }
  const Symbol* lookup(const std::string& name) const {
    auto it = table_.find(name);
    return it == table_.end() ? nullptr : &it->second;
  }
  // Adds the symbol to the innermost frame. When the name is already visible,
  // returns the existing symbol and adds nothing.
  const Symbol* declare(Symbol s) {
    if (const Symbol* old = lookup(s.name)) return old;
    frames_.back().push_back(s.name);
    std::string name = s.name;
    table_.emplace(std::move(name), std::move(s));
    return nullptr;
  }

 private:
  std::unordered_map<std::string, Symbol> table_;
  std::vector<std::vector<std::string>> frames_;
};

}  // namespace latent
