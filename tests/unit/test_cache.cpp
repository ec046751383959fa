// The on-disk compile cache: miss then hit, the same code either way, corrupt or
// truncated entries detected and rebuilt, and the switch to turn it off.
#define BOOST_TEST_MODULE cache
#include <boost/test/unit_test.hpp>

#include "compiler/codegen/codegen.hpp"
#include "compiler/codegen/jit.hpp"
#include "compiler/codegen/object_cache.hpp"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include "compiler/ir/ir.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
using namespace latent;

namespace {

struct CacheDir {
  fs::path path;
  CacheDir() {
    path = fs::temp_directory_path() / ("latent-cache-test-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
    setenv("LATENT_CACHE_DIR", path.c_str(), 1);
    unsetenv("LATENT_CACHE");
  }
  ~CacheDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    for (auto& e : fs::directory_iterator(path)) out.push_back(e.path());
    return out;
  }
};

// f(x) = sum(exp(x) * c) for a 3-vector, compiled through the real pipeline.
codegen::CompiledModule compile_example(double c) {
  ir::Graph g;
  ir::NodeP x = g.input(0, 0, {3});
  ir::NodeP f = g.sum(g.mul(g.unary(ir::Op::Exp, x), g.constant(c)));
  codegen::FunctionSpec spec{"f", {{f, 0}}, 1};
  codegen::ModuleBuilder mb = codegen::new_module("cache_test");
  codegen::emit_functions(g, {spec}, *mb.module);
  return codegen::compile_module(std::move(mb), {"f"});
}

double call(const codegen::CompiledModule& m) {
  double x[3] = {0.1, 0.2, 0.3}, out = 0, ws[64];
  const double* inputs[] = {x, nullptr};
  reinterpret_cast<codegen::KernelFn>(m.functions.at(0))(inputs, &out, ws, nullptr);
  return out;
}

double expected(double c) { return c * (std::exp(0.1) + std::exp(0.2) + std::exp(0.3)); }

}  // namespace

BOOST_AUTO_TEST_CASE(miss_then_hit_gives_the_same_function) {
  CacheDir dir;
  auto first = compile_example(2.0);
  BOOST_TEST(!first.from_cache);
  BOOST_TEST(dir.entries().size() == 1u);
  auto second = compile_example(2.0);
  BOOST_TEST(second.from_cache);
  BOOST_TEST(call(first) == expected(2.0), boost::test_tools::tolerance(1e-14));
  BOOST_TEST(call(second) == call(first));
  // Different code (another constant) is another entry.
  auto other = compile_example(3.0);
  BOOST_TEST(!other.from_cache);
  BOOST_TEST(dir.entries().size() == 2u);
  BOOST_TEST(call(other) == expected(3.0), boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(truncated_entry_is_rebuilt) {
  CacheDir dir;
  compile_example(2.0);
  fs::path entry = dir.entries().at(0);
  auto size = fs::file_size(entry);
  fs::resize_file(entry, size / 2);
  auto again = compile_example(2.0);
  BOOST_TEST(!again.from_cache);
  BOOST_TEST(call(again) == expected(2.0), boost::test_tools::tolerance(1e-14));
  BOOST_TEST(fs::file_size(entry) == size);  // rewritten whole
  BOOST_TEST(compile_example(2.0).from_cache);
}

BOOST_AUTO_TEST_CASE(corrupt_entry_is_detected_and_rebuilt) {
  CacheDir dir;
  compile_example(2.0);
  fs::path entry = dir.entries().at(0);
  {
    std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64);
    const char junk[16] = "garbage-garbage";
    f.write(junk, sizeof junk);
  }
  auto again = compile_example(2.0);
  BOOST_TEST(!again.from_cache);
  BOOST_TEST(call(again) == expected(2.0), boost::test_tools::tolerance(1e-14));
  BOOST_TEST(compile_example(2.0).from_cache);
}

BOOST_AUTO_TEST_CASE(entry_with_valid_trailer_but_unusable_object_is_rebuilt) {
  CacheDir dir;
  compile_example(2.0);
  fs::path entry = dir.entries().at(0);
  std::string key = entry.stem().string();
  codegen::ObjectCache cache;
  cache.store(key, "this is not an object file");
  auto again = compile_example(2.0);
  BOOST_TEST(!again.from_cache);
  BOOST_TEST(call(again) == expected(2.0), boost::test_tools::tolerance(1e-14));
  BOOST_TEST(compile_example(2.0).from_cache);
}

BOOST_AUTO_TEST_CASE(cache_can_be_turned_off) {
  CacheDir dir;
  setenv("LATENT_CACHE", "off", 1);
  auto a = compile_example(2.0);
  auto b = compile_example(2.0);
  unsetenv("LATENT_CACHE");
  BOOST_TEST(!a.from_cache);
  BOOST_TEST(!b.from_cache);
  BOOST_TEST(dir.entries().empty());
  setenv("LATENT_CACHE_DIR", "", 1);
  BOOST_TEST(!codegen::ObjectCache().enabled());
}

BOOST_AUTO_TEST_CASE(unwritable_cache_directory_is_not_an_error) {
  setenv("LATENT_CACHE_DIR", "/proc/latent-cannot-exist", 1);
  auto a = compile_example(2.0);
  BOOST_TEST(!a.from_cache);
  BOOST_TEST(call(a) == expected(2.0), boost::test_tools::tolerance(1e-14));
}
