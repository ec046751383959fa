// The standard library: one entry per function or distribution, holding its
// type rule, its lowering to IR (from which the derivative follows by the IR's
// differentiation rules) and the checks Stan makes on its arguments.
#pragma once

#include "frontend/source.hpp"
#include "frontend/types.hpp"
#include "ir/ir.hpp"

#include <functional>
#include <string>
#include <vector>

namespace latent::stdlib {

// A lowered argument or result: the IR value and its Stan type.
struct Value {
  ir::NodeP node = nullptr;
  Type type;
};

// What lowering hands a library entry.
class CallContext {
 public:
  CallContext(ir::Graph& graph, const SourceFile& file, SourceLoc loc, std::string name)
      : g(graph), file_(file), loc_(loc), name_(std::move(name)) {}
  ir::Graph& g;
  bool propto = false;  // `~` and _lupdf: drop terms that do not depend on parameters
  // Checks of argument values (Check nodes), added to the program by the caller.
  std::vector<ir::NodeP> checks;

  const std::string& name() const { return name_; }
  // A shape or value error found while lowering: throws UserError at the call.
  [[noreturn]] void error(const std::string& message) const;
  // Adds a Check that fails when `violated` is nonzero, reporting `value`.
  void check(ir::NodeP violated, const std::string& message, ir::NodeP value, const std::string& value_name);
  std::string location() const;

 private:
  const SourceFile& file_;
  SourceLoc loc_;
  std::string name_;
};

using TypeRule = std::function<Type(const std::vector<Type>&, std::string* why)>;
using LowerRule = std::function<Value(CallContext&, const std::vector<Value>&)>;

struct FunctionEntry {
  std::string name;
  TypeRule type;
  LowerRule lower;
};

// Argument domains Stan checks for distribution parameters.
enum class Domain { Any, Finite, Positive, PositiveFinite, NonNegative, Probability, Int, NonNegativeInt, Binary };

struct DistributionEntry {
  std::string name;  // "normal"
  bool discrete;     // _lpmf (variate is int) or _lpdf
  Domain variate;
  std::vector<std::pair<std::string, Domain>> params;  // names as in Stan's messages
  // Log density terms; each a scalar already summed over the broadcast size.
  // Entries must not check their arguments (the library does, from `params`).
  std::function<std::vector<ir::NodeP>(CallContext&, const Value& variate, const std::vector<Value>& params,
                                       int64_t size)>
      terms;
};

const FunctionEntry* find_function(const std::string& name);
const DistributionEntry* find_distribution(const std::string& name);

// Splits "normal_lpdf" into ("normal", "_lpdf"); returns false when there is no density suffix.
bool split_density_suffix(const std::string& name, std::string* base, std::string* suffix);

// Lowers `dist_lpdf(variate | params)` (propto from ctx) to a scalar log density.
Value lower_density(CallContext& ctx, const DistributionEntry& dist, const Value& variate,
                    const std::vector<Value>& params);

// Registration, one call per file of entries.
void register_functions(std::vector<FunctionEntry>& out);
void register_distributions(std::vector<DistributionEntry>& out);

}  // namespace latent::stdlib
