#include "compiler/codegen/jit.hpp"

#include "common/source.hpp"
#include "compiler/codegen/object_cache.hpp"
#include "kernels/kernels.hpp"

#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/IR/Module.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Passes/StandardInstrumentations.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/Timer.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>

namespace latent::codegen {

namespace {

std::string to_string(llvm::Error e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << e;
  return os.str();
}

template <class T>
T unwrap(llvm::Expected<T> value, const char* what) {
  if (!value) throw std::runtime_error(std::string(what) + ": " + to_string(value.takeError()));
  return std::move(*value);
}

// LLVM's own options, set once before anything is compiled. Loop strength
// reduction is off: it took 12% of the instructions of compiling the GARCH
// example (more than instruction selection's DAG combines) and changed no
// gradient's time measurably; x86's addressing modes do most of its work.
// LATENT_LLVM_OPTIONS adds more, for investigating the JIT (e.g. -time-passes,
// reported after each compile).
void set_llvm_options() {
  auto& registered = llvm::cl::getRegisteredOptions();
  if (auto it = registered.find("disable-lsr"); it != registered.end())
    static_cast<llvm::cl::opt<bool>*>(it->second)->setValue(true);
  std::string errors;
  llvm::raw_string_ostream errs(errors);
  const char* argv[] = {"latent"};
  if (!llvm::cl::ParseCommandLineOptions(1, argv, "", &errs, "LATENT_LLVM_OPTIONS")) {
    // LLVM's first line ("latent: Unknown command line argument '-x'.  Try: ..."), without its advice.
    std::string first = errs.str().substr(0, errs.str().find('\n'));
    if (first.rfind("latent: ", 0) == 0) first.erase(0, 8);
    first = first.substr(0, first.find("  Try:"));
    throw UserError("latent: LATENT_LLVM_OPTIONS: " + first);
  }
}

// The optimisation passes, in LLVM's textual pipeline syntax. The functions we
// generate are leaves (they call only kernels and libm) made of loops over
// buffers, so O2's inliner walk, interprocedural passes and seven rounds of
// InstCombine buy nothing; what pays is kept, in O2's order: scalar clean-up
// (SROA turns accumulators into registers), loop canonicalisation, hoisting and
// full unrolling of short loops, GVN, then vectorisation (with glibc's vector
// math, and forwarding of a recurrence's stored state to its next iteration) and
// a last clean-up. InstCombine runs as in O2, without the fixpoint verification
// that textual pipelines turn on (it aborts the process). Against O2 (and with
// LSR off, above), `latent grad` executes 22% fewer instructions on the GARCH
// example and 24% on kidiq (valgrind); every example's gradient is equal to the
// last bit and as fast within noise. IndVarSimplify is left out too: the loops we
// emit count 0..n-1 or lo..hi by one already (without it, 4-8% fewer instructions
// to compile, the same vector loops, every gradient equal to the last bit).
constexpr const char* kOptimisationPipeline =
    "function("
    "sroa<modify-cfg>,early-cse<memssa>,instcombine<no-verify-fixpoint>,simplifycfg,"
    "loop-mssa(loop-rotate,licm<allowspeculation>),loop(loop-deletion,loop-unroll-full),gvn,"
    "inject-tli-mappings,loop-vectorize,loop-load-elim,instcombine<no-verify-fixpoint>,slp-vectorizer,simplifycfg,"
    "instcombine<no-verify-fixpoint>)";

struct Jit {
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::unique_ptr<llvm::TargetMachine> target;
  std::mutex mutex;
  int module_counter = 0;

