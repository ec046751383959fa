// The standard library: one entry per function or distribution, holding its
// type rule, its lowering to IR (from which the derivative follows by the IR's
// differentiation rules) and the checks Stan makes on its arguments.
#pragma once

#include "common/source.hpp"
#include "compiler/frontend/types.hpp"
#include "compiler/ir/ir.hpp"
#include "kernels/random.hpp"

#include <functional>
#include <optional>
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
  // For `_rng` calls: the variables of the enclosing loops (a draw per iteration)
  // and a number that no other draw of the program has.
  std::vector<ir::NodeP> loop_vars;
  int64_t draw_site = 0;
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

// A slice whose length is known only at run time (head(p, i - 1) in a loop over
// i, where IR values have fixed sizes): the slice's elements first, then zeros,
// over the longest the slice can be (its container's length), and the length.
// Only reductions that zeros do not change read it (FunctionEntry::reduce_padded).
struct Padded {
  ir::NodeP values;  // one-dimensional
  ir::NodeP length;  // int scalar
  Type type;
};
// A slice's padded form; nullopt when its length is known while lowering.
using PaddedRule = std::function<std::optional<Padded>(CallContext&, const std::vector<Value>&)>;
// A reduction over arguments of which some are padded (a plain argument is padded
// to its own size); checks that lengths agree go to ctx.
using ReducePaddedRule = std::function<Value(CallContext&, const std::vector<Padded>&)>;

struct FunctionEntry {
  std::string name;
  TypeRule type;
  LowerRule lower;
  PaddedRule padded = nullptr;                // slices: head, tail, segment, sub_col, sub_row
  ReducePaddedRule reduce_padded = nullptr;  // reductions: dot_product, dot_self, sum
};

// x[start : start + length - 1] (start 1-based) of a one-dimensional x, padded:
// checked as Stan checks the slice, with messages naming ctx's function.
Padded padded_slice(CallContext& ctx, ir::NodeP x, ir::NodeP start, ir::NodeP length, const Type& type);

// Whether `slice(...)` may be an argument of `reduction(...)` with a length that
// changes from one loop iteration to the next (loop_plan.cpp and the lowerer agree on it).
bool reads_padded(const std::string& reduction, const std::string& slice);
// Whether an index range x[a:b] may be an argument of `reduction(...)` with a length that changes.
bool reads_padded_range(const std::string& reduction);

// Argument domains Stan checks for distribution parameters.
enum class Domain { Any, Finite, Positive, PositiveFinite, NonNegative, Probability, Int, NonNegativeInt, Binary };

// Every fact about a distribution that the compiler needs, in one entry:
// lowering (`terms`), the checker (argument domains, shapes), generation (`mean`,
// the reparameterised draw) and SVI (the draw, log q, closed-form KL through
// `gaussian`). Nothing outside stdlib/ tests a distribution's name.
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

  // Most distributions are elementwise: every argument a scalar or a container
  // of one size (broadcast). Others (categorical: one outcome per row of logits)
  // have a type rule of their own, check shapes in `terms`, and draw by `draw`.
  bool elementwise = true;
  std::function<bool(const Type& variate, const std::vector<Type>& params, std::string* why)> signature;
  // A draw of the variate (dims `dims`; {} for one outcome, as `_rng` gives) given
  // the parameters, as IR (e.g. the Gumbel-max trick for categorical), for the
  // non-elementwise ones; it adds the checks of the parameters to ctx.
  std::function<ir::NodeP(CallContext& ctx, const std::vector<ir::NodeP>& params, const std::vector<int64_t>& dims)> draw;
  // The type rule of `name_rng` when it takes other arguments than the density's
  // parameters (lkj_corr_cholesky_rng(K, eta)); `draw` then gets those arguments.
  TypeRule rng_signature;

  // The following take the parameters as real IR values of one shape (or scalars;
  // for the non-elementwise ones, the parameters as given) and work elementwise;
  // null where the fact does not exist.

  // The mean of the variate (the median or location where the mean does not exist).
  std::function<ir::NodeP(ir::Graph&, const std::vector<ir::NodeP>& params)> mean;
  // A draw z = draw(params, eps) from standard normal noise eps of z's shape
  // (the reparameterisation trick), and log q(z) at that draw, summed over its
  // `count` elements and written in terms of eps (so that its gradient is the
  // reparameterised one).
  struct Reparameterization {
    std::function<ir::NodeP(ir::Graph&, const std::vector<ir::NodeP>& params, ir::NodeP eps)> draw;
    std::function<ir::NodeP(ir::Graph&, const std::vector<ir::NodeP>& params, ir::NodeP eps, int64_t count)>
        log_density;
  };
  std::optional<Reparameterization> reparameterization;
  // The location and scale of a Gaussian distribution (normal, std_normal): closed-form KL.
  std::function<std::pair<ir::NodeP, ir::NodeP>(ir::Graph&, const std::vector<ir::NodeP>& params)> gaussian;

  // The log CDF and the log complementary CDF of the variate y, elementwise (y and
  // the parameters real, scalars or of one shape): `name_lcdf`, `name_lccdf` and
  // `name_cdf` exist when these do. The CDFs have no derivative with respect to the
  // parameters listed in `cdf_fixed_params` (by index): a call where one of them
  // depends on parameters is an error.
  std::function<ir::NodeP(ir::Graph&, ir::NodeP y, const std::vector<ir::NodeP>& params)> log_cdf, log_ccdf;
  std::vector<size_t> cdf_fixed_params;

  // Stan has no `_rng` for some (the GLMs): `name_rng` is then an error.
  bool has_rng = true;
  // `name_rng(params)`: one draw given the parameters (run by generated code,
  // kernels/random.hpp), and its id once the library has registered it.
  Sampler sample = nullptr;
  int64_t sampler_id = -1;
  // A bound the sampler needs beyond the parameters' domains (Stan's poisson_rng:
  // rate below 2^30): parameter `param` must be below `below`.
  struct Limit {
    int param = -1;
    std::string name;
    double below = 0;
  } sample_limit;
};

