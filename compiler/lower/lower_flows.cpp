// Lowering the uses of a flow (compiler/lower/flows.hpp): `f(z)` and
// `f_inverse(x)` as calls, and `x ~ f(mu, sigma)` as x's density: the base
// density of f's inverse image plus the log-determinant of the inverse's Jacobian.
#include "compiler/lower/lowerer.hpp"
#include "compiler/lower/lowering_helpers.hpp"

namespace latent {

using ir::NodeP;

const flows::Flow* Lowerer::flow_of_call(const std::string& name, bool* inverse) const {
  *inverse = false;
  if (const flows::Flow* f = find_flow(name)) return f;
  const std::string suffix = "_inverse";
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return nullptr;
  const flows::Flow* f = find_flow(name.substr(0, name.size() - suffix.size()));
  *inverse = f != nullptr;
  return f;
}

// x as rows {R, D}: a matrix's rows, or a vector or row_vector as one row.
NodeP Lowerer::flow_rows(const Value& x, const flows::Flow& flow, SourceLoc loc, const std::string& what) {
  NodeP v = g_.cast_real(x.node);
  const bool matrix = x.type.base == Base::Matrix;
  const int64_t width = matrix ? v->dims[1] : v->dims[0];
  if (width != flow.dim())
    error(loc, what + " has " + std::to_string(width) + (matrix ? " column" : " element") + (width == 1 ? "" : "s") +
                   ", and the flow maps " +
                   std::to_string(flow.dim()) + " (" + lowering::dims_text(x.type, x.node) + ")");
  return matrix ? v : g_.reshape(v, {1, width});
}

Lowerer::Value Lowerer::flow_call(const flows::Flow& flow, bool inverse, const ast::Expr& call) {
  Value x = expr(*call.args[0]);
  NodeP rows = flow_rows(x, flow, call.args[0]->loc, "the argument of '" + call.name + "'");
  NodeP out = inverse ? flows::inverse(g_, flow, rows).base : flows::forward(g_, flow, rows);
  return {g_.reshape(out, x.node->dims), Type{x.type.base, 0}};
}

void Lowerer::flow_tilde(const ast::Stmt& s, const flows::Flow& flow, std::vector<Value> params) {
  if (params.empty()) params = {{g_.constant(0), Type::real()}, {g_.constant(1), Type::real()}};
  Value y = expr(*s.lhs);
  flows::Inverse inv = flows::inverse(g_, flow, flow_rows(y, flow, s.lhs->loc, "the variate of flow '" + s.dist + "'"));
  Value base{g_.reshape(inv.base, y.node->dims), Type{y.type.base, 0}};
  const stdlib::DistributionEntry& normal = *stdlib::find_distribution("normal");
  stdlib::CallContext ctx(g_, file_, s.loc, s.dist + " (its base normal_lpdf)");
  ctx.propto = !keep_constants_ && outer_propto();
  Value lp = stdlib::lower_density(ctx, normal, base, params);
  for (NodeP c : ctx.checks) add_term(s.loc, c);
  record_tilde(s, g_.add(lp.node, g_.sum(inv.log_det_terms)),
               TildeRecord{&normal, "", "", {}, y, params, false, false, std::make_shared<flows::Flow>(flow)});
}

}  // namespace latent
