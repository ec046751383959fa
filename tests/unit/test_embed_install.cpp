// The installed CMake package: `cmake --install` of this build into a temporary
// prefix, then examples/embed configured with find_package(latent) against that
// prefix only, built and run on examples/eight_schools; its output is compared
// with the API called in this process.
#define BOOST_TEST_MODULE embed_install
#include "tests/support/model_fixture.hpp"

#include <latent/latent.hpp>

#include <filesystem>
#include <map>

using namespace latent::testing;
namespace fs = std::filesystem;

#ifndef LATENT_CMAKE_COMMAND
#define LATENT_CMAKE_COMMAND "cmake"
#endif

namespace {

std::string build_dir() {
#ifdef LATENT_BUILD_DIR
  return LATENT_BUILD_DIR;
#else
  return fs::path(LATENT_BINARY).parent_path().string();
#endif
}

std::string cmake() { return shell_quote(LATENT_CMAKE_COMMAND); }

// "key = value" lines of the example's output.
std::map<std::string, std::string> key_values(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find(" = ");
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return kv;
}

std::vector<double> numbers(const std::string& text) {
  std::istringstream in(text);
  std::vector<double> v;
  double x;
  while (in >> x) v.push_back(x);
  return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(install_then_build_and_run_the_embed_example) {
  TempDir dir;
  const std::string prefix = dir.file("prefix"), embed = dir.file("embed");

  // 1. Install this build.
  RunResult install = run_command(cmake() + " --install " + shell_quote(build_dir()) + " --prefix " + shell_quote(prefix), dir);
  BOOST_REQUIRE_MESSAGE(install.exit_code == 0, install);
  std::string cmake_dir;
  for (const char* lib : {"lib", "lib64", "lib/x86_64-linux-gnu"})
    if (fs::exists(prefix + "/" + lib + "/cmake/latent/latentConfig.cmake")) cmake_dir = prefix + "/" + lib + "/cmake/latent";
  BOOST_REQUIRE_MESSAGE(!cmake_dir.empty(), "no latentConfig.cmake under " << prefix << "\n" << install);
  BOOST_TEST(fs::exists(prefix + "/bin/latent"));
  for (const char* h : {"latent.hpp", "error.hpp", "data.hpp", "model.hpp"})
    BOOST_TEST(fs::exists(prefix + "/include/latent/" + h), h);

  // The exported targets name no path of the source or build tree, and need no
  // Eigen or nlohmann_json.
  std::string targets;
  for (auto& entry : fs::directory_iterator(cmake_dir))
    if (entry.path().filename().string().rfind("latentTargets", 0) == 0) targets += read_text(entry.path().string());
  BOOST_TEST(!targets.empty());
  BOOST_TEST(!contains(targets, LATENT_SOURCE_DIR), targets);
  BOOST_TEST(!contains(targets, build_dir()), targets);
  BOOST_TEST(!contains(targets, "Eigen"), targets);
  BOOST_TEST(!contains(targets, "nlohmann"), targets);
  BOOST_TEST(contains(targets, "latent::latent"), targets);
  // The public headers include only each other and the standard library.
  for (auto& entry : fs::directory_iterator(prefix + "/include/latent")) {
    std::istringstream in(read_text(entry.path().string()));
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("#include", 0) == 0)
        BOOST_TEST((contains(line, "\"latent/") || contains(line, "<latent/") ||
                    (contains(line, "<") && !contains(line, ".h"))),
                   entry.path().filename() << ": " << line);
  }

  // 2. The installed command line works.
  RunResult check = run_command(shell_quote(prefix + "/bin/latent") + " check " +
                                    shell_quote(example_dir("eight_schools") + "/model.lat"),
                                dir);
  BOOST_TEST(check.exit_code == 0, check);

  // 3. Configure and build examples/embed against the prefix alone.
  std::string configure = cmake() + " -S " + shell_quote(std::string(LATENT_SOURCE_DIR) + "/examples/embed") + " -B " +
                          shell_quote(embed) + " -DCMAKE_PREFIX_PATH=" + shell_quote(prefix) +
                          " -DCMAKE_BUILD_TYPE=Release";
#ifdef LATENT_CXX_COMPILER
  configure += " -DCMAKE_CXX_COMPILER=" + shell_quote(LATENT_CXX_COMPILER);
#endif
  RunResult conf = run_command(configure, dir);
  BOOST_REQUIRE_MESSAGE(conf.exit_code == 0, conf);
  RunResult build = run_command(cmake() + " --build " + shell_quote(embed) + " -j2", dir);
  BOOST_REQUIRE_MESSAGE(build.exit_code == 0, build);
  // The application's compile lines use the installed headers, not the source tree.
  std::string flags;
  for (auto& entry : fs::recursive_directory_iterator(embed))
    if (entry.path().filename() == "flags.make" || entry.path().filename() == "build.ninja")
      flags += read_text(entry.path().string());
  BOOST_TEST(!contains(flags, LATENT_SOURCE_DIR), flags);
  BOOST_TEST(contains(flags, prefix + "/include"), flags);

  // 4. Run it and compare with the API in this process.
  RunResult run = run_command(shell_quote(embed + "/embed") + " " + shell_quote(example_dir("eight_schools")), dir);
  BOOST_REQUIRE_MESSAGE(run.exit_code == 0, run);
  auto kv = key_values(run.out);
  latent::Posterior post = latent::compile_file(example_dir("eight_schools") + "/model.lat")
                               .bind(latent::Data::from_json_file(example_dir("eight_schools") + "/data.json"));
  BOOST_TEST(contains(run.out, std::string("latent ") + latent::version()), run);
  BOOST_TEST(kv["unconstrained parameters"] == "10", run);
  std::vector<double> theta = post.initial_point(1), grad;
  double lp = post.log_prob_grad(theta, grad);
  std::vector<double> printed_theta = numbers(kv["theta"]), printed_grad = numbers(kv["gradient"]);
  BOOST_REQUIRE_MESSAGE(printed_theta.size() == theta.size(), run);
  for (size_t i = 0; i < theta.size(); ++i) BOOST_TEST(printed_theta[i] == theta[i]);
  BOOST_TEST(close(std::stod(kv["log_prob"]), lp, 1e-12), run);
  BOOST_REQUIRE_MESSAGE(printed_grad.size() == grad.size(), run);
  for (size_t i = 0; i < grad.size(); ++i) BOOST_TEST(close(printed_grad[i], grad[i], 1e-12), "gradient " << i);
  BOOST_TEST(kv["threads agree"] == "yes", run);
  latent::Estimate mode = post.optimize();
  for (size_t k = 0; k < mode.names.size(); ++k) {
    std::string key = "estimate " + mode.names[k];
    BOOST_REQUIRE_MESSAGE(kv.count(key), key << " missing\n" << run);
    BOOST_TEST(close(std::stod(kv[key]), mode.values[k], 1e-9), key);
  }
  BOOST_TEST(contains(run.out, "optimize: " + mode.status), run);

  // 5. A user error reaches the application as latent::Error with the CLI's message.
  std::string bad = dir.write("bad.lat", "parameters {\n  real mu\n}\n");
  RunResult error = run_command(shell_quote(embed + "/embed") + " " + shell_quote(bad), dir);
  BOOST_TEST(error.exit_code == 1, error);
  BOOST_TEST(contains(error.err, bad + ":"), error);
}