  Jit() {
    llvm::InitializeNativeTarget();
    set_llvm_options();
    llvm::InitializeNativeTargetAsmPrinter();
    // glibc's vector math library: the vectoriser emits calls such as _ZGVdN4v_exp.
    llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1");
    auto jtmb = unwrap(llvm::orc::JITTargetMachineBuilder::detectHost(), "cannot detect the host CPU");
    jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);
    // Objects are compiled by us (and cached on disk), then linked by the JIT.
    jtmb.setRelocationModel(llvm::Reloc::PIC_);
    jtmb.setCodeModel(llvm::CodeModel::Small);
    target = unwrap(jtmb.createTargetMachine(), "cannot create the target machine");
    lljit = unwrap(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(jtmb).create(), "cannot create the JIT");
    auto& main = lljit->getMainJITDylib();
    main.addGenerator(unwrap(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                                 lljit->getDataLayout().getGlobalPrefix()),
                             "cannot search the process for symbols"));
    // Runtime kernels, bound by address so that nothing depends on -rdynamic.
    llvm::orc::SymbolMap symbols;
    auto bind = [&](const char* name, auto* fn) {
      symbols[lljit->mangleAndIntern(name)] = {llvm::orc::ExecutorAddr::fromPtr(reinterpret_cast<void*>(fn)),
                                               llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
    };
    bind(runtime_symbols::matmul, &latent_rt_matmul);
    bind(runtime_symbols::check_failed, &latent_rt_check_failed);
    bind(runtime_symbols::print, &latent_rt_print);
    bind(runtime_symbols::rng, &latent_rt_rng);
    // The kernels of elementwise ops (KERNEL(...) in ops.def).
#define KERNEL(function) bind(#function, &function);
#define INTRINSIC(id)
#define LIBM(function)
#define CUSTOM(method)
#define INT_OR_REAL(int_method, real_method)
#define COMPARE(int_predicate, real_predicate)
#define UNARY(name, printed, result, fold, derivative, emit, language) emit
#define BINARY(name, printed, result, fold, derivative_x, derivative_y, emit) emit
#include "compiler/ir/ops.def"
#undef KERNEL
#undef INTRINSIC
#undef LIBM
#undef CUSTOM
#undef INT_OR_REAL
#undef COMPARE
    if (auto err = main.define(llvm::orc::absoluteSymbols(std::move(symbols))))
      throw std::runtime_error("cannot bind runtime symbols: " + to_string(std::move(err)));
  }
};

// Creating the JIT (host detection, target machine, symbol tables, libmvec) takes
// about 4 ms; start_jit() has it done on another thread while the front end runs.
// It lives as long as the process (compiled code may run until exit), held by a
// static pointer so that leak checkers see it reachable; the future's destructor
// at exit waits for a creation still under way.
std::shared_future<Jit*>& jit_future() {
  static Jit* instance = nullptr;
  static std::shared_future<Jit*> created = std::async(std::launch::async, [] {
                                              instance = new Jit();
                                              return instance;
                                            }).share();
  return created;
}

Jit& jit() { return *jit_future().get(); }

}  // namespace

void start_jit() { (void)jit_future(); }

ModuleBuilder new_module(const std::string& name) {
  Jit& j = jit();
  ModuleBuilder mb;
  mb.context = std::make_unique<llvm::LLVMContext>();
  mb.module = std::make_unique<llvm::Module>(name, *mb.context);
  mb.module->setTargetTriple(j.target->getTargetTriple().str());
  mb.module->setDataLayout(j.target->createDataLayout());
  return mb;
}

void optimize_module(llvm::Module& module) {
  Jit& j = jit();
  // The target machine and LLVM's pass registries are shared: one compile at a time.
  std::lock_guard<std::mutex> lock(j.mutex);
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  // Pass timings (LATENT_LLVM_OPTIONS=-time-passes) come from the instrumentation.
  llvm::PassInstrumentationCallbacks instrumentation;
  std::optional<llvm::StandardInstrumentations> timing;
  if (llvm::TimePassesIsEnabled) {
    timing.emplace(module.getContext(), false);
    timing->registerCallbacks(instrumentation, &mam);
  }
  llvm::PassBuilder pb(j.target.get(), tuning, std::nullopt, &instrumentation);
  llvm::Triple triple(module.getTargetTriple());
  llvm::TargetLibraryInfoImpl tlii(triple);
  tlii.addVectorizableFunctionsFromVecLib(llvm::TargetLibraryInfoImpl::LIBMVEC_X86, triple);
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(tlii); });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm;
  if (llvm::Error e = pb.parsePassPipeline(mpm, kOptimisationPipeline))
    throw std::logic_error("the optimisation pipeline does not parse: " + to_string(std::move(e)));
  mpm.run(module, mam);
}

