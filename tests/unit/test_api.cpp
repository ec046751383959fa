// The public C++ API (include/latent/latent.hpp) against the internal BoundModel
// and the `latent` command line on the examples: log density and gradient, names,
// constrain / unconstrain, MAP, ADVI draws, errors, and use from several threads.
#define BOOST_TEST_MODULE api
#include "tests/support/model_fixture.hpp"

#include <latent/latent.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <numeric>
#include <thread>

using namespace latent::testing;
using Vec = std::vector<double>;

namespace {

std::string model_of(const std::string& example) { return example_dir(example) + "/model.lat"; }
std::string data_of(const std::string& example) { return example_dir(example) + "/data.json"; }

latent::Posterior bind_example(const std::string& example) {
  return latent::compile_file(model_of(example)).bind(latent::Data::from_json_file(data_of(example)));
}

// The latent::Error thrown by f (and a test failure when none is thrown).
template <class F>
latent::Error api_error(F&& f) {
  try {
    f();
  } catch (const latent::Error& e) {
    return e;
  } catch (const std::exception& e) {
    BOOST_ERROR("expected latent::Error, got another exception: " << e.what());
    return latent::Error(e.what(), latent::Error::Kind::internal);
  }
  BOOST_ERROR("expected latent::Error, nothing was thrown");
  return latent::Error("");
}

std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::istringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

std::pair<double, double> kidiq_ols() {
  auto data = nlohmann::json::parse(read_text(data_of("kidiq")));
  Vec x = data["mom_iq"].get<Vec>(), y = data["kid_score"].get<Vec>();
  const double n = static_cast<double>(x.size());
  double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
  return {my - sxy / sxx * mx, sxy / sxx};
}

const std::vector<std::string> kExamples{"eight_schools", "logistic", "kidiq", "linear_regression",
                                         "mixture", "ark", "garch"};

}  // namespace

// ============================================================================================
// log density and gradient
// ============================================================================================

