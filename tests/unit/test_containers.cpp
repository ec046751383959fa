// Building and taking apart containers (stdlib/containers.cpp): each function's
// values against the element order Stan defines (on data, through generated
// quantities), its gradient against finite differences (on parameters), and its
// errors (sizes known at compile time, indices checked at run time).
#define BOOST_TEST_MODULE containers
#include "tests/support/model_fixture.hpp"

#include <map>

using namespace latent;
using namespace latent::testing;

namespace {

using Vec = std::vector<double>;

// The generated quantities `names` of `model` (one parameter `dummy`, at 0).
Vec outputs(const std::string& model, const std::string& data, const std::vector<std::string>& names) {
  std::unique_ptr<BoundModel> m = make_model(model, data);
  Vec theta(static_cast<size_t>(m->num_unconstrained()), 0.0);
  Vec got;
  for (const std::string& n : names) got.push_back(output(*m, theta, n));
  return got;
}

std::vector<std::string> columns(const std::string& name, int n) {
  std::vector<std::string> c;
  for (int i = 1; i <= n; ++i) c.push_back(name + "." + std::to_string(i));
  return c;
}

// Matrix columns in CmdStan's order (column-major): name.1.1, name.2.1, ...
std::vector<std::string> matrix_columns(const std::string& name, int rows, int cols) {
  std::vector<std::string> c;
  for (int j = 1; j <= cols; ++j)
    for (int i = 1; i <= rows; ++i) c.push_back(name + "." + std::to_string(i) + "." + std::to_string(j));
  return c;
}

void expect_values(const Vec& got, const Vec& want, const std::string& what) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_TEST(got.size() == want.size());
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i)
      BOOST_TEST(got[i] == want[i], "element " << i + 1 << ": " << got[i] << ", expected " << want[i]);
  }
}

const std::string kData = R"({"a": [1, 2, 3], "b": [4, 5],
  "m": [[11, 12, 13], [21, 22, 23]], "arr": [[1, 2], [3, 4], [5, 6]], "k": 2})";
const std::string kDecls =
    "data { vector[3] a; vector[2] b; matrix[2, 3] m; array[3, 2] real arr; int k; }\n"
    "parameters { real dummy; } model { dummy ~ normal(0, 1); }\n";

}  // namespace

BOOST_AUTO_TEST_CASE(append_row_and_append_col_values) {
  std::string model = kDecls +
                      "generated quantities {\n"
                      "  vector[5] ab = append_row(a, b);\n"
                      "  vector[4] xb = append_row(-1, append_row(b, 7));\n"
                      "  matrix[3, 3] mr = append_row(m, [31, 32, 33]);\n"
                      "  matrix[2, 4] mc = append_col(m, b);\n"
                      "  matrix[2, 2] bb = append_col(b, b);\n"
                      "  row_vector[4] rv = append_col(9, append_col(b', 8));\n"
                      "}\n";
  expect_values(outputs(model, kData, columns("ab", 5)), {1, 2, 3, 4, 5}, "append_row(vector, vector)");
  expect_values(outputs(model, kData, columns("xb", 4)), {-1, 4, 5, 7}, "append_row with reals");
  expect_values(outputs(model, kData, matrix_columns("mr", 3, 3)), {11, 21, 31, 12, 22, 32, 13, 23, 33},
                "append_row(matrix, row_vector)");
  expect_values(outputs(model, kData, matrix_columns("mc", 2, 4)), {11, 21, 12, 22, 13, 23, 4, 5},
                "append_col(matrix, vector)");
  expect_values(outputs(model, kData, matrix_columns("bb", 2, 2)), {4, 5, 4, 5}, "append_col(vector, vector)");
  expect_values(outputs(model, kData, columns("rv", 4)), {9, 4, 5, 8}, "append_col with reals");
}

