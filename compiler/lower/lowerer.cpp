// The lowerer's core: dims, diagnostics, target terms and checks, variables,
// declarations and their constraints. Expressions, statements and loops are in
// lower_expressions.cpp, lower_statements.cpp and lower_loops.cpp.
#include "compiler/lower/lowerer.hpp"

#include "compiler/ir/substitute.hpp"

#include "compiler/lower/lowering_helpers.hpp"

#include <cmath>
#include <sstream>

namespace latent {

using ir::NodeP;
using ir::Op;
using lowering::dims_text;
using lowering::stan_axes;

// ---- dims ------------------------------------------------------------------------------

std::vector<int64_t> Lowerer::ir_dims_of(const Type& t, const std::vector<int64_t>& stan_dims) {
  size_t k = static_cast<size_t>(t.array_dims);
  std::vector<int64_t> ir(stan_dims.begin() + static_cast<long>(std::min(k, stan_dims.size())), stan_dims.end());
  for (size_t i = std::min(k, stan_dims.size()); i-- > 0;) ir.push_back(stan_dims[i]);
  return ir;
}

std::vector<int64_t> Lowerer::stan_dims_of(const Type& t, const std::vector<int64_t>& ir_dims) {
  size_t k = static_cast<size_t>(t.array_dims);
  size_t elem = ir_dims.size() >= k ? ir_dims.size() - k : 0;
  std::vector<int64_t> stan;
  for (size_t i = ir_dims.size(); i-- > elem;) stan.push_back(ir_dims[i]);
  for (size_t i = 0; i < elem; ++i) stan.push_back(ir_dims[i]);
  return stan;
}

// ---- diagnostics ------------------------------------------------------------------------

void Lowerer::error(SourceLoc loc, const std::string& message) const {
  // Inside an inlined function, say which call led there.
  std::string where;
  if (frame_)
    where = " (in '" + frame_->function->name + "', called at line " + std::to_string(frame_->call.line) + ")";
  throw UserError(format_diagnostic(file_, {loc, message + where}));
}

std::string Lowerer::location(SourceLoc loc) const {
  return file_.path + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column);
}

void Lowerer::add_term(SourceLoc loc, NodeP value) {
  if (NodeP path = full_path()) {
    // Under a run-time condition: checks and prints fire only on their path;
    // other terms count only there (both sides of a select are evaluated).
    if (value->op == Op::Check || value->op == Op::Print) {
      std::vector<NodeP> values(value->args.begin() + 1, value->args.end());
      NodeP when = g_.binary(Op::And, path, value->args[0]);
      int id = static_cast<int>(value->b);
      value = value->op == Op::Check ? g_.check(when, id, values) : g_.print(when, id, values);
    } else {
      value = g_.select(path, value, g_.constant(0));
    }
  }
  if (value->is_const(0)) return;
  std::string stmt = file_.line(loc.line);
  size_t b = stmt.find_first_not_of(" \t");
  stmt = b == std::string::npos ? "" : stmt.substr(b);
  keep_term({location(loc), stmt, value, false, std::nullopt});
}

void Lowerer::keep_term(Term t) {
  NodeP v = t.value;
  // Checks on data alone run once when data is bound, not at every evaluation.
  if (!v->reads_unknowns && v->free_loops.empty() && v->is_effect && current_terms_ == &terms_)
    data_checks_.push_back(v);
  else
    current_terms_->push_back(std::move(t));
}

void Lowerer::add_check(SourceLoc loc, NodeP violated, const std::string& message, NodeP value,
                        const std::string& value_name) {
  if (violated->is_const(0)) return;
  // An empty value_name: the message says it all (a NaN check names no value).
  if (violated->is_const() && !full_path()) {
    std::ostringstream v;
    v << (value->is_const() ? value->value : NAN);
    error(loc, value_name.empty() ? message : message + " (" + value_name + " = " + v.str() + ")");
  }
  std::vector<std::string> names;
  if (!value_name.empty()) names.push_back(value_name);
  int id = g_.add_message({message, location(loc), names});
  add_term(loc, g_.check(violated, id, {value}));
}

// ---- variables ----------------------------------------------------------------------------

void Lowerer::define(const std::string& name, Value v, bool read_only, const std::string& block) {
  scopes_.back().vars[name] = Var{v, read_only, block};
}