BOOST_AUTO_TEST_CASE(log_prob_and_gradient_match_bound_model_on_every_example) {
  for (const std::string& name : kExamples) {
    BOOST_TEST_CONTEXT(name) {
      latent::Posterior post = bind_example(name);
      std::unique_ptr<latent::BoundModel> ref = load_example(name);
      BOOST_TEST(post.param_unc_num() == ref->num_unconstrained());
      std::mt19937_64 rng(7);
      for (int k = 0; k < 3; ++k) {
        Vec theta = random_theta(rng, static_cast<size_t>(ref->num_unconstrained()));
        for (bool jacobian : {true, false}) {
          double expected = 0;
          Vec g_expected = gradient(*ref, theta, jacobian, &expected);
          Vec g;
          double value = post.log_prob_grad(theta, g, jacobian);
          BOOST_TEST(close(value, expected, 1e-12), value << " vs " << expected);
          BOOST_TEST(close(post.log_prob(theta, jacobian), expected, 1e-12));
          BOOST_TEST(close(post.log_prob(theta.data(), jacobian), expected, 1e-12));
          BOOST_REQUIRE(g.size() == g_expected.size());
          for (size_t i = 0; i < g.size(); ++i) BOOST_TEST(close(g[i], g_expected[i], 1e-12), "d/dtheta[" << i << "]");
          Vec g2(theta.size());
          BOOST_TEST(close(post.log_prob_grad(theta.data(), g2.data(), jacobian), expected, 1e-12));
          BOOST_TEST(g2 == g, boost::test_tools::per_element());
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(gradient_matches_finite_differences) {
  latent::Posterior post = bind_example("eight_schools");
  std::unique_ptr<latent::BoundModel> ref = load_example("eight_schools");
  Vec theta = post.initial_point(3);
  Vec g;
  post.log_prob_grad(theta, g);
  Vec fd = fd_gradient(*ref, theta);
  for (size_t i = 0; i < g.size(); ++i) BOOST_TEST(close(g[i], fd[i], 1e-6), "d/dtheta[" << i << "]");
}

BOOST_AUTO_TEST_CASE(log_prob_matches_the_cli_grad_command) {
  TempDir dir;
  Vec theta{0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 4.5, std::log(2.5)};
  // The CLI evaluates at constrained values given by name (an init file).
  std::string init = dir.write(
      "init.json", "{\"theta_tilde\": [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8], \"mu\": 4.5, \"tau\": 2.5}");
  RunResult r = run_latent({"grad", model_of("eight_schools"), "--data", data_of("eight_schools"), "--at", init}, dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  latent::Posterior post = bind_example("eight_schools");
  Vec from_names = post.unconstrain(latent::Data::from_json_file(init));
  BOOST_REQUIRE(from_names.size() == theta.size());
  for (size_t i = 0; i < theta.size(); ++i) BOOST_TEST(close(from_names[i], theta[i], 1e-14));
  auto j = nlohmann::json::parse(r.out);
  Vec g;
  double lp = post.log_prob_grad(from_names, g);
  BOOST_TEST(close(j["log_density"].get<double>(), lp, 1e-12), r);
  BOOST_TEST(close(j["log_density_jacobian_false"].get<double>(), post.log_prob(from_names, false), 1e-12), r);
  Vec cli = j["gradient"].get<Vec>();
  BOOST_REQUIRE(cli.size() == g.size());
  for (size_t i = 0; i < g.size(); ++i) BOOST_TEST(close(cli[i], g[i], 1e-12));
}

// ============================================================================================
// names, variables, constrain / unconstrain
// ============================================================================================

BOOST_AUTO_TEST_CASE(names_and_variables_of_eight_schools) {
  latent::Posterior post = bind_example("eight_schools");
  std::vector<std::string> params, tp;
  for (int j = 1; j <= 8; ++j) params.push_back("theta_tilde." + std::to_string(j));
  params.push_back("mu");
  params.push_back("tau");
  for (int j = 1; j <= 8; ++j) tp.push_back("theta." + std::to_string(j));
  BOOST_TEST(post.param_names() == params, boost::test_tools::per_element());
  BOOST_TEST(post.transformed_param_names() == tp, boost::test_tools::per_element());
  BOOST_TEST(post.generated_quantity_names().empty());
  BOOST_TEST(post.param_num() == 10);
  BOOST_TEST(post.param_unc_num() == 10);
  BOOST_TEST(post.output_num() == 18);
  std::vector<std::string> all = params;
  all.insert(all.end(), tp.begin(), tp.end());
  BOOST_TEST(post.output_names() == all, boost::test_tools::per_element());
  BOOST_TEST(post.output_names() == load_example("eight_schools")->output_names(), boost::test_tools::per_element());
  BOOST_TEST(post.name() == model_of("eight_schools"));

  const auto& vars = post.variables();
  BOOST_REQUIRE(vars.size() == 4u);
  BOOST_TEST(vars[0].name == "theta_tilde");
  BOOST_TEST(vars[0].type == "vector");
  BOOST_TEST((vars[0].dims == std::vector<int64_t>{8}));
  BOOST_TEST(vars[0].constraint == "");
  BOOST_TEST(vars[0].unconstrained_offset == 0);
  BOOST_TEST(vars[0].unconstrained_size == 8);
  BOOST_TEST(vars[1].name == "mu");
  BOOST_TEST(vars[1].dims.empty());
  BOOST_TEST(vars[1].type == "real");
  BOOST_TEST(vars[1].column == 8);
  BOOST_TEST(vars[2].name == "tau");
  BOOST_TEST(vars[2].constraint == "lower=0");
  BOOST_TEST(vars[2].unconstrained_offset == 9);
  BOOST_TEST(vars[2].unconstrained_size == 1);
  BOOST_TEST((vars[3].kind == latent::Variable::Kind::transformed_parameter));
  BOOST_TEST(vars[3].name == "theta");
  BOOST_TEST((vars[3].dims == std::vector<int64_t>{8}));
  BOOST_TEST(vars[3].column == 10);
  BOOST_TEST(vars[3].size == 8);
}

BOOST_AUTO_TEST_CASE(names_of_arrays_matrices_and_generated_quantities) {
  const std::string model = R"(
data { int N; matrix[2, 3] X; }
parameters { array[2] vector<lower=0, upper=1>[3] p; simplex[3] s; }
transformed parameters { matrix[2, 3] Y = X; real total = sum(s); }
model { for (i in 1:2) p[i] ~ beta(2, 2); }
generated quantities { real x13 = X[1, 3]; array[N] real z; for (n in 1:N) z[n] = n; }
)";
  latent::Data data;
  data.set("N", 2).set("X", Vec{1, 2, 3, 4, 5, 6}, {2, 3});  // row-major: X[1, 3] = 3, X[2, 1] = 4
  latent::Posterior post = latent::compile_string(model, "shapes.lat").bind(data);
  BOOST_TEST(post.param_num() == 9);
  BOOST_TEST(post.param_unc_num() == 8);  // a simplex[3] has 2 free coordinates
  std::vector<std::string> params{"p.1.1", "p.2.1", "p.1.2", "p.2.2", "p.1.3", "p.2.3", "s.1", "s.2", "s.3"};
  BOOST_TEST(post.param_names() == params, boost::test_tools::per_element());
  std::vector<std::string> tp{"Y.1.1", "Y.2.1", "Y.1.2", "Y.2.2", "Y.1.3", "Y.2.3", "total"};
  BOOST_TEST(post.transformed_param_names() == tp, boost::test_tools::per_element());
  std::vector<std::string> gq{"x13", "z.1", "z.2"};
  BOOST_TEST(post.generated_quantity_names() == gq, boost::test_tools::per_element());
  const auto& vars = post.variables();
  BOOST_REQUIRE(vars.size() == 6u);
  BOOST_TEST((vars[0].dims == std::vector<int64_t>{2, 3}));
  BOOST_TEST(vars[0].constraint == "lower=0, upper=1");
  BOOST_TEST(vars[1].constraint == "simplex");
  BOOST_TEST(vars[1].unconstrained_size == 2);
  BOOST_TEST((vars[2].dims == std::vector<int64_t>{2, 3}));
  BOOST_TEST(vars[2].type == "matrix");
  BOOST_TEST((vars[5].kind == latent::Variable::Kind::generated_quantity));
  BOOST_TEST((vars[5].dims == std::vector<int64_t>{2}));

  Vec theta = post.initial_point(5);
  Vec out = post.constrain(theta);
  BOOST_REQUIRE(out.size() == 9u + 7u + 3u);
  // Y in CmdStan order (column-major): X[1,1], X[2,1], X[1,2], ...
  Vec Y(out.begin() + 9, out.begin() + 15);
  BOOST_TEST(Y == (Vec{1, 4, 2, 5, 3, 6}), boost::test_tools::per_element());
  BOOST_TEST(close(out[15], 1.0, 1e-12));  // the simplex sums to 1
  BOOST_TEST(out[16] == 3.0);              // x13
  BOOST_TEST(out[17] == 1.0);
  BOOST_TEST(out[18] == 2.0);
  BOOST_TEST(post.constrain(theta, false, false).size() == 9u);
  Vec params_gq = post.constrain(theta, false, true);
  BOOST_REQUIRE(params_gq.size() == 12u);
  BOOST_TEST(params_gq[9] == 3.0);

  // Round trip through the constrained values, flat (CmdStan order) and by name.
  Vec back = post.unconstrain(post.constrain(theta, false, false));
  BOOST_REQUIRE(back.size() == theta.size());
  for (size_t i = 0; i < theta.size(); ++i) BOOST_TEST(close(back[i], theta[i], 1e-10), "theta[" << i << "]");
  latent::Data by_name;
  Vec c = post.constrain(theta, false, false);
  // p as JSON nesting (row-major over {2, 3}): p[1] = {p.1.1, p.1.2, p.1.3}
  by_name.set("p", Vec{c[0], c[2], c[4], c[1], c[3], c[5]}, {2, 3}).set("s", Vec{c[6], c[7], c[8]});
  Vec back2 = post.unconstrain(by_name);
  for (size_t i = 0; i < theta.size(); ++i) BOOST_TEST(close(back2[i], theta[i], 1e-10), "theta[" << i << "]");
}

BOOST_AUTO_TEST_CASE(constrain_unconstrain_round_trip_on_every_example) {
  for (const std::string& name : kExamples) {
    BOOST_TEST_CONTEXT(name) {
      latent::Posterior post = bind_example(name);
      std::unique_ptr<latent::BoundModel> ref = load_example(name);
      std::mt19937_64 rng(11);
      Vec theta = random_theta(rng, static_cast<size_t>(post.param_unc_num()));
      Vec all = post.constrain(theta);
      Vec expected = ref->constrained_outputs(theta.data());
      BOOST_REQUIRE(all.size() == expected.size());
      for (size_t i = 0; i < all.size(); ++i) BOOST_TEST(close(all[i], expected[i], 1e-12), post.output_names()[i]);
      Vec params(all.begin(), all.begin() + post.param_num());
      Vec back = post.unconstrain(params);
      BOOST_REQUIRE(back.size() == theta.size());
      for (size_t i = 0; i < theta.size(); ++i) BOOST_TEST(close(back[i], theta[i], 1e-9), "theta[" << i << "]");
    }
  }
}

BOOST_AUTO_TEST_CASE(data_built_in_code_equals_json) {
  latent::Data d;
  d.set("J", 8)
      .set("y", Vec{28, 8, -3, 7, -1, 1, 18, 12})
      .set("sigma", std::vector<int>{15, 10, 16, 11, 9, 11, 10, 18}, {8});
  BOOST_TEST(d.has("J"));
  BOOST_TEST((d.dims("y") == std::vector<int64_t>{8}));
  BOOST_TEST(d.dims("J").empty());
  BOOST_TEST(d.values("sigma")[7] == 18.0);
  BOOST_TEST((d.names() == std::vector<std::string>{"J", "sigma", "y"}));
  latent::Data json = latent::Data::from_json_file(data_of("eight_schools"));
  BOOST_TEST(json.values("y") == d.values("y"), boost::test_tools::per_element());
  latent::Model model = latent::compile_file(model_of("eight_schools"));
  latent::Posterior a = model.bind(d), b = model.bind(json);
  Vec theta = a.initial_point(2);
  BOOST_TEST(a.log_prob(theta) == b.log_prob(theta));
  // copies are independent
  latent::Data e = d;
  e.set("J", 7);
  BOOST_TEST(d.values("J")[0] == 8.0);
  BOOST_TEST(e.values("J")[0] == 7.0);
  latent::Data s = latent::Data::from_json_string("{\"J\": 3, \"y\": [1, 2, 3], \"sigma\": [1, 1, 1]}", "inline.json");
  BOOST_TEST(s.source_name() == "inline.json");
  BOOST_TEST(model.bind(s).param_unc_num() == 5);
}

BOOST_AUTO_TEST_CASE(initial_points) {
  latent::Posterior post = bind_example("eight_schools");
  Vec a = post.initial_point(1), b = post.initial_point(1), c = post.initial_point(2);
  BOOST_TEST(a == b, boost::test_tools::per_element());
  BOOST_TEST(a != c);
  BOOST_TEST(std::isfinite(post.log_prob(a)));
  for (double x : a) BOOST_TEST((x >= -2 && x <= 2));
  latent::Data init;
  init.set("mu", 4.5).set("tau", 2.5);
  Vec d = post.initial_point(init, 3);
  BOOST_TEST(close(d[8], 4.5, 1e-15));
  BOOST_TEST(close(d[9], std::log(2.5), 1e-15));
}

// ============================================================================================
// fits
// ============================================================================================

BOOST_AUTO_TEST_CASE(optimize_kidiq_is_least_squares_and_matches_the_cli) {
  latent::Posterior post = bind_example("kidiq");
  latent::Estimate mode = post.optimize();
  auto [b1, b2] = kidiq_ols();
  BOOST_TEST(mode.converged, mode.message);
  BOOST_TEST(close_rel(mode["beta.1"], b1, 1e-3), mode["beta.1"] << " vs OLS " << b1);
  BOOST_TEST(close_rel(mode["beta.2"], b2, 1e-3), mode["beta.2"] << " vs OLS " << b2);
  BOOST_TEST(mode["sigma"] > 10);
  BOOST_TEST(mode["sigma"] < 30);
  BOOST_TEST(mode.variable("beta").size() == 2u);
  BOOST_TEST(mode.names == post.output_names(), boost::test_tools::per_element());
  BOOST_TEST(mode.unconstrained.size() == 3u);
  // lp is the log density without the Jacobian at the mode
  BOOST_TEST(close(mode.lp, post.log_prob(mode.unconstrained, false), 1e-12));

  TempDir dir;
  std::string js = dir.file("map.json");
  RunResult r = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--method", "map", "-q", "-o", js}, dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  auto j = nlohmann::json::parse(read_text(js));
  BOOST_TEST(close(j["lp__"].get<double>(), mode.lp, 1e-12));
  for (size_t k = 0; k < mode.names.size(); ++k)
    BOOST_TEST(close_rel(j["columns"][mode.names[k]].get<double>(), mode.values[k], 1e-12), mode.names[k]);
  BOOST_TEST(j["iterations"].get<int>() == mode.iterations);

  BOOST_TEST(api_error([&] { (void)mode["nope"]; }).what() == std::string("no column named 'nope'"));
}

BOOST_AUTO_TEST_CASE(optimize_options) {
  latent::Posterior post = bind_example("eight_schools");
  latent::OptimizeOptions o;
  o.iterations = 3;
  int calls = 0;
  o.progress = [&](int, double, double) { ++calls; };
  latent::Estimate e = post.optimize(o);
  BOOST_TEST(e.iterations <= 3);
  BOOST_TEST(calls >= 1);
  BOOST_TEST(e.status == "max_iterations");
  BOOST_TEST(!e.converged);
  latent::Estimate k = bind_example("kidiq").optimize({.iterations = 2000, .seed = 4, .jacobian = true});
  BOOST_TEST(k.converged);
}

BOOST_AUTO_TEST_CASE(fit_vi_draws_shape_names_and_cli_agreement) {
  latent::Posterior post = bind_example("kidiq");
  latent::VIFit fit = post.fit_vi({.method = latent::VIMethod::meanfield, .iterations = 2000, .seed = 1});
  BOOST_TEST((fit.method() == latent::VIMethod::meanfield));
  BOOST_TEST(std::isfinite(fit.elbo()));
  BOOST_TEST(fit.variational_parameters().size() == 6u);
  BOOST_TEST(fit.mean().size() == 3u);
  latent::Draws draws = fit.draws(200);
  BOOST_TEST(draws.num_draws() == 200u);
  BOOST_TEST(draws.num_columns() == 3u);
  BOOST_TEST(draws.values.size() == 600u);
  BOOST_TEST(draws.log_g.size() == 200u);
  BOOST_TEST((draws.names == std::vector<std::string>{"beta.1", "beta.2", "sigma"}), boost::test_tools::per_element());
  Vec sigma = draws.column("sigma");
  for (double s : sigma) BOOST_TEST(s > 0);
  BOOST_TEST(draws(5, draws.index("sigma")) == sigma[5]);
  // draws are deterministic in their seed
  latent::Draws again = fit.draws(200);
  BOOST_TEST(again.values == draws.values, boost::test_tools::per_element());
  BOOST_TEST(fit.draws(10, 99).values != fit.draws(10, 98).values);

  // The CLI with the same options writes the mean, then the same draws.
  TempDir dir;
  std::string csv = dir.file("advi.csv");
  RunResult r = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--method", "advi", "--iter", "2000",
                            "--seed", "1", "--draws", "20", "-q", "-o", csv},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  auto rows = csv_rows(read_text(csv));
  BOOST_REQUIRE(rows.size() == 22u);  // header, mean, 20 draws
  std::vector<std::string> header{"lp__", "log_p__", "log_g__", "beta.1", "beta.2", "sigma"};
  BOOST_TEST(rows[0] == header, boost::test_tools::per_element());
  Vec mean = post.constrain(fit.mean());
  for (size_t c = 0; c < 3; ++c) BOOST_TEST(close_rel(std::stod(rows[1][3 + c]), mean[c], 1e-12));
  for (size_t d = 0; d < 20; ++d) {
    BOOST_TEST(close(std::stod(rows[2 + d][1]), draws.log_p[d], 1e-10), "draw " << d);
    BOOST_TEST(close(std::stod(rows[2 + d][2]), draws.log_g[d], 1e-10), "draw " << d);
    for (size_t c = 0; c < 3; ++c) BOOST_TEST(close_rel(std::stod(rows[2 + d][3 + c]), draws(d, c), 1e-12));
  }
}

BOOST_AUTO_TEST_CASE(fit_vi_fullrank_eight_schools) {
  latent::Posterior post = bind_example("eight_schools");
  latent::VIFit fit = post.fit_vi({.method = latent::VIMethod::fullrank, .iterations = 1000, .seed = 2});
  BOOST_TEST((fit.method() == latent::VIMethod::fullrank));
  BOOST_TEST(fit.variational_parameters().size() == 10u + 55u);
  latent::Draws draws = fit.draws(50);
  BOOST_TEST(draws.num_draws() == 50u);
  BOOST_TEST(draws.names == post.output_names(), boost::test_tools::per_element());
  for (double t : draws.column("tau")) BOOST_TEST(t > 0);
  // theta = mu + tau * theta_tilde in every draw
  for (size_t d = 0; d < 50; ++d)
    BOOST_TEST(close(draws(d, draws.index("theta.3")),
                     draws(d, draws.index("mu")) + draws(d, draws.index("tau")) * draws(d, draws.index("theta_tilde.3")),
                     1e-12));
}

// ============================================================================================
// errors
// ============================================================================================

BOOST_AUTO_TEST_CASE(syntax_and_type_errors_carry_line_and_column) {
  latent::Error e = api_error([] {
    latent::compile_string("parameters {\n  real mu;\n}\nmodel {\n  mu ~ normal(0, 1)\n}\n", "bad.lat");
  });
  std::string msg = e.what();
  BOOST_TEST((e.kind() == latent::Error::Kind::user));
  BOOST_TEST(contains(msg, "bad.lat:"), msg);
  BOOST_TEST(contains(msg, "error"), msg);
  BOOST_TEST(msg.back() != '\n');
  // The same text as the CLI's `check` (which adds the final newline).
  TempDir dir;
  RunResult r = run_latent({"check", dir.write("bad.lat", "parameters {\n  real mu;\n}\nmodel {\n  mu ~ normal(0, 1)\n}\n")},
                           dir);
  BOOST_TEST(r.exit_code == 1, r);
  latent::Error from_file = api_error([&] { latent::compile_file(dir.file("bad.lat")); });
  BOOST_TEST(std::string(from_file.what()) + "\n" == r.err);

  latent::Error type = api_error([] {
    latent::compile_string("parameters {\n  real mu;\n}\nmodel {\n  mu ~ normal(undefined_thing, 1);\n}\n", "type.lat");
  });
  BOOST_TEST(contains(type.what(), "type.lat:5:"), type.what());

  latent::Error missing = api_error([] { latent::compile_file("/nonexistent/model.lat"); });
  BOOST_TEST(contains(missing.what(), "/nonexistent/model.lat"), missing.what());
}

BOOST_AUTO_TEST_CASE(data_errors) {
  latent::Model model = latent::compile_file(model_of("eight_schools"));
  latent::Data d;
  d.set("J", 8).set("y", Vec{28, 8, -3, 7, -1, 1, 18, 12});
  latent::Error e = api_error([&] { model.bind(d); });
  BOOST_TEST(contains(e.what(), "sigma"), e.what());
  BOOST_TEST(contains(e.what(), "missing"), e.what());
  d.set("sigma", Vec{15, 10, 16});
  latent::Error shape = api_error([&] { model.bind(d); });
  BOOST_TEST(contains(shape.what(), "sigma"), shape.what());
  d.set("sigma", Vec{15, 10, 16, 11, 9, 11, 10, -18});
  BOOST_TEST(contains(api_error([&] { model.bind(d); }).what(), "lower bound"));
  BOOST_TEST(contains(api_error([&] { model.bind(); }).what(), "'J'"));
  BOOST_TEST(contains(api_error([] { latent::Data::from_json_string("{\"a\": [1, 2", "broken.json"); }).what(),
                      "broken.json"));
  BOOST_TEST(contains(api_error([] { latent::Data::from_json_file("/nonexistent/d.json"); }).what(), "/nonexistent/d.json"));
  BOOST_TEST(contains(api_error([] { latent::Data().set("x", Vec{1, 2, 3}, {2, 2}); }).what(), "'x'"));
  BOOST_TEST(contains(api_error([] { (void)latent::Data().dims("x"); }).what(), "'x'"));
}

BOOST_AUTO_TEST_CASE(argument_errors) {
  latent::Posterior post = bind_example("eight_schools");
  Vec g;
  BOOST_TEST(contains(api_error([&] { post.log_prob(Vec{1, 2}); }).what(), "10"));
  BOOST_TEST(contains(api_error([&] { post.log_prob_grad(Vec(11), g); }).what(), "11"));
  BOOST_TEST(contains(api_error([&] { post.constrain(Vec(3)); }).what(), "3"));
  BOOST_TEST(contains(api_error([&] { post.unconstrain(Vec(3)); }).what(), "3"));
  Vec bad(10, 0.0);
  bad[9] = -1;  // tau < 0
  BOOST_TEST(contains(api_error([&] { post.unconstrain(bad); }).what(), "tau"));
  latent::Data partial;
  partial.set("mu", 1.0);
  BOOST_TEST(contains(api_error([&] { post.unconstrain(partial); }).what(), "theta_tilde"));
  latent::Posterior empty;
  BOOST_TEST(!empty.valid());
  BOOST_TEST(contains(api_error([&] { empty.log_prob(Vec{}); }).what(), "empty"));
  BOOST_TEST(contains(api_error([] { latent::Model().bind(); }).what(), "empty"));
  BOOST_TEST(contains(api_error([&] { post.fit_vi({.iterations = 0}); }).what(), "iterations"));
  latent::Posterior no_params = latent::compile_string("data { real x; }\n", "noparams.lat").bind(latent::Data().set("x", 1.0));
  BOOST_TEST(contains(api_error([&] { no_params.optimize(); }).what(), "no parameters"));
}

BOOST_AUTO_TEST_CASE(failed_checks_give_non_finite_values_and_a_diagnosis) {
  latent::Posterior post = latent::compile_string(
      "parameters {\n  real x;\n}\nmodel {\n  if (x > 0) reject(\"x is positive: \", x);\n  x ~ normal(0, 1);\n}\n",
      "reject.lat").bind();
  BOOST_TEST(std::isfinite(post.log_prob(Vec{-1})));
  BOOST_TEST(post.diagnose(Vec{-1}).empty());
  BOOST_TEST(!std::isfinite(post.log_prob(Vec{1})));
  std::string why = post.diagnose(Vec{1});
  BOOST_TEST(contains(why, "reject.lat:5:"), why);
  BOOST_TEST(contains(why, "x is positive"), why);
}

// ============================================================================================
// threads
// ============================================================================================

BOOST_AUTO_TEST_CASE(log_prob_grad_from_four_threads_matches_one_thread) {
  for (const std::string& name : {std::string("eight_schools"), std::string("garch")}) {
    BOOST_TEST_CONTEXT(name) {
      latent::Posterior post = bind_example(name);
      const size_t n = static_cast<size_t>(post.param_unc_num()), calls = 1000;
      std::mt19937_64 rng(3);
      std::vector<Vec> points(calls), expected_grad(calls);
      Vec expected(calls), expected_nojac(calls);
      for (size_t k = 0; k < calls; ++k) {
        points[k] = random_theta(rng, n);
        expected[k] = post.log_prob_grad(points[k], expected_grad[k]);
        expected_nojac[k] = post.log_prob(points[k], false);
      }
      std::atomic<int> mismatches{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
          Vec g;
          for (size_t i = 0; i < calls; ++i) {
            size_t k = (i + static_cast<size_t>(t) * 250) % calls;  // threads at different points
            double lp = post.log_prob_grad(points[k], g);
            if (!(lp == expected[k]) || g != expected_grad[k]) ++mismatches;
            if (!(post.log_prob(points[k], false) == expected_nojac[k])) ++mismatches;
          }
        });
      for (auto& th : threads) th.join();
      BOOST_TEST(mismatches.load() == 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(compile_bind_and_first_calls_from_several_threads) {
  // Concurrent compiles, binds and the first (lazily compiled) jacobian-free gradient.
  std::vector<latent::Posterior> posts(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      try {
        posts[static_cast<size_t>(t)] = bind_example(t % 2 ? "kidiq" : "eight_schools");
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(t)] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (auto& e : errors) BOOST_TEST(e.empty(), e);
  latent::Posterior shared = bind_example("kidiq");
  Vec theta{1, 0.5, 2};
  std::unique_ptr<latent::BoundModel> ref = load_example("kidiq");
  Vec g_ref;
  g_ref = gradient(*ref, theta, false);
  std::atomic<int> mismatches{0};
  threads.clear();
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      Vec g;
      shared.log_prob_grad(theta, g, false);
      if (g != g_ref) ++mismatches;
      Vec c = shared.constrain(theta);
      if (c.size() != 3) ++mismatches;
    });
  for (auto& th : threads) th.join();
  BOOST_TEST(mismatches.load() == 0);
  BOOST_TEST(posts[1].log_prob(theta) == shared.log_prob(theta));
}

BOOST_AUTO_TEST_CASE(one_model_bound_from_several_threads) {
  latent::Model model = latent::compile_file(model_of("eight_schools"));
  latent::Data data = latent::Data::from_json_file(data_of("eight_schools"));
  std::vector<latent::Posterior> posts(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t)
    threads.emplace_back([&, t] { posts[t] = model.bind(data, {.compile_all = t % 2 == 1}); });
  for (auto& th : threads) th.join();
  Vec theta = posts[0].initial_point(8);
  Vec g0, g;
  double lp0 = posts[0].log_prob_grad(theta, g0, false);
  for (auto& p : posts) {
    BOOST_REQUIRE(p.valid());
    BOOST_TEST(p.log_prob_grad(theta, g, false) == lp0);
    BOOST_TEST(g == g0, boost::test_tools::per_element());
  }
}

// ============================================================================================
// NUTS
// ============================================================================================

BOOST_AUTO_TEST_CASE(sample_gives_the_draws_and_diagnostics_of_the_command_line) {
  latent::Posterior post = bind_example("kidiq");
  std::atomic<int64_t> progress_calls{0}, last_iteration{0};
  latent::Samples s = post.sample({.chains = 2, .warmup = 300, .samples = 200, .seed = 4,
                                   .progress = [&](const latent::SampleProgress& p) {
                                     ++progress_calls;
                                     if (p.iteration == p.total) last_iteration = p.iteration;
                                   }});
  BOOST_TEST(s.names == post.output_names(), boost::test_tools::per_element());
  BOOST_TEST(s.sampler_names.front() == "lp__");
  BOOST_TEST(s.chains == 2);
  BOOST_TEST(s.draws_per_chain == 200u);
  BOOST_TEST(s.values.size() == 2 * 200 * s.names.size());
  BOOST_TEST(s.sampler.size() == 2 * 200 * s.sampler_names.size());
  BOOST_TEST(s.step_size.size() == 2u);
  BOOST_TEST(s.inverse_metric[0].size() == 3u);  // diag_e over beta.1, beta.2, sigma
  BOOST_TEST(progress_calls.load() == 2 * 500);
  BOOST_TEST(last_iteration.load() == 500);
  for (double sigma : s.column("sigma")) BOOST_TEST(sigma > 0);
  // The slope near least squares (a flat prior on it), well inside the posterior sd.
  latent::SampleSummary summary = s.summary();
  auto [alpha, slope] = kidiq_ols();
  BOOST_TEST(std::fabs(summary["beta.2"].mean - slope) < summary["beta.2"].sd);
  BOOST_TEST(std::fabs(summary["beta.1"].mean - alpha) < summary["beta.1"].sd);
  BOOST_TEST(summary["beta.2"].rhat < 1.1);  // short chains of a badly scaled regression: near 1, not below 1.01
  BOOST_TEST(summary.columns.front().name == "lp__");
  BOOST_TEST(api_error([&] { summary["nope"]; }).what() == std::string("no column named 'nope'"));

  // The same draws as `latent fit --method nuts` with the same seed (and any thread count).
  latent::Samples again = post.sample({.chains = 2, .warmup = 300, .samples = 200, .seed = 4, .threads = 1});
  BOOST_TEST(again.values == s.values);
  TempDir dir;
  RunResult r = run_latent({"fit", model_of("kidiq"), "--data", data_of("kidiq"), "--method", "nuts", "--chains", "2",
                            "--warmup", "300", "--samples", "200", "--seed", "4", "-q", "-o", dir.file("d.csv")},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  auto rows = csv_rows(read_text(dir.file("d_2.csv")));
  BOOST_REQUIRE(rows.size() == 201u);
  const size_t first = s.sampler_names.size();
  for (size_t d = 0; d < 200; ++d)
    for (size_t k = 0; k < s.names.size(); ++k)
      BOOST_TEST(std::stod(rows[d + 1][first + k]) == s(1, d, k));
}

BOOST_AUTO_TEST_CASE(sample_options_out_of_range_are_user_errors) {
  latent::Posterior post = bind_example("eight_schools");
  latent::Error e = api_error([&] { post.sample({.chains = 0}); });
  BOOST_TEST((e.kind() == latent::Error::Kind::user));
  BOOST_TEST(contains(e.what(), "between 1 and 1024"), e.what());
  BOOST_TEST(contains(api_error([&] { post.sample({.adapt_delta = 1.2}); }).what(), "adapt_delta"));
  BOOST_TEST(contains(api_error([&] { post.sample({.samples = 0}); }).what(), "samples"));
  latent::Posterior none = latent::compile_string("data { real y; } model { y ~ normal(0, 1); }").bind(
      latent::Data::from_json_string("{\"y\": 1}"));
  BOOST_TEST(contains(api_error([&] { none.sample(); }).what(), "no parameters"));
}

BOOST_AUTO_TEST_CASE(version_string) { BOOST_TEST(std::string(latent::version()) == "0.1.0"); }