std::string module_text(const llvm::Module& module) {
  std::string s;
  llvm::raw_string_ostream os(s);
  module.print(os, nullptr);
  return os.str();
}

namespace {

std::string emit_object(Jit& j, llvm::Module& module) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager pm;
  if (j.target->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile))
    throw std::runtime_error("the target cannot emit object files");
  pm.run(module);
  return std::string(buffer.data(), buffer.size());
}

std::string target_description(Jit& j) {
  return j.target->getTargetTriple().str() + "|" + j.target->getTargetCPU().str() + "|" +
         j.target->getTargetFeatureString().str();
}

}  // namespace

std::string compile_to_object(llvm::Module& module) {
  Jit& j = jit();
  std::lock_guard<std::mutex> lock(j.mutex);
  return emit_object(j, module);
}

namespace {

// Links an object into a new JIT library and looks the functions up; false
// (with nothing usable added) when the object is rejected.
bool link_object(Jit& j, const std::string& object, const std::vector<std::string>& names, std::vector<void*>& out,
                 std::string* error) {
  std::lock_guard<std::mutex> lock(j.mutex);
  auto dylib_name = "latent_model_" + std::to_string(j.module_counter++);
  auto created = j.lljit->createJITDylib(dylib_name);
  if (!created) throw std::runtime_error("cannot create a JIT library: " + to_string(created.takeError()));
  llvm::orc::JITDylib& dylib = *created;
  dylib.addToLinkOrder(j.lljit->getMainJITDylib());
  if (auto err = j.lljit->addObjectFile(dylib, llvm::MemoryBuffer::getMemBufferCopy(object, dylib_name))) {
    *error = to_string(std::move(err));
    return false;
  }
  out.clear();
  for (const auto& name : names) {
    auto addr = j.lljit->lookup(dylib, name);
    if (!addr) {
      *error = to_string(addr.takeError());
      return false;
    }
    out.push_back(addr->toPtr<void*>());
  }
  return true;
}

}  // namespace

CompiledModule compile_module(ModuleBuilder built, const std::vector<std::string>& function_names,
                              const CompileOptions& options) {
  Jit& j = jit();
  const ObjectCache cache;  // reads LATENT_CACHE / LATENT_CACHE_DIR now
  CompiledModule result;
  std::string text = module_text(*built.module);
  if (options.keep_text) result.text_before = text;
  bool use_cache = options.use_cache && cache.enabled();
  std::string key = use_cache ? ObjectCache::key(text + "|" + (options.optimize ? kOptimisationPipeline : "O0"), target_description(j)) : "";
  std::string error;
  if (use_cache) {
    if (std::optional<std::string> cached = cache.load(key)) {
      if (link_object(j, *cached, function_names, result.functions, &error)) {
        result.from_cache = true;
        return result;
      }
      cache.remove(key);  // verified but unusable: rebuilt below
    }
  }
  if (options.optimize) optimize_module(*built.module);
  if (options.keep_text) result.text_after = module_text(*built.module);
  std::string object;
  {
    std::lock_guard<std::mutex> lock(j.mutex);
    object = emit_object(j, *built.module);
  }
  if (!link_object(j, object, function_names, result.functions, &error))
    throw std::runtime_error("cannot link compiled code: " + error);
  if (use_cache) cache.store(key, object);
  if (llvm::TimePassesIsEnabled) llvm::TimerGroup::printAll(llvm::errs());
  return result;
}

}  // namespace latent::codegen
