// Neural-network activations of the standard library (relu, sigmoid, softplus,
// elu, tanh, log_softmax, softmax) through the whole pipeline: for every argument
// shape (real, vector, row_vector, matrix), a parameter goes through the
// activation into the log density; the value is checked against a closed form
// computed here and the gradient against finite differences. Also: derivatives
// at the kinks, extreme arguments (no overflow, no NaN gradient), the row-wise
// log_softmax of a matrix, and the checker's messages for wrong argument types.
#define BOOST_TEST_MODULE activations
#include "tests/support/model_fixture.hpp"

#include <functional>
#include <iomanip>

using namespace latent;
using namespace latent::testing;

namespace {

using Vec = std::vector<double>;
using Fn = std::function<double(double)>;

// ---- shapes ------------------------------------------------------------------------------

// One Stan argument type and its size (rows x cols; a real is 1 x 1, a vector n x 1, a row_vector 1 x n).
struct Shape {
  std::string label;  // "matrix[3, 4]"
  std::string decl;   // the Stan type with its sizes
  int64_t rows, cols;
  bool scalar;
  int64_t size() const { return rows * cols; }
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all{{"real", "real", 1, 1, true},
                                      {"vector[3]", "vector[3]", 3, 1, false},
                                      {"row_vector[4]", "row_vector[4]", 1, 4, false},
                                      {"matrix[3, 4]", "matrix[3, 4]", 3, 4, false}};
  return all;
}

// Element (r, c) of a parameter of `shape` in the unconstrained vector: Stan's order is column-major.
size_t at(const Shape& s, int64_t r, int64_t c) { return static_cast<size_t>(c * s.rows + r); }

// Weights w(r, c) for the data, all distinct and nonzero, some negative.
double weight(int64_t r, int64_t c) { return 0.35 + 0.2 * static_cast<double>(r) - 0.45 * static_cast<double>(c % 3) + 0.05 * static_cast<double>(c); }

// JSON for a data value of `shape` holding weight(r, c) (a matrix is written row by row).
std::string weights_json(const Shape& s) {
  std::ostringstream o;
  o << std::setprecision(17);
  auto w = [&](int64_t r, int64_t c) { o << weight(r, c); };
  if (s.scalar) {
    w(0, 0);
  } else if (s.cols == 1 || s.rows == 1) {
    o << "[";
    for (int64_t k = 0; k < s.size(); ++k) {
      if (k) o << ", ";
      s.cols == 1 ? w(k, 0) : w(0, k);
    }
    o << "]";
  } else {
    o << "[";
    for (int64_t r = 0; r < s.rows; ++r) {
      o << (r ? ", [" : "[");
      for (int64_t c = 0; c < s.cols; ++c) {
        if (c) o << ", ";
        w(r, c);
      }
      o << "]";
    }
    o << "]";
  }
  return "{\"w\": " + o.str() + "}";
}

// A model in which parameter `a` of `shape` goes through `fn` into the density:
// target += sum(fn(a) .* w), the result first stored in a local of the same type
// (so the checker confirms the result type).
std::string weighted_model(const Shape& s, const std::string& fn) {
  std::string body = s.scalar ? "target += b * w;" : "target += sum(b .* w);";
  return "data { " + s.decl + " w; }\nparameters { " + s.decl + " a; }\nmodel {\n  " + s.decl + " b = " + fn +
         "(a);\n  " + body + "\n}\n";
}

// A point with every coordinate in [-3, 3] but at least 0.1 away from 0 (the kinks of relu and elu).
Vec point(std::mt19937_64& rng, size_t n) {
  std::uniform_real_distribution<double> u(-3, 3);
  Vec t(n);
  for (auto& x : t) {
    x = u(rng);
    if (std::fabs(x) < 0.1) x += x < 0 ? -0.25 : 0.25;
  }
  return t;
}

// Value (to value_tol, relative to max(1, |ref|)) and gradient (against finite
// differences, and against the exact gradient when given) of `model` at `points` points.
void check_points(const std::string& label, const std::string& model, const std::string& data, size_t n,
                  const std::function<double(const Vec&)>& ref,
                  const std::function<Vec(const Vec&)>& exact_gradient = nullptr, int points = 3,
                  double value_tol = 1e-12) {
  BOOST_TEST_CONTEXT(label << "\nmodel:\n" << model << "data: " << data) {
    try {
      std::unique_ptr<BoundModel> m = make_model(model, data);
      BOOST_TEST(m->num_unconstrained() == static_cast<int64_t>(n));
      if (m->num_unconstrained() != static_cast<int64_t>(n)) return;
      std::mt19937_64 rng(20240917);
      for (int k = 0; k < points; ++k) {
        Vec theta = point(rng, n);
        double value = 0;
        Vec g = gradient(*m, theta, true, &value);
        double want = ref(theta);
        BOOST_TEST(close(value, want, value_tol), "at " << vec_str(theta) << ": log density " << std::setprecision(17)
                                                       << value << ", reference " << want << " (diff " << value - want
                                                       << ")");
        check_gradient(*m, theta, true, 1e-7, label);
        if (exact_gradient) {
          Vec e = exact_gradient(theta);
          for (size_t i = 0; i < n; ++i)
            BOOST_TEST(close(g[i], e[i], 1e-12), "d/dtheta[" << i << "]: " << g[i] << " vs exact " << e[i]);
        }
      }
    } catch (const std::exception& e) {
      BOOST_ERROR(label << ": exception: " << e.what());
    }
  }
}

// ---- the elementwise activations ---------------------------------------------------------

struct Activation {
  std::string name;
  Fn f, df;
};

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

const std::vector<Activation>& activations() {
  static const std::vector<Activation> all{
      {"relu", [](double x) { return x > 0 ? x : 0.0; }, [](double x) { return x > 0 ? 1.0 : 0.0; }},
      {"sigmoid", sigmoid, [](double x) { return sigmoid(x) * (1 - sigmoid(x)); }},
      {"softplus", [](double x) { return std::log1p(std::exp(x)); }, sigmoid},
      {"elu", [](double x) { return x > 0 ? x : std::expm1(x); }, [](double x) { return x > 0 ? 1.0 : std::exp(x); }},
      {"tanh", [](double x) { return std::tanh(x); }, [](double x) { return 1 - std::tanh(x) * std::tanh(x); }},
  };
  return all;
}

// ---- log_softmax reference ---------------------------------------------------------------

// log_softmax of each row of x (rows x cols, x(r, c) = x[c * rows + r]), computed in long double.
Vec log_softmax_rows(const Vec& x, int64_t rows, int64_t cols) {
  Vec out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    long double mx = -INFINITY;
    for (int64_t c = 0; c < cols; ++c) mx = std::max<long double>(mx, x[static_cast<size_t>(c * rows + r)]);
    long double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += std::exp(static_cast<long double>(x[static_cast<size_t>(c * rows + r)]) - mx);
    for (int64_t c = 0; c < cols; ++c) {
      size_t k = static_cast<size_t>(c * rows + r);
      out[k] = static_cast<double>(static_cast<long double>(x[k]) - mx - std::log(s));
    }
  }
  return out;
}

