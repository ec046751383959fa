// Ahead-of-time export: `latent export` writes an object and a header; a C
// program linked with them and the runtime kernels only (no LLVM) computes the
// same log density and gradient as the JIT.
#define BOOST_TEST_MODULE export
#include <boost/test/unit_test.hpp>

#include "compiler/frontend/frontend.hpp"
#include "data/json_data.hpp"
#include "runtime/model/bound_model.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace fs = std::filesystem;
using namespace latent;

namespace {

std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  BOOST_REQUIRE(p);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  BOOST_REQUIRE_MESSAGE(status == 0, "command failed: " << command << "\n" << out);
  return out;
}

void check_example(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("latent-export-" + name + "-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  std::string model = std::string(LATENT_SOURCE_DIR) + "/examples/" + name + "/model.lat";
  std::string data = std::string(LATENT_SOURCE_DIR) + "/examples/" + name + "/data.json";
  run(std::string(LATENT_BINARY) + " export " + model + " --data " + data + " -o " + (dir / "model.o").string() + " 2>&1");
  BOOST_REQUIRE(fs::exists(dir / "model.o"));
  BOOST_REQUIRE(fs::exists(dir / "model.h"));
  std::string app = (dir / "app").string();
  run("cc -O2 -I" + dir.string() + " " + LATENT_SOURCE_DIR + "/examples/exported/main.c " + (dir / "model.o").string() +
      " " + LATENT_KERNELS_LIBRARY + " -lstdc++ -lgomp -lmvec -lm -o " + app + " 2>&1");

  auto src = read_source_file(model);
  std::shared_ptr<ast::Program> program = parse_program(src);
  check_program(*program);
  BoundModel m(program, DataSet::from_json_file(data));
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<double> theta = m.random_point(rng), grad(theta.size());
    double lp = m.log_density(theta.data(), grad.data(), true);
    std::ostringstream args;
    args.precision(17);
    for (double x : theta) args << " " << x;
    std::istringstream out(run(app + args.str()));
    std::string word;
    double value;
    out >> word >> value;
    BOOST_TEST(word == "log_density");
    BOOST_TEST(value == lp, boost::test_tools::tolerance(1e-12));
    for (size_t i = 0; i < grad.size(); ++i) {
      int index;
      out >> word >> index >> value;
      BOOST_TEST(value == grad[i], boost::test_tools::tolerance(1e-12));
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace

BOOST_AUTO_TEST_CASE(eight_schools_exported_matches_the_jit) { check_example("eight_schools"); }

// Matrix products: the exported code calls the kernels library.
BOOST_AUTO_TEST_CASE(logistic_exported_matches_the_jit) { check_example("logistic"); }

BOOST_AUTO_TEST_CASE(export_name_must_be_a_c_identifier) {
  std::string model = std::string(LATENT_SOURCE_DIR) + "/examples/eight_schools/model.lat";
  std::string data = std::string(LATENT_SOURCE_DIR) + "/examples/eight_schools/data.json";
  int status = std::system((std::string(LATENT_BINARY) + " export " + model + " --data " + data +
                            " --name 9bad -o /tmp/latent-never-written.o 2>/dev/null").c_str());
  BOOST_TEST(WEXITSTATUS(status) == 1);
  BOOST_TEST(!fs::exists("/tmp/latent-never-written.o"));
}