Lowerer::Var* Lowerer::find(const std::string& name) {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    auto f = it->vars.find(name);
    if (f != it->vars.end()) return &f->second;
  }
  return nullptr;
}

NodeP Lowerer::fold_data_expression(NodeP n) {
  if (n->is_const() || !n->is_scalar() || n->reads_unknowns || !n->free_loops.empty() || n->is_effect) return n;
  NodeP folded = fold_data(n, true);
  if (folded->is_const()) return folded;
  // Reductions of a whole data buffer: sum, max.
  if ((n->op == Op::Sum || n->op == Op::MaxReduce) && n->args[0]->op == Op::Input && n->args[0]->a == 1) {
    NodeP x = n->args[0];
    size_t begin = static_cast<size_t>(x->b), count = static_cast<size_t>(x->size());
    if (begin + count > data_.size() || count == 0) return n;
    double r = n->op == Op::Sum ? 0 : -INFINITY;
    for (size_t k = begin; k < begin + count; ++k) r = n->op == Op::Sum ? r + data_[k] : std::max(r, data_[k]);
    return x->dtype == ir::DType::Int ? g_.int_constant(static_cast<int64_t>(r)) : g_.constant(r);
  }
  if (!ir::is_elementwise(n->op)) return n;
  std::vector<NodeP> args;
  for (NodeP a : n->args) {
    NodeP c = fold_data_expression(a);
    if (!c->is_const()) return n;
    args.push_back(c);
  }
  return ir::rebuild(g_, n, args);  // the graph folds an elementwise op of constants
}

int64_t Lowerer::known_int(const ast::Expr& e, const std::string& what) {
  double x = known_real(e, what);
  if (x != std::floor(x)) error(e.loc, what + " must be an integer");
  return static_cast<int64_t>(x);
}

double Lowerer::known_real(const ast::Expr& e, const std::string& what) {
  Value v = expr(e);
  v.node = fold_data_expression(v.node);
  if (!v.node->is_const() || !v.node->is_scalar())
    error(e.loc, what + " must be known when the data is read (it may not depend on parameters)");
  return v.node->value;
}

ir::NodeP Lowerer::known_data(const ast::Expr& e, const std::string& what) {
  NodeP n = fold_data_expression(expr(e).node);
  if (n->reads_unknowns) error(e.loc, what + " must be known when the data is read (it may not depend on parameters)");
  return n;
}

void Lowerer::declared_dims(const ast::VarDecl& d, std::vector<int64_t>* stan_dims, std::vector<int64_t>* ir_dims) {
  stan_dims->clear();
  for (auto& e : d.array_sizes) {
    int64_t n = known_int(*e, "the array size of '" + d.name + "'");
    if (n < 0) error(e->loc, "the array size of '" + d.name + "' is negative (" + std::to_string(n) + ")");
    stan_dims->push_back(n);
  }
  for (auto& e : d.sizes) {
    int64_t n = known_int(*e, "the size of '" + d.name + "'");
    if (n < 0) error(e->loc, "the size of '" + d.name + "' is negative (" + std::to_string(n) + ")");
    stan_dims->push_back(n);
  }
  // cholesky_factor_corr[K], corr_matrix[K], cov_matrix[K], cholesky_factor_cov[M] (and simplex[K]) give one size.
  bool square = d.base == ast::BaseType::CholeskyFactorCorr || d.base == ast::BaseType::CorrMatrix ||
                d.base == ast::BaseType::CovMatrix || (d.base == ast::BaseType::CholeskyFactorCov && d.sizes.size() == 1);
  if (square && !stan_dims->empty()) stan_dims->push_back(stan_dims->back());
  // As Stan's checks (check_nonzero_size): neither has a value of size 0.
  if ((d.base == ast::BaseType::UnitVector || d.base == ast::BaseType::SumToZeroVector) && !d.sizes.empty() &&
      stan_dims->back() == 0) {
    const char* type = d.base == ast::BaseType::UnitVector ? "unit_vector" : "sum_to_zero_vector";
    error(d.loc, std::string(type) + " '" + d.name + "' has size 0: a " + type + " needs at least one element");
  }
  if (d.base == ast::BaseType::CholeskyFactorCov && stan_dims->size() >= 2) {
    int64_t rows = (*stan_dims)[stan_dims->size() - 2], cols = stan_dims->back();
    if (rows < cols)
      error(d.loc, "cholesky_factor_cov '" + d.name + "' has fewer rows (" + std::to_string(rows) + ") than columns (" +
                       std::to_string(cols) + ")");
  }
  if (ir::element_count(*stan_dims) > ir::kMaxElements) {
    std::string dims;
    for (int64_t n : *stan_dims) dims += (dims.empty() ? "" : " x ") + std::to_string(n);
    error(d.loc, "'" + d.name + "' has " + dims + " elements, more than the limit of " +
                     std::to_string(ir::kMaxElements) + " (2^28) elements of one variable");
  }
  *ir_dims = ir_dims_of(d.type, *stan_dims);
}

