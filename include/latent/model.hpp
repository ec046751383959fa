// latent public API: compiled models, models bound to data, and fits.
//
//   latent::Model model = latent::compile_file("model.lat");      // parse + type-check
//   latent::Posterior post = model.bind(latent::Data::from_json_file("data.json"));  // + JIT
//   std::vector<double> theta = post.initial_point(1);
//   std::vector<double> grad;
//   double lp = post.log_prob_grad(theta, grad);
//   latent::Estimate mode = post.optimize();                      // MAP by L-BFGS
//   latent::VIFit fit = post.fit_vi({.method = latent::VIMethod::meanfield, .seed = 1});
//   latent::Draws draws = fit.draws(1000);
//   latent::Samples samples = post.sample({.chains = 4, .seed = 1});   // NUTS
//   double rhat = samples.summary()["mu"].rhat;
//
// VECTORS AND LAYOUTS
//   * theta ("unconstrained parameters") has param_unc_num() doubles: each
//     parameter's unconstrained coordinates in declaration order (Variable::
//     unconstrained_offset / unconstrained_size), each block in latent's storage
//     order. Every value of R^param_unc_num() is a valid point.
//   * Constrained values (constrain(), Estimate::values, Draws rows) are in
//     CmdStan's CSV column order, named by output_names(): parameters, then
//     transformed parameters, then generated quantities; within a variable the
//     FIRST index varies fastest ("theta.1.1", "theta.2.1", ...), arrays included.
//   * log densities are natural logs, up to the constants Stan's `~` drops.
//
// THREAD SAFETY
//   Model, Posterior and VIFit are immutable handles to shared state: copying one
//   is cheap and the copies refer to the same compiled model. Every const member
//   function may be called from any number of threads at once on the same
//   object, in particular log_prob / log_prob_grad: the model and its data are
//   read-only, and generated code keeps its scratch space per thread (each thread
//   keeps a buffer as large as the largest model it has evaluated). The first
//   call of a variant not compiled at bind (log_prob_grad with jacobian = false,
//   constrain) compiles it once, under a lock; BindOptions::compile_all does that
//   at bind instead. fit_vi, optimize and sample may run concurrently with each other and
//   with log_prob. compile_file / compile_string / bind may be called from
//   several threads. Assigning to a handle while another thread uses the same
//   handle object is a data race, as for any C++ object.
//
// OUTPUT: nothing is written to stdout or stderr; print() statements of the
// model are discarded (optimize / fit_vi report through their progress callbacks).
//
// ERRORS: every function throws latent::Error (latent/error.hpp).
#pragma once

#include "latent/data.hpp"
#include "latent/error.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace latent {

class Posterior;

// ---- compiling ------------------------------------------------------------------------------

struct BindOptions {
  // Bind always compiles the log density with the Jacobian and its gradient. With
  // compile_all it also compiles, now, the functions otherwise compiled at their
  // first use (the gradient with jacobian = false, and constrain()), so that no
  // later call pays a compile (tens of milliseconds).
  bool compile_all = false;
};

// A parsed and type-checked model, not yet bound to data. Binding lowers the
// program with the data's sizes and JIT-compiles it; one Model can be bound to
// several data sets (each bind compiles; identical code comes from the
// process-wide JIT / on-disk object cache).
class Model {
 public:
  Model() = default;  // empty: every call other than valid() throws Error
  bool valid() const { return impl_ != nullptr; }
  const std::string& name() const;  // the path or name given to compile_*

  // Binds data (checked against the data block: every declared field present,
  // of the declared shape, type and bounds) and compiles the log density with
  // its gradient. Throws Error naming the field, or file:line:col for a
  // problem found while lowering (a size expression out of range, ...).
  Posterior bind(const Data& data = Data(), const BindOptions& options = {}) const;

  struct Impl;