BOOST_AUTO_TEST_CASE(slices_values) {
  std::string model = kDecls +
                      "generated quantities {\n"
                      "  vector[2] h = head(a, 2);\n"
                      "  vector[2] t = tail(a, 2);\n"
                      "  vector[2] s = segment(a, k, 2);\n"
                      "  array[2] real ha = to_array_1d(head(arr, 2)[2]);\n"
                      "  array[2, 2] real ta = tail(arr, 2);\n"
                      "  matrix[2, 2] bl = block(m, 1, 2, 2, 2);\n"
                      "  vector[2] c = col(m, 3);\n"
                      "  row_vector[3] r = row(m, 2);\n"
                      "  vector[1] sc = sub_col(m, 2, 1, 1);\n"
                      "  row_vector[2] sr = sub_row(m, 1, k, 2);\n"
                      "  vector[0] empty = head(a, 0);\n"
                      "}\n";
  expect_values(outputs(model, kData, columns("h", 2)), {1, 2}, "head");
  expect_values(outputs(model, kData, columns("t", 2)), {2, 3}, "tail");
  expect_values(outputs(model, kData, columns("s", 2)), {2, 3}, "segment with a data start");
  expect_values(outputs(model, kData, columns("ha", 2)), {3, 4}, "head of a 2-D array keeps rows");
  expect_values(outputs(model, kData, matrix_columns("ta", 2, 2)), {3, 5, 4, 6}, "tail of a 2-D array");
  expect_values(outputs(model, kData, matrix_columns("bl", 2, 2)), {12, 22, 13, 23}, "block");
  expect_values(outputs(model, kData, columns("c", 2)), {13, 23}, "col");
  expect_values(outputs(model, kData, columns("r", 3)), {21, 22, 23}, "row");
  expect_values(outputs(model, kData, columns("sc", 1)), {21}, "sub_col");
  expect_values(outputs(model, kData, columns("sr", 2)), {12, 13}, "sub_row");
}

BOOST_AUTO_TEST_CASE(cumulative_sum_and_to_array_1d_values) {
  std::string model = kDecls +
                      "generated quantities {\n"
                      "  vector[3] cs = cumulative_sum(a);\n"
                      "  row_vector[2] csr = cumulative_sum(b');\n"
                      "  array[3] int csi = cumulative_sum({1, 2, 3});\n"
                      "  array[6] real fm = to_array_1d(m);\n"
                      "  array[6] real fa = to_array_1d(arr);\n"
                      "}\n";
  expect_values(outputs(model, kData, columns("cs", 3)), {1, 3, 6}, "cumulative_sum(vector)");
  expect_values(outputs(model, kData, columns("csr", 2)), {4, 9}, "cumulative_sum(row_vector)");
  expect_values(outputs(model, kData, columns("csi", 3)), {1, 3, 6}, "cumulative_sum(array[] int)");
  // Stan: a matrix in column-major order, an array in row-major order.
  expect_values(outputs(model, kData, columns("fm", 6)), {11, 21, 12, 22, 13, 23}, "to_array_1d(matrix)");
  expect_values(outputs(model, kData, columns("fa", 6)), {1, 2, 3, 4, 5, 6}, "to_array_1d(array[,] real)");
}

BOOST_AUTO_TEST_CASE(autoregressive_masks_follow_the_degrees) {
  // MADE's rule: unit j reads unit i when from[i] <= to[j] (hidden layers),
  // from[i] < to[j] into the outputs. Degrees in an order that is not sorted.
  std::string model = kDecls +
                      "generated quantities {\n"
                      "  matrix[3, 2] hidden = autoregressive_mask({2, 1, 3}, {1, 2});\n"
                      "  matrix[2, 3] out = autoregressive_output_mask({1, 2}, {2, 1, 3});\n"
                      "  matrix[0, 2] none = autoregressive_mask(rep_array(1, 0), {1, 2});\n"
                      "}\n";
  // hidden[i, j] = from[i] <= to[j]; listed column by column.
  expect_values(outputs(model, kData, matrix_columns("hidden", 3, 2)), {0, 1, 0, 1, 1, 0}, "autoregressive_mask");
  // out[i, j] = from[i] < to[j], from = {1, 2}, to = {2, 1, 3}.
  expect_values(outputs(model, kData, matrix_columns("out", 2, 3)), {1, 0, 0, 0, 1, 1}, "autoregressive_output_mask");
  BOOST_TEST(contains(error_of([&] { make_model(kDecls + "generated quantities { matrix[2, 2] w = "
                                               "autoregressive_mask({1.5, 2}, {1, 2}); }", kData); }),
                      "autoregressive_mask"));
}

