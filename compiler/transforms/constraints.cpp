#include "compiler/transforms/constraints.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace latent {

using ir::NodeP;
using ir::Op;
using Kind = ConstraintSpec::Kind;

namespace {

// The bound for element i: a scalar bound, or the i-th of a container bound.
double at(const std::vector<double>& v, size_t i) { return v.size() == 1 ? v[0] : v.at(i); }

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

int64_t unconstrained_size(const ConstraintSpec& c, int64_t size, int64_t simplex_length) {
  if (c.kind == Kind::Simplex) return simplex_length == 0 ? 0 : size / simplex_length * (simplex_length - 1);
  return size;
}

namespace {

// Simplexes with more free elements than this in all are built by a Scan over
// the stick (the graph then grows with neither K nor their number).
constexpr int64_t kMaxUnrolledSimplex = 32;

// The stick-breaking transform of `count` simplexes of length K at once, as a
// Scan over k whose state is the remaining stick of each simplex:
//   z_k = inv_logit(u_k - log(K - k - 1)),  x_k = stick_k z_k,  stick_{k+1} = stick_k - x_k,
// x_{K-1} = stick_{K-1}; log J = sum_k log z_k + log(1 - z_k) + log stick_k.
Constrained simplex_by_scan(ir::Graph& g, NodeP u, const std::vector<int64_t>& dims, int64_t K, int64_t count) {
  NodeP rows = g.reshape(u, {K - 1, count});  // row k: u_k of every simplex
  NodeP k = g.new_loop_var();
  auto adjusted = [&](NodeP at) {
    NodeP shift = g.unary(Op::Log, g.cast_real(g.sub(g.int_constant(K - 1), at)));
    return g.sub(g.index(rows, 0, at), shift);
  };
  NodeP stick = g.scan_state(static_cast<int>(k->a), {count}, ir::DType::Real);
  NodeP next = g.sub(stick, g.mul(stick, g.unary(Op::InvLogit, adjusted(k))));
  NodeP sticks = g.scan(k, g.fill(g.constant(1), {count}), g.int_constant(0), K - 1, next);  // {count, K}
  NodeP stick_k = g.index(sticks, 1, k);
  NodeP adj = adjusted(k);
  NodeP pieces = g.loop_gen(k, g.int_constant(0), K - 1, g.mul(stick_k, g.unary(Op::InvLogit, adj)));  // {count, K - 1}
  NodeP last = g.index(sticks, 1, g.int_constant(K - 1));
  NodeP x = g.add(g.pad_slice({count, K}, 1, g.int_constant(0), pieces),
                  g.one_hot({count, K}, 1, g.int_constant(K - 1), last));
  NodeP log_terms = g.add(g.sub(g.neg(g.unary(Op::Log1pExp, g.neg(adj))), g.unary(Op::Log1pExp, adj)),
                          g.unary(Op::Log, stick_k));
  NodeP lj = g.loop_sum(k, g.int_constant(0), g.int_constant(K - 2), g.sum(log_terms));
  return {g.reshape(g.transpose(x), dims), lj};
}

}  // namespace

Constrained constrain(ir::Graph& g, const ConstraintSpec& c, NodeP u, const std::vector<int64_t>& dims) {
  auto total = [&](NodeP t) { return t->is_scalar() && u->size() != 1 && !u->is_scalar()
                                         ? g.mul(t, g.constant(static_cast<double>(u->size())))
                                         : g.sum(t); };
  switch (c.kind) {
    case Kind::None: return {u, g.constant(0)};
    case Kind::Lower:  // x = lb + exp(u), log J = u
      return {g.add(g.cast_real(c.lower), g.unary(Op::Exp, u)), g.sum(u)};
    case Kind::Upper:  // x = ub - exp(u), log J = u
      return {g.sub(g.cast_real(c.upper), g.unary(Op::Exp, u)), g.sum(u)};
    case Kind::LowerUpper: {  // x = lb + (ub - lb) inv_logit(u)
      NodeP lb = g.cast_real(c.lower), ub = g.cast_real(c.upper);
      NodeP width = g.sub(ub, lb);
      NodeP x = g.add(lb, g.mul(width, g.unary(Op::InvLogit, u)));
      // log J = log(ub - lb) + log_inv_logit(u) + log1m_inv_logit(u)
      NodeP lj = g.sub(g.neg(g.unary(Op::Log1pExp, g.neg(u))), g.unary(Op::Log1pExp, u));
      return {x, g.add(total(g.unary(Op::Log, width)), g.sum(lj))};
    }
    case Kind::OffsetMultiplier: {  // x = offset + multiplier * u
      NodeP m = g.cast_real(c.multiplier);
      return {g.add(g.cast_real(c.offset), g.mul(m, u)), total(g.unary(Op::Log, m))};
    }
    case Kind::Simplex: {
      // Stan's stick-breaking transform, one simplex (dims[0] = K) per trailing index.
      int64_t K = dims[0];
      int64_t count = u->is_scalar() ? 1 : u->size() / std::max<int64_t>(K - 1, 1);
      if (K > 2 && (K - 1) * count > kMaxUnrolledSimplex) return simplex_by_scan(g, u, dims, K, count);
      std::vector<NodeP> xs;
      NodeP lj = g.constant(0);
      for (int64_t s = 0; s < count; ++s) {
        NodeP stick = g.constant(1);
        for (int64_t k = 0; k < K - 1; ++k) {
          NodeP uk = g.index(g.reshape(u, {u->size()}), 0, g.int_constant(s * (K - 1) + k));
          NodeP adj = g.sub(uk, g.constant(std::log(static_cast<double>(K - k - 1))));
          NodeP z = g.unary(Op::InvLogit, adj);
          NodeP xk = g.mul(stick, z);
          // log J += log(z) + log(1 - z) + log(stick)
          lj = g.add(lj, g.add(g.sub(g.neg(g.unary(Op::Log1pExp, g.neg(adj))), g.unary(Op::Log1pExp, adj)),
                               g.unary(Op::Log, stick)));
          xs.push_back(xk);
          stick = g.sub(stick, xk);
        }
        xs.push_back(stick);
      }
      return {g.pack(xs, dims), lj};
    }
    case Kind::Ordered:
    case Kind::PositiveOrdered: {
      // Stan's: x_1 = u_1 (positive_ordered: exp(u_1)), x_k = x_{k-1} + exp(u_k); one
      // vector (dims[0] = K) per trailing index. log J = the sum of the exponentiated u.
      bool positive = c.kind == Kind::PositiveOrdered;
      int64_t K = dims[0];
      int64_t count = K == 0 ? 0 : u->size() / K;
      NodeP flat = g.reshape(u, {u->size()});
      std::vector<NodeP> xs;
      NodeP lj = g.constant(0);
      for (int64_t s = 0; s < count; ++s) {
        NodeP previous = nullptr;
        for (int64_t k = 0; k < K; ++k) {
          NodeP uk = g.index(flat, 0, g.int_constant(s * K + k));
          bool exponentiated = k > 0 || positive;
          NodeP step = exponentiated ? g.unary(Op::Exp, uk) : uk;
          if (exponentiated) lj = g.add(lj, uk);
          previous = previous ? g.add(previous, step) : step;
          xs.push_back(previous);
        }
      }
      return {g.pack(xs, dims), lj};
    }
  }
  throw std::logic_error("unknown constraint");
}

std::vector<double> unconstrain(const ConstraintSpec& c, const BoundValues& b, const std::vector<double>& x,
                                int64_t simplex_length, bool scalar) {
  std::vector<double> u;
  auto fail = [&](size_t i, const std::string& why) {
    throw std::invalid_argument((scalar ? std::string("the value") : "element " + std::to_string(i + 1)) + " is " +
                                num(x[i]) + ", " + why);
  };
  switch (c.kind) {
    case Kind::None: return x;
    case Kind::Lower: {
      for (size_t i = 0; i < x.size(); ++i) {
        double lb = at(b.lower, i);
        if (!(x[i] > lb)) fail(i, "but must be greater than " + num(lb));
        u.push_back(std::log(x[i] - lb));
      }
      return u;
    }
    case Kind::Upper: {
      for (size_t i = 0; i < x.size(); ++i) {
        double ub = at(b.upper, i);
        if (!(x[i] < ub)) fail(i, "but must be less than " + num(ub));
        u.push_back(std::log(ub - x[i]));
      }
      return u;
    }
    case Kind::LowerUpper: {
      for (size_t i = 0; i < x.size(); ++i) {
        double lb = at(b.lower, i), ub = at(b.upper, i);
        if (!(x[i] > lb && x[i] < ub)) fail(i, "but must be strictly between " + num(lb) + " and " + num(ub));
        double p = (x[i] - lb) / (ub - lb);
        u.push_back(std::log(p) - std::log1p(-p));
      }
      return u;
    }
    case Kind::OffsetMultiplier: {
      for (size_t i = 0; i < x.size(); ++i) u.push_back((x[i] - at(b.offset, i)) / at(b.multiplier, i));
      return u;
    }
    case Kind::Simplex: {
      int64_t K = simplex_length;
      for (size_t s = 0; s + static_cast<size_t>(K) <= x.size(); s += static_cast<size_t>(K)) {
        double sum = 0;
        for (int64_t k = 0; k < K; ++k) {
          if (!(x[s + k] >= 0)) fail(s + k, "but a simplex must be non-negative");
          sum += x[s + k];
        }
        if (std::fabs(sum - 1) > 1e-8) throw std::invalid_argument("a simplex must sum to 1, but sums to " + num(sum));
        double stick = 1;
        for (int64_t k = 0; k < K - 1; ++k) {
          double z = x[s + k] / stick;
          u.push_back(std::log(z) - std::log1p(-z) + std::log(static_cast<double>(K - k - 1)));
          stick -= x[s + k];
        }
      }
      return u;
    }
    case Kind::Ordered:
    case Kind::PositiveOrdered: {
      bool positive = c.kind == Kind::PositiveOrdered;
      size_t K = static_cast<size_t>(simplex_length);
      for (size_t s = 0; K > 0 && s + K <= x.size(); s += K)
        for (size_t k = 0; k < K; ++k) {
          if (k == 0) {
            if (positive && !(x[s] > 0)) fail(s, "but a positive_ordered vector must be positive");
            u.push_back(positive ? std::log(x[s]) : x[s]);
            continue;
          }
          if (!(x[s + k] > x[s + k - 1]))
            fail(s + k, "but an ordered vector must be strictly increasing (the previous element is " +
                            num(x[s + k - 1]) + ")");
          u.push_back(std::log(x[s + k] - x[s + k - 1]));
        }
      return u;
    }
  }
  return u;
}

std::string describe(const ConstraintSpec& c) {
  auto v = [](NodeP n) { return n->is_const() ? num(n->value) : std::string("<expr>"); };
  switch (c.kind) {
    case Kind::None: return "";
    case Kind::Lower: return "lower=" + v(c.lower);
    case Kind::Upper: return "upper=" + v(c.upper);
    case Kind::LowerUpper: return "lower=" + v(c.lower) + ", upper=" + v(c.upper);
    case Kind::OffsetMultiplier: return "offset=" + v(c.offset) + ", multiplier=" + v(c.multiplier);
    case Kind::Simplex: return "simplex";
    case Kind::Ordered: return "ordered";
    case Kind::PositiveOrdered: return "positive_ordered";
  }
  return "";
}

}  // namespace latent