// For a vector or row_vector the whole argument is one softmax; for a matrix each row is.
int64_t softmax_rows(const Shape& s) { return s.cols == 1 ? 1 : s.rows; }
int64_t softmax_cols(const Shape& s) { return s.cols == 1 ? s.rows : s.cols; }

// d/dx of sum(log_softmax(x) .* w), per row: w - softmax(x) * sum(w).
Vec log_softmax_weighted_gradient(const Shape& s, const Vec& x) {
  int64_t R = softmax_rows(s), C = softmax_cols(s);
  Vec l = log_softmax_rows(x, R, C), g(x.size());
  for (int64_t r = 0; r < R; ++r) {
    double wsum = 0;
    for (int64_t c = 0; c < C; ++c) wsum += s.cols == 1 ? weight(c, 0) : weight(r, c);
    for (int64_t c = 0; c < C; ++c) {
      size_t k = static_cast<size_t>(c * R + r);
      double w = s.cols == 1 ? weight(c, 0) : weight(r, c);
      g[k] = w - std::exp(l[k]) * wsum;
    }
  }
  return g;
}

const Shape kVector = shapes()[1], kRowVector = shapes()[2], kMatrix = shapes()[3];

std::string checked_error(const std::string& text) {
  return user_error([&] {
    auto src = std::make_shared<SourceFile>(SourceFile{"test.lat", text});
    auto prog = parse_program(src);
    check_program(*prog);
  });
}

}  // namespace

