#include "cli/common.hpp"

#include "compiler/driver/pipeline.hpp"
#include "compiler/driver/stage_log.hpp"
#include "runtime/distributed/job.hpp"
#include "runtime/output/csv.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace latent::cli {

std::shared_ptr<const ast::Program> load_program(const std::string& path) { return driver::parse_file(path); }

LoadedModel load_model(const std::string& model_path, const std::string& data_path, bool jacobian, uint64_t seed,
                       bool with_constants) {
  LoadedModel m;
  auto start = std::chrono::steady_clock::now();
  driver::StageSeconds stages_before = driver::stage_seconds();
  m.program = load_program(model_path);
  auto data_start = std::chrono::steady_clock::now();
  DataSet data = data_path.empty() ? DataSet("<no data file>") : read_data_file(data_path);
  double data_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - data_start).count();
  // print() writes to standard error, as Stan's does to the console.
  m.model = std::make_unique<BoundModel>(m.program, data, BoundModel::Options{&std::cerr, seed});
  m.model->compile(jacobian);
  // print() ran while binding the first; this one stays silent.
  if (with_constants) m.with_constants = std::make_unique<BoundModel>(m.program, data, BoundModel::Options{nullptr, seed, true});
  m.compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const driver::StageSeconds& stages_after = driver::stage_seconds();
  for (size_t k = 0; k < stages_after.size(); ++k) {
    m.compile_stages.push_back({driver::stage_name(static_cast<driver::Stage>(k)), stages_after[k] - stages_before[k]});
    if (k == 0) m.compile_stages.push_back({"data", data_seconds});  // read after parsing
  }
  return m;
}

namespace {

// Standard output is an output file like the others: a failed write (a full
// disk, /dev/full, a closed pipe) is an error, not a lost result with exit 0.
void flush_stdout() {
  errno = 0;
  std::cout.flush();
  if (std::cout.fail() || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    int err = errno;
    throw UserError(std::string("latent: cannot write to standard output") + (err ? ": " + std::string(std::strerror(err)) : ""));
  }
}

}  // namespace

namespace {

// In a job of several processes the failing rank names itself and stops the
// others (MPI_Abort): a rank waiting for a sum would otherwise wait forever.
int failed(int exit_code, std::string message) {
  distributed::Job& job = distributed::job();
  if (!message.empty() && message.back() != '\n') message += "\n";
  if (!job.distributed()) {
    std::cerr << message;
    return exit_code;
  }
  std::cerr << "latent: rank " << job.rank() << " of " << job.size() << " stopped the job: " << message << std::flush;
  job.abort(exit_code);
}

}  // namespace

int run_guarded(const std::function<int()>& body) {
  try {
    int status = body();
    flush_stdout();
    return status;
  } catch (const UserError& e) {
    return failed(1, cap_message(e.what()));
  } catch (const std::bad_alloc&) {
    return failed(1, "latent: out of memory");
  } catch (const std::exception& e) {
    return failed(2, std::string("latent: internal error: ") + e.what());
  }
}

std::string json_number(double v) {
  if (std::isnan(v)) return "\"NaN\"";
  if (std::isinf(v)) return v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  return format_double(v);
}

}  // namespace latent::cli
