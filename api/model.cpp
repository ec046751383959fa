// latent::Model, latent::Posterior and the fits: the public API over the front
// end (compiler/frontend), BoundModel, L-BFGS and ADVI. Mirrors what the CLI does
// (cli/common.cpp, cli/command_fit.cpp, cli/fit_advi.cpp) so that the results match.
#include "api/internal.hpp"
#include "runtime/inference/initial_point.hpp"

#include "compiler/driver/pipeline.hpp"
#include "runtime/optim/lbfgs.hpp"
#include "compiler/transforms/constraints.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace latent {

using api::guarded;

// ---- compiling ------------------------------------------------------------------------------

Model compile_file(const std::string& path) {
  return guarded([&] {
    auto impl = std::make_shared<Model::Impl>();
    impl->program = driver::parse_file(path);
    impl->name = path;
    return Model(impl);
  });
}

Model compile_string(const std::string& text, const std::string& name) {
  return guarded([&] {
    auto impl = std::make_shared<Model::Impl>();
    impl->program = driver::parse(std::make_shared<SourceFile>(SourceFile{name, text}));
    impl->name = name;
    return Model(impl);
  });
}

const std::string& Model::name() const {
  if (!impl_) throw Error("latent::Model: empty (default-constructed) model");
  return impl_->name;
}

namespace {

std::string trim_index_suffix(const std::string& column) { return column.substr(0, column.find('.')); }

// Names and descriptions of the outputs, in CmdStan's column order: parameters,
// transformed parameters, generated quantities; each variable's columns contiguous.
void describe_outputs(Posterior::Impl& p) {
  const BoundModel& m = *p.model;
  p.output_names = m.output_names();
  size_t column = 0;
  auto add = [&](const VariableInfo& info, Variable::Kind kind, const std::string& constraint) {
    Variable v;
    v.name = info.name;
    v.kind = kind;
    v.type = info.type.str();
    v.dims = info.stan_dims;
    v.constraint = constraint;
    v.size = info.size();
    v.column = static_cast<int64_t>(column);
    p.variables.push_back(v);
    column += static_cast<size_t>(v.size);
    return &p.variables.back();
  };
  for (const ParameterInfo& info : m.parameters()) {
    Variable* v = add(info, Variable::Kind::parameter, describe(info.constraint));
    v->unconstrained_offset = info.unconstrained_offset;
    v->unconstrained_size = info.unconstrained_size;
  }
  auto columns_from = [&](size_t from) {
    return std::vector<std::string>(p.output_names.begin() + static_cast<std::ptrdiff_t>(from),
                                    p.output_names.begin() + static_cast<std::ptrdiff_t>(column));
  };
  p.param_names = columns_from(0);
  size_t start = column;
  for (const VariableInfo& info : m.transformed_parameters()) add(info, Variable::Kind::transformed_parameter, "");
  p.tp_names = columns_from(start);
  start = column;
  for (const VariableInfo& info : m.generated_quantities()) add(info, Variable::Kind::generated_quantity, "");
  p.gq_names = columns_from(start);
}

}  // namespace

Posterior Model::bind(const Data& data, const BindOptions& options) const {
  if (!impl_) throw Error("latent::Model: empty (default-constructed) model");
  return guarded([&] {
    auto p = std::make_shared<Posterior::Impl>();
    p->program = impl_->program;
    p->name = impl_->name;
    // Lowers with the data (checking every field) and compiles the log density
    // with its Jacobian and gradient, and the data checks (run now).
    p->model = std::make_unique<const BoundModel>(impl_->program, data.impl_->set);
    p->data = data.impl_;
    p->unc_num = p->model->num_unconstrained();
    if (options.compile_all) {
      p->model->compile(false);
      std::vector<double> zero(static_cast<size_t>(p->unc_num), 0.0);
      EvalContext ignored;  // only compiles; a failed check at this point does not matter
      p->model->constrained_outputs(zero.data(), &ignored);
    }
    describe_outputs(*p);
    return Posterior(p);
  });
}

// ---- Posterior: queries and densities ---------------------------------------------------------

const Posterior::Impl& Posterior::checked() const {
  if (!impl_) throw Error("latent::Posterior: empty (default-constructed); use Model::bind");
  return *impl_;
}