// ============================================================================================
// relu, sigmoid, softplus, elu, tanh: every shape, value and gradient
// ============================================================================================

BOOST_AUTO_TEST_SUITE(elementwise)

BOOST_AUTO_TEST_CASE(every_activation_every_shape) {
  for (const Activation& act : activations()) {
    for (const Shape& s : shapes()) {
      auto ref = [&act, s](const Vec& t) {
        double total = 0;
        for (int64_t r = 0; r < s.rows; ++r)
          for (int64_t c = 0; c < s.cols; ++c) total += act.f(t[at(s, r, c)]) * weight(r, c);
        return total;
      };
      auto exact = [&act, s](const Vec& t) {
        Vec g(t.size());
        for (int64_t r = 0; r < s.rows; ++r)
          for (int64_t c = 0; c < s.cols; ++c) g[at(s, r, c)] = act.df(t[at(s, r, c)]) * weight(r, c);
        return g;
      };
      check_points(act.name + "(" + s.label + ")", weighted_model(s, act.name), weights_json(s),
                   static_cast<size_t>(s.size()), ref, exact);
    }
  }
}

BOOST_AUTO_TEST_CASE(values_at_a_chosen_point) {
  // The matrix result, element by element, read back as a transformed parameter.
  Vec theta{-2.5, -0.5, 0.75, 1.5, 2.0, -1.25};  // matrix[2, 3], column-major
  for (const Activation& act : activations()) {
    BOOST_TEST_CONTEXT(act.name) {
      auto m = make_model("parameters { matrix[2, 3] a; }\ntransformed parameters { matrix[2, 3] b = " + act.name +
                          "(a); }\nmodel { }");
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 3; ++c) {
          std::string name = "b." + std::to_string(r + 1) + "." + std::to_string(c + 1);
          double x = theta[static_cast<size_t>(c * 2 + r)];
          BOOST_TEST(close_rel(output(*m, theta, name), act.f(x), 1e-15), name << " at x = " << x);
        }
    }
  }
}

BOOST_AUTO_TEST_CASE(int_arguments_promote) {
  auto m = make_model(
      "parameters { real x; }\nmodel { target += x * (relu(-2) + relu(3) + sigmoid(0) + softplus(0) + elu(-1) + elu(2)); }");
  double want = 0 + 3 + 0.5 + std::log(2.0) + std::expm1(-1.0) + 2;
  BOOST_TEST(close(lp(*m, {1.0}), want, 1e-15));
}

BOOST_AUTO_TEST_CASE(derivatives_at_the_kinks) {
  // relu'(0) = 0 (PyTorch's choice); elu is smooth at 0 (alpha = 1): elu'(0) = 1.
  struct Case {
    std::string expr;
    double value, derivative;
  };
  for (const Case& c : std::vector<Case>{{"relu(x)", 0, 0}, {"elu(x)", 0, 1}, {"sum(relu(rep_vector(x, 3)))", 0, 0},
                                         {"sum(elu(rep_row_vector(x, 2)))", 0, 2}}) {
    BOOST_TEST_CONTEXT(c.expr) {
      auto m = make_model("parameters { real x; } model { target += " + c.expr + "; }");
      double v = 1;
      Vec g = gradient(*m, {0.0}, true, &v);
      BOOST_TEST(v == c.value);
      BOOST_TEST(g[0] == c.derivative);
    }
  }
}