ConstraintSpec Lowerer::constraint(const ast::VarDecl& d) {
  ConstraintSpec c;
  using Kind = ConstraintSpec::Kind;
  if (d.base == ast::BaseType::Simplex) {
    c.kind = Kind::Simplex;
    return c;
  }
  if (d.base == ast::BaseType::Ordered || d.base == ast::BaseType::PositiveOrdered) {
    c.kind = d.base == ast::BaseType::Ordered ? Kind::Ordered : Kind::PositiveOrdered;
    return c;
  }
  if (d.base == ast::BaseType::UnitVector || d.base == ast::BaseType::SumToZeroVector) {
    c.kind = d.base == ast::BaseType::UnitVector ? Kind::UnitVector : Kind::SumToZero;
    return c;
  }
  const ast::Constraint& k = d.constraint;
  std::vector<int64_t> stan_dims, dims;
  declared_dims(d, &stan_dims, &dims);
  if (d.base == ast::BaseType::CholeskyFactorCorr || d.base == ast::BaseType::CorrMatrix ||
      d.base == ast::BaseType::CovMatrix || d.base == ast::BaseType::CholeskyFactorCov) {
    c.kind = d.base == ast::BaseType::CholeskyFactorCorr ? Kind::CholeskyCorr
             : d.base == ast::BaseType::CorrMatrix       ? Kind::CorrMatrix
             : d.base == ast::BaseType::CovMatrix        ? Kind::CovMatrix
                                                         : Kind::CholeskyCov;
    c.rows = dims.at(0);
    c.cols = dims.at(1);
    return c;
  }
  auto bound = [&](const ast::ExprPtr& e, const char* what) -> NodeP {
    Value v = expr(*e);
    if (!v.node->is_scalar() && v.node->dims != dims)
      error(e->loc, std::string("the ") + what + " bound of '" + d.name + "' has size " + dims_text(v.type, v.node) +
                        ", but '" + d.name + "' has size " + dims_text(d.type, g_.zeros(dims)));
    return g_.cast_real(v.node);
  };
  if (k.lower) c.lower = bound(k.lower, "lower");
  if (k.upper) c.upper = bound(k.upper, "upper");
  if (k.offset || k.multiplier) {
    c.kind = Kind::OffsetMultiplier;
    c.offset = k.offset ? bound(k.offset, "offset") : g_.constant(0);
    c.multiplier = k.multiplier ? bound(k.multiplier, "multiplier") : g_.constant(1);
    if (c.multiplier->is_const() && !(c.multiplier->value > 0))
      error(k.multiplier->loc, "the multiplier of '" + d.name + "' must be positive");
    return c;
  }
  // Infinite constant bounds mean no bound, as in Stan.
  if (c.lower && c.lower->is_const() && c.lower->value == -INFINITY) c.lower = nullptr;
  if (c.upper && c.upper->is_const() && c.upper->value == INFINITY) c.upper = nullptr;
  if (c.lower && c.upper) {
    c.kind = Kind::LowerUpper;
    if (c.lower->is_const() && c.upper->is_const() && !(c.lower->value < c.upper->value))
      error(d.loc, "the lower bound of '" + d.name + "' is not below its upper bound");
  } else if (c.lower) {
    c.kind = Kind::Lower;
  } else if (c.upper) {
    c.kind = Kind::Upper;
  }
  return c;
}

}  // namespace latent