BOOST_AUTO_TEST_CASE(gradients_against_finite_differences) {
  // Every function on parameters, each element weighted differently so that a
  // misplaced element changes the value.
  std::string model =
      "data { int k; }\n"
      "parameters { vector[3] a; vector[2] b; matrix[2, 3] m; array[3] real r; }\n"
      "model {\n"
      "  vector[5] w = [1.5, -0.5, 2, 0.25, -1.25]';\n"
      "  target += dot_product(append_row(a, b), w);\n"
      "  target += sum(append_col(m, b) .* [[1, 2, 3, 4], [-1, 0.5, 2, 3]]);\n"
      "  target += sum(append_row(m, a') .* [[1, 2, 3], [-1, 0.5, 2], [0.3, 0.7, -2]]);\n"
      "  target += sum(square(head(a, 2))) + sum(exp(tail(a, 2))) + segment(a, k, 2)[1] * segment(a, k, 2)[2];\n"
      "  target += sum(block(m, 1, k, 2, 2) .* [[1, -2], [3, 0.5]]);\n"
      "  target += dot_product(col(m, k), b) + sum(row(m, 2) .* [1, 2, 3]) + sub_col(m, 2, 3, 1)[1] * 4;\n"
      "  target += sum(sub_row(m, 1, 2, 2) .* [2, -3]);\n"
      "  target += sum(cumulative_sum(a) .* [1, -2, 0.5]') + sum(cumulative_sum(r));\n"
      "  target += sum(to_array_1d(m)) + 0.1 * sum(square(to_vector(to_array_1d(m))));\n"
      "  target += sum(square(to_vector(head(r, 2))));\n"
      "}\n";
  std::unique_ptr<BoundModel> m = make_model(model, R"({"k": 2})");
  BOOST_TEST(m->num_unconstrained() == 14);
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 3; ++trial) check_gradient(*m, random_theta(rng, 14), true, 1e-6, "containers");
}

BOOST_AUTO_TEST_CASE(gradient_value_against_a_closed_form) {
  // target = sum of cumulative sums = 3 a1 + 2 a2 + a3; and a tail/head product.
  std::unique_ptr<BoundModel> m =
      make_model("parameters { vector[3] a; } model { target += sum(cumulative_sum(a)) + head(a, 1)[1] * tail(a, 1)[1]; }");
  Vec theta{0.5, -1.0, 2.0};
  double value = 0;
  Vec g = gradient(*m, theta, true, &value);
  BOOST_TEST(close(value, 3 * 0.5 + 2 * -1.0 + 2.0 + 0.5 * 2.0, 1e-12));
  BOOST_TEST(close(g[0], 3 + 2.0, 1e-12));
  BOOST_TEST(close(g[1], 2, 1e-12));
  BOOST_TEST(close(g[2], 1 + 0.5, 1e-12));
}

BOOST_AUTO_TEST_CASE(errors) {
  auto compile_error = [](const std::string& body, const std::string& data = "{}") {
    return error_of([&] { make_model("data { vector[3] a; matrix[2, 3] m; int k; } parameters { real x; } model { " +
                                     body + " }", data.empty() ? "{}" : data); });
  };
  const std::string data = R"({"a": [1, 2, 3], "m": [[1, 2, 3], [4, 5, 6]], "k": 3})";
  BOOST_TEST(contains(compile_error("target += sum(head(a, 4));", data), "4 elements asked for, but the container has 3"));
  BOOST_TEST(contains(compile_error("target += sum(append_col(m, a));", data), "the arguments have 2 and 3 rows"));
  BOOST_TEST(contains(compile_error("target += sum(append_row(m, [1, 2]));", data), "the arguments have 3 and 2 columns"));
  BOOST_TEST(contains(compile_error("target += sum(head(a, x));", data), "head"));
  // A start known from the data, out of range: an error naming the function.
  BOOST_TEST(contains(compile_error("target += x * sum(segment(a, k, 2));", data), "segment"));
  BOOST_TEST(contains(compile_error("target += x * sum(col(m, k + 1));", data), "col: index out of range"));
}