BOOST_AUTO_TEST_CASE(extreme_arguments) {
  // No overflow in values, no NaN in gradients (the branch not taken never meets inf * 0).
  struct Case {
    std::string fn;
    double x, value, derivative;
  };
  for (const Case& c : std::vector<Case>{{"relu", 1000, 1000, 1},
                                         {"relu", -1000, 0, 0},
                                         {"elu", 1000, 1000, 1},
                                         {"elu", -1000, -1, 0},
                                         {"sigmoid", 1000, 1, 0},
                                         {"sigmoid", -1000, 0, 0},
                                         {"softplus", 800, 800, 1},
                                         {"softplus", -800, 0, 0},
                                         {"tanh", 1000, 1, 0},
                                         {"tanh", -1000, -1, 0}}) {
    BOOST_TEST_CONTEXT(c.fn << "(" << c.x << ")") {
      for (const std::string& model :
           {"parameters { real x; } model { target += " + c.fn + "(x); }",
            "parameters { vector[2] x; } model { target += sum(" + c.fn + "(x)); }",
            "parameters { matrix[2, 2] x; } model { target += sum(" + c.fn + "(x)); }"}) {
        auto m = make_model(model);
        size_t n = static_cast<size_t>(m->num_unconstrained());
        Vec theta(n, c.x);
        double v = 0;
        Vec g = gradient(*m, theta, true, &v);
        BOOST_TEST(close_rel(v, c.value * static_cast<double>(n), 1e-15), model << ": " << v);
        for (double gi : g) BOOST_TEST(gi == c.derivative, model << ": gradient " << gi);
      }
    }
  }
  // Moderately large negative arguments keep their relative accuracy.
  auto m = make_model("parameters { real x; } model { target += log(softplus(x)) + log(sigmoid(x)); }");
  BOOST_TEST(close_rel(lp(*m, {-30}), std::log(std::log1p(std::exp(-30.0))) + std::log(sigmoid(-30)), 1e-13));
}