const FunctionEntry* find_function(const std::string& name);
std::vector<std::string> distribution_names();  // every distribution of the library, sorted
const DistributionEntry* find_distribution(const std::string& name);

// Names of the distributions with a reparameterised draw ("normal, std_normal"), for messages.
std::string reparameterized_distribution_names();

// KL(q || p) summed over elements, in closed form; null when none is known for the pair.
ir::NodeP kl_divergence(ir::Graph& g, const DistributionEntry& q, const std::vector<ir::NodeP>& q_params,
                        const DistributionEntry& p, const std::vector<ir::NodeP>& p_params);

// dist_lcdf(args) (complementary: dist_lccdf), summed over elements, with its
// argument checks added to ctx; for truncation T[L, U]. The distribution must have
// log_cdf.
Value lower_log_cdf(CallContext& ctx, const DistributionEntry& dist, const std::vector<Value>& args, bool complementary);

// Splits "normal_lpdf" into ("normal", "_lpdf"); returns false when there is no density suffix.
bool split_density_suffix(const std::string& name, std::string* base, std::string* suffix);

// "normal_rng" -> "normal"; false when the name does not end in _rng.
bool split_rng_suffix(const std::string& name, std::string* base);

// Lowers `dist_rng(params)`: a draw, or an array of draws when a parameter is a
// container (Stan's vectorised _rng functions return arrays).
Value lower_rng(CallContext& ctx, const DistributionEntry& dist, const std::vector<Value>& params);

// Adds the checks of the parameters' domains (Stan's argument checks) to ctx.
void check_parameters(CallContext& ctx, const DistributionEntry& dist, const std::vector<Value>& params);

// Lowers `dist_lpdf(variate | params)` (propto from ctx) to a scalar log density.
Value lower_density(CallContext& ctx, const DistributionEntry& dist, const Value& variate,
                    const std::vector<Value>& params);

// Registration, one call per file of entries.
void register_functions(std::vector<FunctionEntry>& out);
void register_container_functions(std::vector<FunctionEntry>& out);
void register_gaussian_process_functions(std::vector<FunctionEntry>& out);
void register_linear_algebra_functions(std::vector<FunctionEntry>& out);
void register_distributions(std::vector<DistributionEntry>& out);
void register_multivariate_distributions(std::vector<DistributionEntry>& out);

// The matrix division operators with a matrix divisor: b / A (mdivide_right) and
// A \ b (left = true, mdivide_left); their checks go to ctx.
Value lower_matrix_division(CallContext& ctx, const Value& x, const Value& y, bool left);

}  // namespace latent::stdlib