const std::string& Posterior::name() const { return checked().name; }
int64_t Posterior::param_num() const { return static_cast<int64_t>(checked().param_names.size()); }
int64_t Posterior::param_unc_num() const { return checked().unc_num; }
int64_t Posterior::output_num() const { return static_cast<int64_t>(checked().output_names.size()); }
const std::vector<std::string>& Posterior::param_names() const { return checked().param_names; }
const std::vector<std::string>& Posterior::transformed_param_names() const { return checked().tp_names; }
const std::vector<std::string>& Posterior::generated_quantity_names() const { return checked().gq_names; }
const std::vector<std::string>& Posterior::output_names() const { return checked().output_names; }
const std::vector<Variable>& Posterior::variables() const { return checked().variables; }

namespace {

void check_size(const Posterior::Impl& p, size_t size, const char* what) {
  if (static_cast<int64_t>(size) != p.unc_num)
    throw Error(std::string("latent::Posterior::") + what + ": theta has " + std::to_string(size) +
                " values, the model has " + std::to_string(p.unc_num) + " unconstrained parameters");
}

}  // namespace

double Posterior::log_prob(const std::vector<double>& theta, bool jacobian) const {
  const Impl& p = checked();
  check_size(p, theta.size(), "log_prob");
  return guarded([&] { return p.model->log_density(theta.data(), nullptr, jacobian); });
}

double Posterior::log_prob(const double* theta, bool jacobian) const {
  const Impl& p = checked();
  return guarded([&] { return p.model->log_density(theta, nullptr, jacobian); });
}

double Posterior::log_prob_grad(const std::vector<double>& theta, std::vector<double>& grad, bool jacobian) const {
  const Impl& p = checked();
  check_size(p, theta.size(), "log_prob_grad");
  grad.resize(theta.size());
  return guarded([&] { return p.model->log_density(theta.data(), grad.data(), jacobian); });
}

double Posterior::log_prob_grad(const double* theta, double* grad, bool jacobian) const {
  const Impl& p = checked();
  return guarded([&] { return p.model->log_density(theta, grad, jacobian); });
}

std::string Posterior::diagnose(const std::vector<double>& theta, bool jacobian) const {
  const Impl& p = checked();
  check_size(p, theta.size(), "diagnose");
  return guarded([&] {
    std::vector<double> g(theta.size());
    double lp = p.model->log_density(theta.data(), g.data(), jacobian);
    bool finite = std::isfinite(lp);
    for (double x : g) finite = finite && std::isfinite(x);
    if (finite) return std::string();
    std::string text = p.model->diagnose(theta.data(), jacobian).text();
    if (text.empty()) text = "the log density is " + std::to_string(lp) + " or its gradient is not finite";
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  });
}

// ---- transforms ---------------------------------------------------------------------------

std::vector<double> Posterior::constrain(const std::vector<double>& theta, bool include_tp, bool include_gq) const {
  const Impl& p = checked();
  check_size(p, theta.size(), "constrain");
  return guarded([&] {
    EvalContext ctx;
    std::vector<double> all = p.model->constrained_outputs(theta.data(), &ctx);
    if (include_gq && ctx.failed) throw Error("generated quantities failed: " + ctx.failure_text());
    size_t np = p.param_names.size(), ntp = p.tp_names.size();
    std::vector<double> out(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(np));
    if (include_tp) out.insert(out.end(), all.begin() + static_cast<std::ptrdiff_t>(np),
                               all.begin() + static_cast<std::ptrdiff_t>(np + ntp));
    if (include_gq) out.insert(out.end(), all.begin() + static_cast<std::ptrdiff_t>(np + ntp), all.end());
    return out;
  });
}

namespace {

// CmdStan order (first index fastest) -> JSON nesting order (last index fastest).
std::vector<double> column_major_to_row_major(const double* v, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<double> out(static_cast<size_t>(n));
  if (n == 0) return out;
  size_t rank = dims.size();
  std::vector<int64_t> idx(rank, 0);
  for (int64_t k = 0; k < n; ++k) {  // k runs in column-major order
    int64_t row_major = 0;
    for (size_t d = 0; d < rank; ++d) row_major = row_major * dims[d] + idx[d];
    out[static_cast<size_t>(row_major)] = v[k];
    for (size_t d = 0; d < rank && ++idx[d] == dims[d]; ++d) idx[d] = 0;
  }
  return out;
}

std::vector<double> unconstrain_set(const Posterior::Impl& p, const DataSet& values) {
  for (const ParameterInfo& info : p.model->parameters())
    if (info.size() > 0 && !values.find(info.name))
      throw Error(values.source() + ": parameter '" + info.name + "' is missing");
  std::mt19937_64 rng(0);  // unused: every parameter is given
  return p.model->unconstrain(values, rng);
}

}  // namespace