BOOST_AUTO_TEST_CASE(inside_a_loop_and_composed) {
  // A two-layer network on one parameter vector: the activations compose and nest in loops.
  std::string model =
      "data { matrix[3, 4] W; vector[3] w; }\n"
      "parameters { vector[4] z; }\n"
      "model {\n"
      "  vector[3] h = elu(W * relu(z) + W * sigmoid(z));\n"
      "  target += dot_product(w, softplus(h)) + sum(tanh(z));\n"
      "  for (k in 1:2) target += sum(relu(z * k)) + sum(log_softmax(z * k));\n"
      "}\n";
  std::string data = "{\"W\": [[0.5, -0.25, 0.75, 0.1], [-0.6, 0.3, 0.2, -0.4], [0.15, 0.45, -0.35, 0.55]],"
                     " \"w\": [0.7, -0.3, 1.1]}";
  double W[3][4] = {{0.5, -0.25, 0.75, 0.1}, {-0.6, 0.3, 0.2, -0.4}, {0.15, 0.45, -0.35, 0.55}};
  double w[3] = {0.7, -0.3, 1.1};
  check_points("two-layer network", model, data, 4, [&](const Vec& z) {
    double total = 0;
    for (int r = 0; r < 3; ++r) {
      double h = 0;
      for (int c = 0; c < 4; ++c) h += W[r][c] * (std::max(z[static_cast<size_t>(c)], 0.0) + sigmoid(z[static_cast<size_t>(c)]));
      double e = h > 0 ? h : std::expm1(h);
      total += w[r] * std::log1p(std::exp(e));
    }
    for (double x : z) total += std::tanh(x);
    for (int k = 1; k <= 2; ++k) {
      Vec zk(z);
      for (double& x : zk) x *= k;
      Vec l = log_softmax_rows(zk, 1, 4);
      for (size_t i = 0; i < 4; ++i) total += std::max(zk[i], 0.0) + l[i];
    }
    return total;
  });
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// log_softmax and softmax
// ============================================================================================

BOOST_AUTO_TEST_SUITE(softmax)

BOOST_AUTO_TEST_CASE(log_softmax_every_shape) {
  for (const Shape& s : {kVector, kRowVector, kMatrix}) {
    auto ref = [s](const Vec& t) {
      Vec l = log_softmax_rows(t, softmax_rows(s), softmax_cols(s));
      double total = 0;
      for (int64_t r = 0; r < s.rows; ++r)
        for (int64_t c = 0; c < s.cols; ++c) total += l[at(s, r, c)] * weight(r, c);
      return total;
    };
    check_points("log_softmax(" + s.label + ")", weighted_model(s, "log_softmax"), weights_json(s),
                 static_cast<size_t>(s.size()), ref, [s](const Vec& t) { return log_softmax_weighted_gradient(s, t); });
  }
}

BOOST_AUTO_TEST_CASE(softmax_every_shape) {
  for (const Shape& s : {kVector, kRowVector, kMatrix}) {
    auto ref = [s](const Vec& t) {
      Vec l = log_softmax_rows(t, softmax_rows(s), softmax_cols(s));
      double total = 0;
      for (int64_t r = 0; r < s.rows; ++r)
        for (int64_t c = 0; c < s.cols; ++c) total += std::exp(l[at(s, r, c)]) * weight(r, c);
      return total;
    };
    check_points("softmax(" + s.label + ")", weighted_model(s, "softmax"), weights_json(s),
                 static_cast<size_t>(s.size()), ref);
  }
}

BOOST_AUTO_TEST_CASE(vector_is_stans_log_softmax) {
  // Stan: log_softmax(v) = v - log_sum_exp(v), softmax(v) = exp(v) / sum(exp(v)).
  auto a = make_model("parameters { vector[5] v; } model { target += sum(square(log_softmax(v) - (v - log_sum_exp(v)))); }");
  auto b = make_model("parameters { vector[5] v; } model { target += sum(square(softmax(v) - exp(v) / sum(exp(v)))); }");
  std::mt19937_64 rng(3);
  for (int k = 0; k < 3; ++k) {
    Vec t = point(rng, 5);
    BOOST_TEST(std::fabs(lp(*a, t)) < 1e-28);
    BOOST_TEST(std::fabs(lp(*b, t)) < 1e-28);
  }
}

BOOST_AUTO_TEST_CASE(matrix_rows_are_distributions) {
  // Row-wise: each row of softmax(a) sums to 1, exp(log_softmax(a)) = softmax(a), values match the reference.
  auto m = make_model(
      "parameters { matrix[3, 4] a; }\n"
      "transformed parameters { matrix[3, 4] l = log_softmax(a); matrix[3, 4] p = softmax(a); }\n"
      "model { }");
  std::mt19937_64 rng(11);
  for (int k = 0; k < 3; ++k) {
    Vec theta = point(rng, 12);
    Vec want = log_softmax_rows(theta, 3, 4);
    for (int r = 1; r <= 3; ++r) {
      double total = 0, total_p = 0;
      for (int c = 1; c <= 4; ++c) {
        std::string idx = "." + std::to_string(r) + "." + std::to_string(c);
        double l = output(*m, theta, "l" + idx), p = output(*m, theta, "p" + idx);
        BOOST_TEST(close(l, want[static_cast<size_t>((c - 1) * 3 + (r - 1))], 1e-14), "l" << idx);
        BOOST_TEST(close_rel(p, std::exp(l), 1e-14), "p" << idx);
        total += std::exp(l);
        total_p += p;
      }
      BOOST_TEST(close(total, 1.0, 1e-14), "row " << r << ": sum of exp(log_softmax) = " << total);
      BOOST_TEST(close(total_p, 1.0, 1e-14), "row " << r << ": sum of softmax = " << total_p);
    }
  }
}

BOOST_AUTO_TEST_CASE(large_logits_are_stable) {
  // Logits of +-1000 (exp overflows, naive log_softmax gives NaN): finite values, exact gradients.
  Vec theta(12);
  double rows[3][4] = {{1000, 999, -1000, 0}, {-1000, -1001, -999.5, -1000}, {1000, -1000, 1000, 500}};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) theta[static_cast<size_t>(c * 3 + r)] = rows[r][c];
  Vec want = log_softmax_rows(theta, 3, 4);
  auto m = make_model(weighted_model(kMatrix, "log_softmax"), weights_json(kMatrix));
  double v = 0;
  Vec g = gradient(*m, theta, true, &v);
  double ref = 0;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) ref += want[at(kMatrix, r, c)] * weight(r, c);
  BOOST_TEST(std::isfinite(v));
  BOOST_TEST(close_rel(v, ref, 1e-13), v << " vs " << ref);
  Vec exact = log_softmax_weighted_gradient(kMatrix, theta);
  for (size_t i = 0; i < g.size(); ++i) BOOST_TEST(close(g[i], exact[i], 1e-13), "d/da[" << i << "]: " << g[i] << " vs " << exact[i]);
  check_gradient(*m, theta, true, 1e-6, "log_softmax(matrix) at +-1000");
  // Spot values: row 1 is (0, -1, -2000, -1000) - log1p(exp(-1)) in the limit.
  BOOST_TEST(close_rel(want[at(kMatrix, 0, 0)], -std::log1p(std::exp(-1.0)), 1e-15));
  auto t = make_model("parameters { matrix[3, 4] a; }\ntransformed parameters { matrix[3, 4] l = log_softmax(a); "
                      "matrix[3, 4] p = softmax(a); }\nmodel { }");
  for (int r = 1; r <= 3; ++r) {
    double total = 0;
    for (int c = 1; c <= 4; ++c) {
      std::string idx = "." + std::to_string(r) + "." + std::to_string(c);
      double l = output(*t, theta, "l" + idx);
      BOOST_TEST(close(l, want[static_cast<size_t>((c - 1) * 3 + (r - 1))], 1e-13), "l" << idx << " = " << l);
      total += output(*t, theta, "p" + idx);
    }
    BOOST_TEST(close(total, 1.0, 1e-14), "row " << r << " sums to " << total);
  }
  // Vectors too.
  auto vm = make_model(weighted_model(kVector, "log_softmax"), weights_json(kVector));
  Vec tv{1000, -1000, 999};
  Vec vg = gradient(*vm, tv, true, &v);
  Vec lv = log_softmax_rows(tv, 1, 3);
  BOOST_TEST(close_rel(v, lv[0] * weight(0, 0) + lv[1] * weight(1, 0) + lv[2] * weight(2, 0), 1e-13));
  Vec ev = log_softmax_weighted_gradient(kVector, tv);
  for (size_t i = 0; i < 3; ++i) BOOST_TEST(close(vg[i], ev[i], 1e-13), "d/dv[" << i << "]");
}