 private:
  friend Model compile_file(const std::string& path);
  friend Model compile_string(const std::string& text, const std::string& name);
  explicit Model(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Reads, parses and checks a model file (Stan syntax). Throws Error with every
// syntax/type error as "path:line:col: error: ..." plus the source line and a caret.
Model compile_file(const std::string& path);
// The same for model text; `name` stands for the file name in messages.
Model compile_string(const std::string& text, const std::string& name = "<string>");

// ---- description of the variables -------------------------------------------------------

struct Variable {
  enum class Kind { parameter, transformed_parameter, generated_quantity };
  std::string name;
  Kind kind = Kind::parameter;
  std::string type;             // Stan's spelling of the type: "real", "vector", "array[] real", "matrix", ...
  std::vector<int64_t> dims;    // Stan dims: array dims first, then vector/matrix dims; {} for a scalar
  std::string constraint;       // parameters: "", "lower=0", "lower=0, upper=1", "offset=1, multiplier=2",
                                // "simplex"; a bound that is not a constant shows as "<expr>"
  int64_t size = 0;             // number of constrained values (product of dims)
  int64_t column = 0;           // index of its first value in output_names() / constrain()
  int64_t unconstrained_offset = 0;  // parameters: where its coordinates start in theta
  int64_t unconstrained_size = 0;    // parameters: how many (a simplex[K] has K - 1)
};

// ---- fits -----------------------------------------------------------------------------------

// The result of Posterior::optimize: the mode found by L-BFGS.
struct Estimate {
  double lp = 0;                       // log density at the mode (with the Jacobian only if options.jacobian)
  std::vector<std::string> names;      // output_names(): CmdStan columns
  std::vector<double> values;          // constrained values at the mode, one per name
  std::vector<double> unconstrained;   // the mode in the unconstrained space (theta)
  int iterations = 0;
  bool converged = false;              // a convergence test was met (not the iteration limit)
  std::string status;                  // "converged_relative_gradient", "max_iterations", ...
  std::string message;                 // one line, CmdStan-like

  // The value of a column ("sigma", "beta.2"); throws Error for an unknown name.
  double operator[](const std::string& column) const;
  // Every column of a variable in CmdStan order ("beta" -> beta.1, beta.2, ...).
  std::vector<double> variable(const std::string& name) const;
};

struct OptimizeOptions {
  int iterations = 2000;        // maximum number of L-BFGS iterations
  uint64_t seed = 0;            // for the random initial point
  // false: the mode of the density of the constrained parameters (CmdStan's
  // optimize default, jacobian=0); true: the mode in the unconstrained space.
  bool jacobian = false;
  // Convergence tests, CmdStan's meanings (relative ones in units of the machine
  // epsilon). tol_rel_grad is tighter than CmdStan's 1e7, as in `latent fit`.
  double tol_rel_grad = 1e4, tol_rel_obj = 1e4;
  double tol_obj = 1e-12, tol_grad = 1e-8, tol_param = 1e-8;
  int history = 5;              // L-BFGS correction pairs
  double init_alpha = 0.001;    // first line-search step
  // Initial constrained values by name (like `--init`); parameters not given are
  // drawn uniform(-2, 2) on the unconstrained scale. Without it: up to 100 random
  // points until the log density and gradient are finite.
  std::optional<Data> init;
  // Called after every iteration (log density, gradient norm); on the calling thread.
  std::function<void(int iteration, double lp, double grad_norm)> progress;
};

enum class VIMethod { meanfield, fullrank };
enum class VIOptimizer { stan, adam, sgd };  // Stan's adaptive step sizes | Adam | SGD with momentum
enum class VIObjective { elbo, iwae };       // the ELBO | the importance-weighted bound IWAE_K

// ADVI options; members in this order, so designated initializers work:
//   post.fit_vi({.method = latent::VIMethod::fullrank, .iterations = 5000, .seed = 3})
struct VIOptions {
  VIMethod method = VIMethod::meanfield;
  int iterations = 10000;       // maximum number of iterations
  uint64_t seed = 0;            // noise of the stochastic gradients; draws() uses seed + 1
  int grad_samples = 1;         // draws per gradient step
  int elbo_samples = 100;       // draws per ELBO estimate (for convergence)
  int eval_elbo = 100;          // iterations between ELBO estimates
  double tol_rel_obj = 0.01;    // relative ELBO change that counts as converged
  VIOptimizer optimizer = VIOptimizer::stan;
  // Step size (stan) or learning rate (adam, sgd). 0: chosen by Stan's adaptation
  // (stan), 0.01 (adam), 0.001 (sgd).
  double eta = 0;
  VIObjective objective = VIObjective::elbo;
  int k = 10;                   // iwae: importance samples per step
  std::optional<Data> init;     // initial mean: constrained values by name (others random)
  // Called at every ELBO estimate (relative_change is NaN at the first); on the calling thread.
  std::function<void(int iteration, double elbo, double relative_change)> progress;
};

// Draws from a fit: a table of num_draws() rows and num_columns() columns.
struct Draws {
  std::vector<std::string> names;  // output_names(): constrained parameters, transformed parameters, generated quantities
  std::vector<double> values;      // row-major: draw d, column c at values[d * names.size() + c]
  std::vector<double> log_p;       // per draw: log density with every constant and the Jacobian (CmdStan's log_p__)
  std::vector<double> log_g;       // per draw: -eps'eps/2 of the standard normal draw behind it (CmdStan's log_g__)
  // (A draw at which a check in generated quantities fails has unspecified values
  // for the generated quantities; constrain() would throw there.)

  size_t num_draws() const { return log_p.size(); }
  size_t num_columns() const { return names.size(); }
  double operator()(size_t draw, size_t column) const { return values[draw * names.size() + column]; }
  size_t index(const std::string& column) const;          // throws Error for an unknown name
  std::vector<double> column(const std::string& column) const;  // one value per draw
};

// A fitted variational approximation (a Gaussian in the unconstrained space).
class VIFit {
 public:
  VIFit() = default;
  bool valid() const { return impl_ != nullptr; }
  VIMethod method() const;
  double elbo() const;            // the last ELBO (or IWAE) estimate
  int iterations() const;
  bool converged() const;
  double eta() const;             // the step size used
  const std::string& message() const;
  // The mean of the approximation (unconstrained; pass it to Posterior::constrain).
  std::vector<double> mean() const;
  // Variational parameters: meanfield [mu, omega] (standard deviations exp(omega));
  // fullrank [mu, L] with L the lower triangle of the Cholesky factor, by columns.
  const std::vector<double>& variational_parameters() const;
  // n independent draws, constrained (CmdStan's variational output without its
  // first row, the mean). Deterministic: the same seed gives the same draws;
  // without one, options.seed + 1 (as `latent fit --method advi`).
  Draws draws(size_t n) const;
  Draws draws(size_t n, uint64_t seed) const;

  struct Impl;

 private:
  friend class Posterior;
  explicit VIFit(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// ---- MCMC ------------------------------------------------------------------------------------

enum class Metric { diag_e, dense_e, unit_e };  // Stan's Euclidean metrics: diagonal, dense, identity

struct SampleProgress {
  int chain = 0;            // 0-based
  int64_t iteration = 0;    // iterations done, warm-up included
  int64_t total = 0;        // warm-up + samples
  bool warmup = true;       // the iteration just done was a warm-up iteration
  int64_t divergences = 0;  // so far
};

// NUTS options, Stan's defaults; members in this order, so designated initializers work:
//   post.sample({.chains = 4, .samples = 2000, .metric = latent::Metric::dense_e, .seed = 7})
struct SampleOptions {
  int chains = 4;               // 1 to 1024, run in parallel
  int64_t warmup = 1000;        // warm-up iterations per chain (Stan's adaptation); 0: none
  int64_t samples = 1000;       // iterations per chain after warm-up
  int64_t thin = 1;             // keep every thin-th draw
  int max_depth = 10;           // maximum tree depth
  double adapt_delta = 0.8;     // target acceptance statistic, in (0, 1)
  Metric metric = Metric::diag_e;
  uint64_t seed = 0;            // chain k draws from the stream (seed, k): independent of threads
  int threads = 0;              // 0: one per chain, at most one per core
  double stepsize = 1;          // the first step size tried by Stan's heuristic
  // Initial values by name, shared by the chains (parameters not given are drawn
  // per chain); without them, uniform(-init_radius, init_radius) on the
  // unconstrained scale, retried until the density is finite.
  std::optional<Data> init;
  double init_radius = 2;
  // Called after every iteration of every chain, from the chains' threads (keep it cheap).
  std::function<void(const SampleProgress&)> progress;
};

// The summary of one column (as `latent summary`, rstan's monitor / posterior's summarise_draws).
struct ColumnSummary {
  std::string name;
  double mean = 0, mcse_mean = 0, sd = 0, q5 = 0, q50 = 0, q95 = 0;
  double rhat = 0;      // rank-normalised split R-hat (max of bulk and folded); NaN for a constant column
  double ess_bulk = 0, ess_tail = 0;
};

struct SampleSummary {
  std::vector<ColumnSummary> columns;  // lp__, then output_names()
  int64_t divergences = 0, max_depth_hits = 0;
  std::vector<double> ebfmi;           // per chain
  std::vector<std::string> warnings;   // one line per problem (R-hat > 1.01, ESS < 100 per chain, divergences, ...)
  const ColumnSummary& operator[](const std::string& name) const;  // throws Error for an unknown name
};

// The draws of Posterior::sample: per chain, draws_per_chain kept draws of the
// outputs (CmdStan's columns) and of Stan's sampler diagnostics.
struct Samples {
  std::vector<std::string> names;          // output_names(): parameters, transformed parameters, generated quantities
  std::vector<std::string> sampler_names;  // lp__, accept_stat__, stepsize__, treedepth__, n_leapfrog__, divergent__, energy__
  int chains = 0;
  size_t draws_per_chain = 0;
  std::vector<double> values;    // chain c, draw d, column k at ((c * draws_per_chain) + d) * names.size() + k
  std::vector<double> sampler;   // the same layout with sampler_names.size() columns
  std::vector<double> step_size;                    // per chain, after adaptation
  std::vector<std::vector<double>> inverse_metric;  // per chain: diagonal (diag_e), n * n row-major (dense_e), empty (unit_e)
  std::vector<double> warmup_seconds, sampling_seconds;  // per chain
  // A draw whose generated quantities failed has NaN there (see generated_failures).
  std::vector<int64_t> generated_failures;               // per chain
  std::vector<std::string> notes;                        // about the configuration (a shortened warm-up schedule)
  int max_depth = 10;

  double operator()(int chain, size_t draw, size_t column) const {
    return values[(static_cast<size_t>(chain) * draws_per_chain + draw) * names.size() + column];
  }
  size_t index(const std::string& column) const;               // throws Error for an unknown name
  std::vector<double> column(const std::string& column) const;  // every chain's draws, chain after chain
  // A sampler column ("divergent__", "lp__", ...), chain after chain.
  std::vector<double> sampler_column(const std::string& column) const;
  int64_t divergences() const;
  SampleSummary summary() const;
};

// ---- a model bound to data ------------------------------------------------------------------

class Posterior {
 public:
  Posterior() = default;  // empty: every call other than valid() throws Error
  bool valid() const { return impl_ != nullptr; }
  const std::string& name() const;  // the model's path or name

  // -- sizes and names (cheap: computed at bind)
  int64_t param_num() const;       // constrained parameter values (columns of param_names())
  int64_t param_unc_num() const;   // length of theta
  int64_t output_num() const;      // all columns: parameters, transformed parameters, generated quantities
  const std::vector<std::string>& param_names() const;             // "mu", "theta.1", "theta.2", ...
  const std::vector<std::string>& transformed_param_names() const;
  const std::vector<std::string>& generated_quantity_names() const;
  const std::vector<std::string>& output_names() const;            // the three above, in that order
  const std::vector<Variable>& variables() const;                  // one per declared output variable

  // -- log density at unconstrained theta (param_unc_num() values). With jacobian,
  // the log density of theta (what samplers and ADVI use); without, the density of
  // the constrained parameters (the one MAP maximises). A failed check (reject, an
  // argument outside a distribution's support) gives -inf or NaN, never an
  // exception; diagnose() says why. Throws Error only for a theta of the wrong size.
  double log_prob(const std::vector<double>& theta, bool jacobian = true) const;
  double log_prob(const double* theta, bool jacobian = true) const;  // theta: param_unc_num() doubles
  // Value and gradient with respect to theta (grad is resized to param_unc_num()).
  double log_prob_grad(const std::vector<double>& theta, std::vector<double>& grad, bool jacobian = true) const;
  double log_prob_grad(const double* theta, double* grad, bool jacobian = true) const;
  // Why the log density is not finite at theta ("" when it is): the failed check
  // with its file:line:col, or the statements that evaluate to +-inf / NaN.
  std::string diagnose(const std::vector<double>& theta, bool jacobian = true) const;

  // -- transforms
  // Constrained values at theta: the parameters, then (if asked) transformed
  // parameters and generated quantities; output_names() order. Throws Error when
  // a check in generated quantities fails (only with include_gq).
  std::vector<double> constrain(const std::vector<double>& theta, bool include_tp = true, bool include_gq = true) const;
  // The inverse for the parameters: constrained values in param_names() order
  // (param_num() values, e.g. the first param_num() values of constrain()).
  // Throws Error naming the parameter when a value violates its constraint.
  std::vector<double> unconstrain(const std::vector<double>& params) const;
  // The same from values by name (JSON layout, e.g. {"mu": 1, "theta": [...]});
  // every parameter must be present; other names are ignored.
  std::vector<double> unconstrain(const Data& params) const;

  // A starting point: uniform(-2, 2) on the unconstrained scale, like Stan, retried
  // (up to 100 points) until the log density and its gradient are finite. Throws
  // Error with the reason at the first point if none is. Deterministic in seed.
  std::vector<double> initial_point(uint64_t seed = 0) const;
  // From constrained values by name (parameters not given are drawn as above);
  // throws Error if the log density is not finite there.
  std::vector<double> initial_point(const Data& init, uint64_t seed = 0) const;

  // -- fits (each is independent; several may run at once from different threads)
  // MAP (or MLE for flat priors) by L-BFGS, as `latent fit --method map`. Throws
  // Error when the model has no parameters or the fit diverges.
  Estimate optimize(const OptimizeOptions& options = {}) const;
  // ADVI, as `latent fit --method advi | fullrank`.
  VIFit fit_vi(const VIOptions& options = {}) const;
  // NUTS with Stan's adaptation on parallel chains, as `latent fit --method nuts`
  // (the same seed gives the same draws). Throws Error for options out of range
  // (naming the option), a model without parameters, or a chain that cannot start.
  Samples sample(const SampleOptions& options = {}) const;

  struct Impl;

 private:
  friend class Model;
  explicit Posterior(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& checked() const;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace latent
