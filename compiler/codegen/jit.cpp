#include "codegen/jit.hpp"

#include "codegen/runtime_symbols.hpp"

#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <mutex>
#include <thread>
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

struct Jit {
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::unique_ptr<llvm::TargetMachine> target;
  std::mutex mutex;
  int module_counter = 0;

  Jit() {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    // glibc's vector math library: the vectoriser emits calls such as _ZGVdN4v_exp.
    llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1");
    auto jtmb = unwrap(llvm::orc::JITTargetMachineBuilder::detectHost(), "cannot detect the host CPU");
    jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);
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
    bind(runtime_symbols::lgamma, &latent_rt_lgamma);
    bind(runtime_symbols::digamma, &latent_rt_digamma);
    bind(runtime_symbols::trigamma, &latent_rt_trigamma);
    if (auto err = main.define(llvm::orc::absoluteSymbols(std::move(symbols))))
      throw std::runtime_error("cannot bind runtime symbols: " + to_string(std::move(err)));
  }
};

Jit& jit() {
  static Jit instance;
  return instance;
}

}  // namespace

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
  llvm::PassBuilder pb(j.target.get(), tuning);
  llvm::Triple triple(module.getTargetTriple());
  llvm::TargetLibraryInfoImpl tlii(triple);
  tlii.addVectorizableFunctionsFromVecLib(llvm::TargetLibraryInfoImpl::LIBMVEC_X86, triple);
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(tlii); });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
  mpm.run(module, mam);
}

std::string module_text(const llvm::Module& module) {
  std::string s;
  llvm::raw_string_ostream os(s);
  module.print(os, nullptr);
  return os.str();
}

// Joins the warm-up thread at exit. Created after the JIT (see below), so it is
// destroyed, and the thread joined, before the JIT is.
struct WarmUpThread {
  std::thread thread;
  ~WarmUpThread() {
    if (thread.joinable()) thread.join();
  }
};

void warm_up_in_background() {
  static std::once_flag once;
  std::call_once(once, [] {
    jit();  // construct the JIT first: static objects are destroyed in reverse order
    static WarmUpThread warm_up;
    warm_up.thread = std::thread([] {
      try {
        ModuleBuilder mb = new_module("latent_warm_up");
        llvm::IRBuilder<> b(*mb.context);
        auto* type = llvm::FunctionType::get(b.getDoubleTy(), {b.getPtrTy()}, false);
        auto* fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage, "latent_warm_up", *mb.module);
        b.SetInsertPoint(llvm::BasicBlock::Create(*mb.context, "entry", fn));
        llvm::Value* x = b.CreateLoad(b.getDoubleTy(), fn->getArg(0));
        b.CreateRet(b.CreateUnaryIntrinsic(llvm::Intrinsic::exp, x));
        optimize_module(*mb.module);
        jit_add_module(std::move(mb), {"latent_warm_up"});
      } catch (...) {
        // Warming up is an optimisation only; real compiles report errors.
      }
    });
  });
}

std::vector<void*> jit_add_module(ModuleBuilder built, const std::vector<std::string>& function_names) {
  Jit& j = jit();
  std::lock_guard<std::mutex> lock(j.mutex);
  auto dylib_name = "latent_model_" + std::to_string(j.module_counter++);
  auto created = j.lljit->createJITDylib(dylib_name);
  if (!created) throw std::runtime_error("cannot create a JIT library: " + to_string(created.takeError()));
  llvm::orc::JITDylib& dylib = *created;
  dylib.addToLinkOrder(j.lljit->getMainJITDylib());
  llvm::orc::ThreadSafeModule tsm(std::move(built.module), std::move(built.context));
  if (auto err = j.lljit->addIRModule(dylib, std::move(tsm)))
    throw std::runtime_error("cannot add the module to the JIT: " + to_string(std::move(err)));
  std::vector<void*> out;
  for (const auto& name : function_names) {
    auto addr = unwrap(j.lljit->lookup(dylib, name), "cannot find a compiled function");
    out.push_back(addr.toPtr<void*>());
  }
  return out;
}

}  // namespace latent::codegen