BOOST_AUTO_TEST_CASE(shift_invariance_of_each_row) {
  // Adding a constant to one row leaves log_softmax unchanged (and the gradient of a row sums to 0
  // when the weights are equal): the shift is exact, not approximate.
  auto m = make_model(
      "data { matrix[2, 3] W; } parameters { matrix[2, 3] a; }\n"
      "model { target += sum(log_softmax(a) .* W); }",
      "{\"W\": [[1, 1, 1], [0.5, -2, 0.25]]}");
  Vec theta{0.3, -1.2, 2.0, 0.4, -0.7, 1.1}, shifted = theta;
  for (size_t c = 0; c < 3; ++c) shifted[c * 2] += 37.5;  // row 1
  double v1 = 0, v2 = 0;
  Vec g1 = gradient(*m, theta, true, &v1), g2 = gradient(*m, shifted, true, &v2);
  BOOST_TEST(close(v1, v2, 1e-13));
  for (size_t i = 0; i < 6; ++i) BOOST_TEST(close(g1[i], g2[i], 1e-13));
  BOOST_TEST(std::fabs(g1[0] + g1[2] + g1[4]) < 1e-14);  // row 1: weights all 1, d/da sums to 0
}

BOOST_AUTO_TEST_CASE(empty_arguments) {
  std::string msg = user_error([] { make_model("parameters { vector[0] v; real x; } model { target += sum(log_softmax(v)) + x; }"); });
  BOOST_TEST(contains(msg, "log_softmax"), msg);
  BOOST_TEST(contains(msg, "size 0"), msg);
  BOOST_TEST(contains(msg, "test.lat:1:"), msg);
  std::string msg2 = user_error([] { make_model("parameters { matrix[2, 0] a; real x; } model { target += sum(softmax(a)) + x; }"); });
  BOOST_TEST(contains(msg2, "softmax"), msg2);
  // A batch of no rows is fine.
  auto m = make_model("parameters { matrix[0, 3] a; real x; } model { target += sum(log_softmax(a)) - x * x; }");
  BOOST_TEST(close(lp(*m, {0.5}), -0.25, 1e-15));
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Type errors: the checker's message at file:line:col
// ============================================================================================

BOOST_AUTO_TEST_SUITE(types)

BOOST_AUTO_TEST_CASE(wrong_argument_types) {
  struct Case {
    std::string call, decl;
  };
  for (const Case& c : std::vector<Case>{{"relu(k)", "array[3] int k;"},
                                         {"sigmoid(k)", "array[3] int k;"},
                                         {"softplus(k)", "array[2] real k;"},
                                         {"elu(k, k)", "real k;"},
                                         {"relu()", "real k;"},
                                         {"log_softmax(k)", "real k;"},
                                         {"softmax(k)", "array[3] real k;"},
                                         {"log_softmax(k)", "array[3] int k;"}}) {
    std::string fn = c.call.substr(0, c.call.find('('));
    BOOST_TEST_CONTEXT(c.call << " with " << c.decl) {
      std::string msg = checked_error("data { " + c.decl + " }\nparameters { real y; }\nmodel {\n  target += sum(" + c.call +
                                      ") + y;\n}\n");
      BOOST_TEST(contains(msg, "test.lat:4:"), msg);
      BOOST_TEST(contains(msg, fn), msg);
      BOOST_TEST(contains(msg, "no matching signature"), msg);
    }
  }
  // The result type is the argument's: a matrix is not a vector.
  std::string msg = checked_error("parameters { matrix[2, 2] a; }\nmodel {\n  vector[4] b = relu(a);\n}\n");
  BOOST_TEST(contains(msg, "test.lat:3:"), msg);
}

BOOST_AUTO_TEST_CASE(well_typed_calls_check) {
  for (const std::string& e : {"relu(y)", "sigmoid(v)", "softplus(r)", "elu(m)", "tanh(m)", "tanh(r)",
                               "log_softmax(v)", "log_softmax(r)", "log_softmax(m)", "softmax(v)", "softmax(m)"}) {
    BOOST_TEST_CONTEXT(e) {
      auto src = std::make_shared<SourceFile>(SourceFile{
          "test.lat", "parameters { real y; vector[2] v; row_vector[2] r; matrix[2, 2] m; }\nmodel { target += sum(" + e +
                          "); }\n"});
      auto prog = parse_program(src);
      BOOST_CHECK_NO_THROW(check_program(*prog));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