BOOST_AUTO_TEST_CASE(assignment_to_slices) {
  // x[a:b] = v replaces those elements and keeps the others; gradients flow to v only there.
  std::string model = R"(
data { vector[2] d; }
parameters { vector[2] a; real b; }
transformed parameters {
  vector[5] x = rep_vector(0, 5);
  matrix[3, 2] m = rep_matrix(1, 3, 2);
  array[4] real r = {1.0, 2.0, 3.0, 4.0};
  x[2:3] = a;
  x[4:5] = d * b;
  m[2:3] = [[a[1], a[2]], [b, b]];
  r[3:] = {b, b * 2};
  r[:1] = {-1.0};
}
model { target += dot_product(x, [1, 2, 3, 4, 5]') + sum(m .* [[1, 2], [3, 4], [5, 6]]) + sum(square(to_vector(r))); }
)";
  std::unique_ptr<BoundModel> m = make_model(model, R"({"d": [10, 20]})");
  Vec theta{0.5, -1.5, 2};
  Vec want_x{0, 0.5, -1.5, 20, 40};
  for (int i = 0; i < 5; ++i) BOOST_TEST(output(*m, theta, "x." + std::to_string(i + 1)) == want_x[i]);
  BOOST_TEST(output(*m, theta, "m.1.1") == 1);
  BOOST_TEST(output(*m, theta, "m.2.1") == 0.5);
  BOOST_TEST(output(*m, theta, "m.2.2") == -1.5);
  BOOST_TEST(output(*m, theta, "m.3.2") == 2);
  Vec want_r{-1, 2, 2, 4};
  for (int i = 0; i < 4; ++i) BOOST_TEST(output(*m, theta, "r." + std::to_string(i + 1)) == want_r[i]);
  std::mt19937_64 rng(8);
  for (int k = 0; k < 3; ++k) check_gradient(*m, random_theta(rng, 3), true, 1e-6, "slice assignment");
  std::string msg = error_of([] {
    make_model("parameters { vector[3] a; } transformed parameters { vector[4] x = rep_vector(0, 4); x[2:4] = a[1:2]; } model { }");
  });
  BOOST_TEST(contains(msg, "size mismatch: the assigned slice has size vector[3] but the value has size vector[2]"), msg);
  msg = error_of([] {
    make_model("parameters { vector[2] a; } transformed parameters { vector[4] x = rep_vector(0, 4); x[4:5] = a; } model { }");
  });
  BOOST_TEST(contains(msg, "slice 4:5 out of range; expecting 1..4"), msg);
}

BOOST_AUTO_TEST_CASE(assignment_to_a_slice_followed_by_indexes) {
  // x[a:b, j] = v: each position p of the slice gets v[p] at the remaining indexes
  // (posteriordb's Mth model: logit_p[:, j] = mean_lp[j] + eps; the covid models:
  // prediction[1:N0, m] = rep_vector(y[m], N0)).
  std::string model = R"(
parameters { vector[3] a; real b; }
transformed parameters {
  matrix[4, 3] m = rep_matrix(0, 4, 3);
  array[4] vector[2] v;
  array[3, 2] real r = {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}};
  for (i in 1:4) v[i] = rep_vector(i, 2);
  m[:, 2] = append_row(a, b);
  m[2:3, 3] = a[1:2] * b;
  m[1:2, 1:2] = [[b, -b], [a[3], 7]];
  v[2:4, 1] = to_array_1d(a);
  r[2:3, 2] = {b, b * b};
}
model { target += sum(m .* [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 1]]) + sum(v[3]) + sum(to_array_1d(r)); }
)";
  std::unique_ptr<BoundModel> m = make_model(model);
  Vec theta{0.5, -1.5, 2, 3};
  std::map<std::string, double> want{
      {"m.1.1", 3}, {"m.2.1", 2}, {"m.3.1", 0}, {"m.4.1", 0},      {"m.1.2", -3}, {"m.2.2", 7},
      {"m.3.2", 2}, {"m.4.2", 3}, {"m.1.3", 0}, {"m.2.3", 1.5},    {"m.3.3", -4.5}, {"m.4.3", 0},
      {"v.1.1", 1}, {"v.1.2", 1}, {"v.2.1", 0.5}, {"v.2.2", 2},    {"v.3.1", -1.5}, {"v.3.2", 3},
      {"v.4.1", 2}, {"v.4.2", 4}, {"r.1.2", 2}, {"r.2.2", 3},      {"r.3.2", 9},    {"r.3.1", 5}};
  for (auto& [name, value] : want) BOOST_TEST(output(*m, theta, name) == value, name);
  std::mt19937_64 rng(9);
  for (int k = 0; k < 3; ++k) check_gradient(*m, random_theta(rng, 4), true, 1e-6, "slice-then-index assignment");
  std::string msg = error_of([] {
    make_model("parameters { vector[3] a; } transformed parameters { matrix[4, 2] x = rep_matrix(0, 4, 2); "
               "x[1:2, 1] = a; } model { }");
  });
  BOOST_TEST(contains(msg, "size mismatch in assignment: the slice has 2 elements, the value 3"), msg);
}

BOOST_AUTO_TEST_CASE(dims_values) {
  // Stan's dims: array sizes outermost first, then rows and columns (a vector is n x 1).
  auto got = outputs(kDecls + R"(
generated quantities {
  array[2] int d_arr = dims(arr);
  array[2] int d_m = dims(m);
  array[2] int d_a = dims(a);
  array[2] int d_row = dims(a');
  array[3] int d_vectors = dims({a, a});
}
)",
                     kData, {"d_arr.1", "d_arr.2", "d_m.1", "d_m.2", "d_a.1", "d_a.2", "d_row.1", "d_row.2",
                             "d_vectors.1", "d_vectors.2", "d_vectors.3"});
  expect_values(got, {3, 2, 2, 3, 3, 1, 1, 3, 2, 3, 1}, "dims");
  std::unique_ptr<BoundModel> none = make_model(kDecls + "generated quantities { array[0] int d_k = dims(k); }", kData);
  for (const std::string& n : none->output_names()) BOOST_TEST(n.rfind("d_k", 0) != 0, n);  // dims of a scalar: empty
}