std::vector<double> Posterior::unconstrain(const std::vector<double>& params) const {
  const Impl& p = checked();
  if (params.size() != p.param_names.size())
    throw Error("latent::Posterior::unconstrain: " + std::to_string(params.size()) + " values given, the model has " +
                std::to_string(p.param_names.size()) + " constrained parameter values");
  return guarded([&] {
    DataSet values("<constrained values>");
    size_t at = 0;
    for (const ParameterInfo& info : p.model->parameters()) {
      DataValue v;
      v.dims = info.stan_dims;
      v.values = column_major_to_row_major(params.data() + at, info.stan_dims);
      v.all_int = false;
      values.set(info.name, std::move(v));
      at += static_cast<size_t>(info.size());
    }
    return unconstrain_set(p, values);
  });
}

std::vector<double> Posterior::unconstrain(const Data& params) const {
  const Impl& p = checked();
  return guarded([&] { return unconstrain_set(p, params.impl_->set); });
}

std::vector<double> Posterior::initial_point(uint64_t seed) const {
  const Impl& p = checked();
  return guarded([&] {
    std::mt19937_64 rng(seed);
    return find_initial_point(*p.model, nullptr, true, rng);
  });
}

std::vector<double> Posterior::initial_point(const Data& init, uint64_t seed) const {
  const Impl& p = checked();
  return guarded([&] {
    std::mt19937_64 rng(seed);
    return find_initial_point(*p.model, &init.impl_->set, true, rng);
  });
}

// ---- fits -----------------------------------------------------------------------------------

namespace {

size_t column_index(const std::vector<std::string>& names, const std::string& column) {
  auto it = std::find(names.begin(), names.end(), column);
  if (it == names.end()) throw Error("no column named '" + column + "'");
  return static_cast<size_t>(it - names.begin());
}

}  // namespace

double Estimate::operator[](const std::string& column) const { return values.at(column_index(names, column)); }

std::vector<double> Estimate::variable(const std::string& name) const {
  std::vector<double> out;
  for (size_t k = 0; k < names.size() && k < values.size(); ++k)
    if (trim_index_suffix(names[k]) == name) out.push_back(values[k]);
  if (out.empty() && std::find(names.begin(), names.end(), name) == names.end())
    throw Error("no variable named '" + name + "'");
  return out;
}

Estimate Posterior::optimize(const OptimizeOptions& o) const {
  const Impl& p = checked();
  return guarded([&] {
    const BoundModel& m = *p.model;
    if (m.num_unconstrained() == 0) throw UserError(p.name + ": the model has no parameters to fit");
    if (o.iterations <= 0) throw Error("latent::OptimizeOptions: iterations must be positive");
    std::mt19937_64 rng(o.seed);
    std::vector<double> theta = find_initial_point(m, o.init ? &o.init->impl_->set : nullptr, o.jacobian, rng);
    LbfgsOptions options;
    options.max_iterations = o.iterations;
    options.tol_rel_grad = o.tol_rel_grad;
    options.tol_rel_obj = o.tol_rel_obj;
    options.tol_obj = o.tol_obj;
    options.tol_grad = o.tol_grad;
    options.tol_param = o.tol_param;
    options.history = o.history;
    options.init_alpha = o.init_alpha;
    options.progress = o.progress;
    auto f = [&](const double* x, double* g) { return m.log_density(x, g, o.jacobian); };
    LbfgsResult r = maximize_lbfgs(f, theta, options);
    if (r.status == LbfgsStatus::kDiverged || r.status == LbfgsStatus::kBadInitialPoint)
      throw UserError("the fit diverged: " + r.message);
    Estimate e;
    e.lp = r.value;
    e.names = p.output_names;
    EvalContext ctx;
    e.values = m.constrained_outputs(r.x.data(), &ctx);
    e.unconstrained = r.x;
    e.iterations = r.iterations;
    e.converged = r.converged;
    e.status = to_string(r.status);
    e.message = r.message;
    if (ctx.failed) e.message += "; warning: generated quantities failed: " + ctx.failure_text();
    return e;
  });
}

VIFit Posterior::fit_vi(const VIOptions& o) const {
  const Impl& p = checked();
  return guarded([&] {
    const BoundModel& m = *p.model;
    if (m.num_unconstrained() == 0) throw UserError(p.name + ": the model has no parameters to fit");
    if (o.iterations <= 0) throw Error("latent::VIOptions: iterations must be positive");
    if (o.grad_samples <= 0 || o.elbo_samples <= 0 || o.eval_elbo <= 0 || o.k <= 0)
      throw Error("latent::VIOptions: grad_samples, elbo_samples, eval_elbo and k must be positive");
    if (!(o.eta >= 0)) throw Error("latent::VIOptions: eta must be positive (or 0 for the default)");
    AdviOptions options;
    options.family = o.method == VIMethod::fullrank ? Family::FullRank : Family::MeanField;
    options.grad_samples = o.grad_samples;
    if (o.objective == VIObjective::iwae) {
      options.iwae_objective = true;
      options.grad_samples = o.k;
    }
    options.elbo_samples = o.elbo_samples;
    options.eval_elbo = o.eval_elbo;
    options.max_iterations = o.iterations;
    options.tol_rel_obj = o.tol_rel_obj;
    options.optimizer = o.optimizer == VIOptimizer::adam  ? StochasticOptimizer::Adam
                        : o.optimizer == VIOptimizer::sgd ? StochasticOptimizer::SgdMomentum
                                                          : StochasticOptimizer::StanAdaptive;
    // As `latent fit`: without a step size, Stan's adaptation picks one (stan),
    // Adam and SGD use fixed defaults.
    options.adapt = o.eta == 0;
    options.eta = o.eta > 0                          ? o.eta
                  : o.optimizer == VIOptimizer::adam ? 0.01
                  : o.optimizer == VIOptimizer::sgd  ? 0.001
                                                     : 1.0;
    options.seed = o.seed;
    if (o.init) {
      std::mt19937_64 rng(o.seed);
      options.initial_mean = m.unconstrain(o.init->impl_->set, rng);
    }
    options.progress = o.progress;
    auto impl = std::make_shared<VIFit::Impl>();
    impl->posterior = impl_;
    impl->result = fit_advi(m, options);
    impl->draws_seed = o.seed + 1;
    return VIFit(impl);
  });
}

namespace {
const VIFit::Impl& checked_fit(const std::shared_ptr<const VIFit::Impl>& impl) {
  if (!impl) throw Error("latent::VIFit: empty (default-constructed); use Posterior::fit_vi");
  return *impl;
}
}  // namespace

VIMethod VIFit::method() const {
  return checked_fit(impl_).result.family == Family::FullRank ? VIMethod::fullrank : VIMethod::meanfield;
}
double VIFit::elbo() const { return checked_fit(impl_).result.elbo; }
int VIFit::iterations() const { return checked_fit(impl_).result.iterations; }
bool VIFit::converged() const { return checked_fit(impl_).result.converged; }
double VIFit::eta() const { return checked_fit(impl_).result.eta; }
const std::string& VIFit::message() const { return checked_fit(impl_).result.message; }
const std::vector<double>& VIFit::variational_parameters() const { return checked_fit(impl_).result.phi; }

std::vector<double> VIFit::mean() const {
  const Impl& f = checked_fit(impl_);
  return guarded([&] { return GaussianApproximation(f.result.family, f.result.phi, f.posterior->unc_num).mean(); });
}

Draws VIFit::draws(size_t n) const { return draws(n, checked_fit(impl_).draws_seed); }

Draws VIFit::draws(size_t n, uint64_t seed) const {
  const Impl& f = checked_fit(impl_);
  return guarded([&] {
    const BoundModel& m = *f.posterior->model;
    const BoundModel& with_constants = f.posterior->model_with_constants();
    GaussianApproximation q(f.result.family, f.result.phi, f.posterior->unc_num);
    std::mt19937_64 rng(seed);
    Draws d;
    d.names = f.posterior->output_names;
    d.values.reserve(n * d.names.size());
    d.log_p.reserve(n);
    d.log_g.reserve(n);
    for (size_t k = 0; k < n; ++k) {  // the same sequence as the CLI's CSV after its first row (the mean)
      double log_g = 0;
      std::vector<double> z = q.draw(rng, nullptr, &log_g);
      d.log_p.push_back(with_constants.log_density(z.data(), nullptr, true));
      d.log_g.push_back(log_g);
      std::vector<double> row = m.constrained_outputs(z.data());
      d.values.insert(d.values.end(), row.begin(), row.end());
    }
    return d;
  });
}

size_t Draws::index(const std::string& column) const { return column_index(names, column); }

std::vector<double> Draws::column(const std::string& name) const {
  size_t c = index(name), cols = names.size();
  std::vector<double> out(num_draws());
  for (size_t d = 0; d < out.size(); ++d) out[d] = values[d * cols + c];
  return out;
}

}  // namespace latent
