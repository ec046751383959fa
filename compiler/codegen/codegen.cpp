#include "compiler/codegen/codegen.hpp"

#include "kernels/kernels.hpp"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace latent::codegen {

using ir::DType;
using ir::NodeP;
using ir::Op;

namespace {

[[noreturn]] void internal(const std::string& what) { throw std::logic_error("internal codegen error: " + what); }

std::vector<int64_t> column_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size());
  int64_t stride = 1;
  for (size_t d = 0; d < dims.size(); ++d) {
    s[d] = stride;
    stride *= dims[d];
  }
  return s;
}

// A tensor in memory: base pointer plus static dims and strides (in elements:
// doubles, or floats for the operands and results of single-precision products
// that only products and elementwise code read).
struct View {
  llvm::Value* base = nullptr;
  std::vector<int64_t> dims, strides;
  bool single = false;
  bool contiguous() const { return strides == column_major_strides(dims); }
};

class FunctionEmitter {
 public:
  FunctionEmitter(const ir::Graph& graph, llvm::Module& module, const FunctionSpec& spec)
      : graph_(graph), module_(module), ctx_(module.getContext()), b_(ctx_), spec_(spec) {}

  EmittedFunction emit() {
    f64_ = b_.getDoubleTy();
    f32_ = b_.getFloatTy();
    i64_ = b_.getInt64Ty();
    ptr_ = b_.getPtrTy();
    auto* fn_type = llvm::FunctionType::get(b_.getVoidTy(), {ptr_, ptr_, ptr_, ptr_}, false);
    fn_ = llvm::Function::Create(fn_type, llvm::Function::ExternalLinkage, spec_.name, module_);
    fn_->addParamAttr(1, llvm::Attribute::NoAlias);
    fn_->addParamAttr(2, llvm::Attribute::NoAlias);
    if (spec_.runs_once) {
      fn_->addFnAttr(llvm::Attribute::OptimizeNone);
      fn_->addFnAttr(llvm::Attribute::NoInline);  // optnone requires it
    }
    auto arg = fn_->arg_begin();
    inputs_ = &*arg++;
    out_ = &*arg++;
    ws_ = &*arg++;
    rt_ctx_ = &*arg++;
    entry_ = llvm::BasicBlock::Create(ctx_, "entry", fn_);
    b_.SetInsertPoint(entry_);
    llvm::FastMathFlags fmf;
    fmf.setAllowContract(true);
    b_.setFastMathFlags(fmf);

    count_uses();
    group_loop_sums();
    scopes_.emplace_back();
    // An output whose range no other output touches is stored, not added: the
    // buffer is zeroed only where no such output writes (gradients of large
    // weights are then written once, straight from their matrix products).
    std::vector<bool> exclusive = exclusive_outputs();
    int64_t zeroed_to = 0;
    auto zero_until = [&](int64_t end) {
      if (end > zeroed_to)
        b_.CreateMemSet(b_.CreateConstInBoundsGEP1_64(f64_, out_, static_cast<uint64_t>(zeroed_to)), b_.getInt8(0),
                        static_cast<uint64_t>(end - zeroed_to) * 8, llvm::MaybeAlign(8));
    };
    std::vector<std::pair<int64_t, int64_t>> stored;
    for (size_t k = 0; k < spec_.outputs.size(); ++k)
      if (exclusive[k]) stored.push_back({spec_.outputs[k].offset, spec_.outputs[k].offset + std::max<int64_t>(1, spec_.outputs[k].node->size())});
    std::sort(stored.begin(), stored.end());
    for (auto [begin, end] : stored) {
      zero_until(begin);
      zeroed_to = std::max(zeroed_to, end);
    }
    zero_until(spec_.out_size);
    for (size_t k = 0; k < spec_.outputs.size(); ++k) {
      const auto& o = spec_.outputs[k];
      View dst{b_.CreateConstInBoundsGEP1_64(f64_, out_, static_cast<uint64_t>(o.offset)), o.node->dims,
               column_major_strides(o.node->dims)};
      if (exclusive[k])
        store_into(dst, o.node);
      else
        accumulate_into(dst, o.node);
    }
    b_.CreateRetVoid();
    std::string err;
    llvm::raw_string_ostream os(err);
    if (llvm::verifyFunction(*fn_, &os)) internal("invalid LLVM IR for " + spec_.name + ": " + os.str());
    return {spec_.name, workspace_used_, spec_.out_size};
  }

 private:
  struct Scope {
    std::unordered_map<NodeP, llvm::Value*> scalars;
    std::unordered_map<NodeP, View> views;
  };

  // ---- bookkeeping ------------------------------------------------------------------

  // Outputs whose [offset, offset + size) overlaps no other output.
  std::vector<bool> exclusive_outputs() const {
    const auto& outs = spec_.outputs;
    std::vector<bool> ok(outs.size(), true);
    for (size_t i = 0; i < outs.size(); ++i)
      for (size_t j = i + 1; j < outs.size(); ++j) {
        int64_t bi = outs[i].offset, ei = bi + std::max<int64_t>(1, outs[i].node->size());
        int64_t bj = outs[j].offset, ej = bj + std::max<int64_t>(1, outs[j].node->size());
        if (bi < ej && bj < ei) ok[i] = ok[j] = false;
      }
    return ok;
  }

  void count_uses() {
    std::vector<NodeP> roots;
    for (const auto& o : spec_.outputs) roots.push_back(o.node);
    for (NodeP n : ir::topological_order(roots))
      for (NodeP a : std::unordered_set<NodeP>(n->args.begin(), n->args.end())) {
        ++uses_[a];
        users_[a].push_back(n);
      }
    for (NodeP r : roots) {
      ++uses_[r];
      outputs_.insert(r);
    }
  }

  // ---- single precision --------------------------------------------------------------

  // The multiply-adds of a matrix product (a vector operand is a 1-row or 1-column matrix).
  static int64_t multiply_adds(NodeP n) {
    const auto &x = n->args[0]->dims, &y = n->args[1]->dims;
    return (x.size() == 2 ? x[0] : 1) * (y.size() == 2 ? y[1] : 1) * x.back();
  }

  bool single_product(NodeP n) const {
    return n->op == Op::MatMul && !n->is_scalar() && (matmul_flags(multiply_adds(n), false) & matmul_flags::kSingle);
  }

  // Whether every reader of n (not an output) is `reads`, looking through the
  // views in `through` (transposes, indexes, slices: they read n's memory).
  bool read_only_by(NodeP n, const std::function<bool(NodeP)>& reads, std::initializer_list<Op> through) {
    if (outputs_.count(n)) return false;
    for (NodeP u : users_[n]) {
      if (reads(u)) continue;
      bool view = std::find(through.begin(), through.end(), u->op) != through.end();
      if (!view || !read_only_by(u, reads, through)) return false;
    }
    return true;
  }

  // Whether n is read only as an operand of single-precision products (through
  // transposes): then it is computed straight into floats and the product reads
  // it without rounding a copy (a masked weight matrix, W .* mask).
  bool single_operand(NodeP n) {
    if (!spec_.single_precision_products || !ir::is_elementwise(n->op) || n->is_scalar()) return false;
    return read_only_by(n, [&](NodeP u) { return single_product(u); }, {Op::Transpose});
  }

  // Whether a single-precision product's result is read only by elementwise
  // code and other single-precision products (through transposes, indexes and
  // slices): then the kernel leaves it in float (no widening pass, half the reads).
  bool single_result(NodeP n) {
    if (!single_product(n)) return false;
    return read_only_by(n, [&](NodeP u) { return ir::is_elementwise(u->op) || single_product(u); },
                        {Op::Transpose, Op::Index, Op::Slice});
  }

  // LoopSums over the same loop (its variable, its bounds, the same enclosing
  // loops) are emitted as one loop when none reads another: reverse mode gives a
  // loop over chain steps one LoopSum per gradient, and each body would recompute
  // the step's forward pass (a network's products) on its own.
  void group_loop_sums() {
    std::vector<NodeP> roots;
    for (const auto& o : spec_.outputs) roots.push_back(o.node);
    std::map<std::tuple<int64_t, NodeP, NodeP, std::vector<int>>, std::vector<NodeP>> by_loop;
    for (NodeP n : ir::topological_order(roots))
      if (n->op == Op::LoopSum)
        by_loop[{n->a, n->args[0], n->args[1], std::vector<int>(n->free_loops.begin(), n->free_loops.end())}]
            .push_back(n);
    for (auto& [key, members] : by_loop) {
      if (members.size() < 2) continue;
      constexpr size_t kMaxFused = 32;  // bounds the search below (members x body)
      if (members.size() > kMaxFused) members.resize(kMaxFused);
      std::unordered_set<NodeP> group(members.begin(), members.end()), reads_another;
      for (NodeP m : members)
        for (NodeP x : ir::topological_order({m->args[2]}))
          if (x != m && group.count(x)) reads_another.insert(m);
      auto fused = std::make_shared<std::vector<NodeP>>();
      for (NodeP m : members)
        if (!reads_another.count(m)) fused->push_back(m);
      if (fused->size() < 2) continue;
      for (NodeP m : *fused) loop_groups_[m] = fused;
    }
  }

  // Emits n's LoopSum together with those of its group not yet computed, and
  // records their values in the current scope. False: n is in no group.
  bool fused_loop_sums(NodeP n) {
    auto it = loop_groups_.find(n);
    if (it == loop_groups_.end()) return false;
    std::vector<NodeP> members;
    for (NodeP m : *it->second)
      if (m == n || !(m->is_scalar() ? find_scalar(m) != nullptr : find_view(m) != nullptr)) members.push_back(m);
    std::vector<llvm::Value*> accumulators(members.size(), nullptr);
    std::vector<View> buffers(members.size());
    for (size_t k = 0; k < members.size(); ++k) {
      NodeP m = members[k];
      if (m->is_scalar()) {
        bool ints = m->dtype == DType::Int;
        accumulators[k] = entry_alloca(ints ? i64_ : f64_);
        b_.CreateStore(ints ? i64c(0) : f64c(0), accumulators[k]);
      } else {
        buffers[k] = contiguous_buffer(m);
        zero(buffers[k], m->size());
      }
    }
    const int id = static_cast<int>(n->a);
    llvm::Value* lo = scalar(n->args[0]);
    llvm::Value* hi = scalar(n->args[1]);
    for (NodeP m : members) with_loop_invariants_hoisted(m->args[2], id);
    NodeP var = nullptr;
    for (NodeP m : members)
      if (!var) var = loop_leaf(Op::LoopVar, id, m->args[2]);
    for_loop(lo, hi, [&](llvm::Value* i) {
      scopes_.emplace_back();
      if (var) scopes_.back().scalars[var] = i;
      for (size_t k = 0; k < members.size(); ++k) {
        NodeP m = members[k];
        if (!m->is_scalar()) {
          accumulate_into(buffers[k], m->args[2]);
          continue;
        }
        add_to_accumulator(accumulators[k], m->dtype == DType::Int, scalar(m->args[2]));
      }
      scopes_.pop_back();
    });
    for (size_t k = 0; k < members.size(); ++k) {
      NodeP m = members[k];
      if (m->is_scalar())
        scopes_.back().scalars[m] = b_.CreateLoad(m->dtype == DType::Int ? i64_ : f64_, accumulators[k]);
      else
        scopes_.back().views[m] = buffers[k];
    }
    return true;
  }

  llvm::Value** find_scalar(NodeP n) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->scalars.find(n);
      if (f != it->scalars.end()) return &f->second;
    }
    return nullptr;
  }

  View* find_view(NodeP n) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->views.find(n);
      if (f != it->views.end()) return &f->second;
    }
    return nullptr;
  }

  llvm::Value* i64c(int64_t v) { return b_.getInt64(static_cast<uint64_t>(v)); }
  llvm::Value* f64c(double v) { return llvm::ConstantFP::get(f64_, v); }

  llvm::Value* entry_alloca(llvm::Type* t, int64_t count = 1) {
    llvm::IRBuilder<> eb(entry_, entry_->begin());
    return eb.CreateAlloca(t, i64c(count));
  }

  // n's buffer in the workspace (measured in doubles; floats take half).
  llvm::Value* workspace_for(NodeP n, bool single = false) {
    auto it = ws_offsets_.find(n);
    if (it == ws_offsets_.end()) {
      it = ws_offsets_.emplace(n, workspace_used_).first;
      const int64_t size = std::max<int64_t>(n->size(), 1);
      workspace_used_ += single ? (size + 1) / 2 : size;
      workspace_used_ += (8 - workspace_used_ % 8) % 8;  // keep buffers 64-byte aligned
    }
    return b_.CreateConstInBoundsGEP1_64(f64_, ws_, static_cast<uint64_t>(it->second));
  }

  llvm::Value* address(const View& v, const std::vector<llvm::Value*>& idx) {
    llvm::Value* offset = nullptr;
    for (size_t d = 0; d < idx.size(); ++d) {
      if (v.dims[d] == 1) continue;
      llvm::Value* term = v.strides[d] == 1 ? idx[d] : b_.CreateMul(idx[d], i64c(v.strides[d]));
      offset = offset ? b_.CreateAdd(offset, term) : term;
    }
    return offset ? b_.CreateInBoundsGEP(v.single ? f32_ : f64_, v.base, offset) : v.base;
  }

  // The element at idx of a view, as a double.
  llvm::Value* load_element(const View& v, const std::vector<llvm::Value*>& idx) {
    if (!v.single) return b_.CreateLoad(f64_, address(v, idx));
    return b_.CreateFPExt(b_.CreateLoad(f32_, address(v, idx)), f64_);
  }

  void store_element(const View& v, const std::vector<llvm::Value*>& idx, llvm::Value* x) {
    x = to_double(x);
    b_.CreateStore(v.single ? b_.CreateFPTrunc(x, f32_) : x, address(v, idx));
  }

  llvm::Value* as_dtype(llvm::Value* d, DType t) { return t == DType::Int ? b_.CreateFPToSI(d, i64_) : d; }
  llvm::Value* to_double(llvm::Value* v) { return v->getType()->isIntegerTy() ? b_.CreateSIToFP(v, f64_) : v; }
  llvm::Value* to_bool(llvm::Value* v) {
    return v->getType()->isIntegerTy() ? b_.CreateICmpNE(v, i64c(0)) : b_.CreateFCmpUNE(v, f64c(0));
  }

  // for (i = lo; i <= hi; ++i) body(i)
  void for_loop(llvm::Value* lo, llvm::Value* hi, const std::function<void(llvm::Value*)>& body) {
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* header = llvm::BasicBlock::Create(ctx_, "loop", fn_);
    auto* body_bb = llvm::BasicBlock::Create(ctx_, "body", fn_);
    auto* exit = llvm::BasicBlock::Create(ctx_, "done", fn_);
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    llvm::PHINode* i = b_.CreatePHI(i64_, 2);
    i->addIncoming(lo, pre);
    // With constant bounds the test is i != hi + 1, the form LLVM's IndVarSimplify
    // would give it (not run: see jit.cpp); the rotated loop then tests the
    // incremented counter, as compilers do (eight schools' gradient: 7% faster).
    const std::optional<int64_t> trips = constant_trips(lo, hi);
    llvm::Value* more = trips ? b_.CreateICmpNE(i, b_.CreateAdd(lo, i64c(*trips))) : b_.CreateICmpSLE(i, hi);
    b_.CreateCondBr(more, body_bb, exit);
    b_.SetInsertPoint(body_bb);
    // Values computed in the body do not dominate the code after the loop.
    scopes_.emplace_back();
    bool outer_reduces = loop_reduces_;
    loop_reduces_ = false;
    ++loop_depth_;
    body(i);
    --loop_depth_;
    bool reduces = loop_reduces_;
    loop_reduces_ = outer_reduces;
    scopes_.pop_back();
    llvm::Value* next = b_.CreateAdd(i, i64c(1), "", true, true);
    i->addIncoming(next, b_.GetInsertBlock());
    b_.CreateBr(header)->setMetadata(llvm::LLVMContext::MD_loop, loop_hints(trips, reduces));
    b_.SetInsertPoint(exit);
  }

  // The iterations of `for (i = lo; i <= hi; ++i)` when both bounds are constants
  // (0 for an empty range); else nothing.
  static std::optional<int64_t> constant_trips(llvm::Value* lo, llvm::Value* hi) {
    auto* l = llvm::dyn_cast<llvm::ConstantInt>(lo);
    auto* h = llvm::dyn_cast<llvm::ConstantInt>(hi);
    if (!l || !h || h->getSExtValue() == INT64_MAX) return std::nullopt;
    return std::max<int64_t>(0, h->getSExtValue() - l->getSExtValue() + 1);
  }

  // What LLVM may do with a loop. Interleaving and runtime or partial unrolling
  // double the machine code (and the compile time) of a model for no measured gain
  // in its gradient; short loops with a known trip count (a lag polynomial's K
  // terms) are still unrolled in full, which does pay. Loops that sum are
  // interleaved as LLVM sees fit: several accumulators hide the latency of the
  // additions (a logistic regression's gradient is 10-40% slower with one, 10%
  // with two); they make most of the machine code that remains.
  llvm::MDNode* loop_hints(std::optional<int64_t> trips, bool reduces) {
    constexpr int64_t kFullUnrollTripCount = 16, kSmallerUnrolledTripCount = 4;
    const bool short_loop = trips && *trips <= kFullUnrollTripCount;
    // Left a plain loop (neither unrolled nor vectorised): a failed check's report,
    // which runs once (eight schools: 10% fewer instructions to compile), and a
    // short loop inside no other, which runs once per evaluation: unrolled it only
    // costs compile time (eight schools' 8-element loops: 40% of its instructions
    // to compile, for 20 ns of a 110 ns gradient). Up to 4 iterations the unrolled
    // body is about the loop's size.
    const bool plain = cold_ || (short_loop && loop_depth_ == 0 && *trips > kSmallerUnrolledTripCount);
    auto hint = [&](const char* name, llvm::Metadata* value = nullptr) -> llvm::Metadata* {
      std::vector<llvm::Metadata*> parts{llvm::MDString::get(ctx_, name)};
      if (value) parts.push_back(value);
      return llvm::MDNode::get(ctx_, parts);
    };
    // A long reduction is vectorised (with interleaved accumulators) but not
    // unrolled fully afterwards: fully unrolled sums of many short chain steps
    // made basic blocks of thousands of loads, whose instruction scheduling is
    // superlinear (seconds of compile time for a diffusion model's 40 steps).
    std::vector<llvm::Metadata*> hints{nullptr,  // the loop's own identity, set below
                                       hint(short_loop && !plain ? "llvm.loop.unroll.runtime.disable" : "llvm.loop.unroll.disable")};
    if (plain) hints.push_back(hint("llvm.loop.vectorize.enable", llvm::ConstantAsMetadata::get(b_.getFalse())));
    if (!reduces || plain)
      hints.push_back(hint("llvm.loop.interleave.count", llvm::ConstantAsMetadata::get(b_.getInt32(1))));
    llvm::MDNode* node = llvm::MDNode::getDistinct(ctx_, hints);
    node->replaceOperandWith(0, node);
    return node;
  }

  // Nested loops over every index of dims; the first (contiguous) axis innermost.
  void for_each_index(const std::vector<int64_t>& dims, const std::function<void(const std::vector<llvm::Value*>&)>& body) {
    std::vector<llvm::Value*> idx(dims.size());
    std::function<void(int)> level = [&](int d) {
      if (d < 0) return body(idx);
      if (dims[d] == 1) {
        idx[d] = i64c(0);
        return level(d - 1);
      }
      for_loop(i64c(0), i64c(dims[d] - 1), [&](llvm::Value* i) {
        idx[d] = i;
        level(d - 1);
      });
    };
    level(static_cast<int>(dims.size()) - 1);
  }

  // ---- scalars ------------------------------------------------------------------------

  llvm::Value* scalar(NodeP n) {
    if (!n->is_scalar()) internal(std::string("scalar() of a tensor ") + ir::op_name(n->op));
    if (auto* v = find_scalar(n)) return *v;
    if (ir::is_elementwise(n->op)) compute_operands_first(n);
    llvm::Value* v = compute_scalar(n);
    scopes_.back().scalars[n] = v;
    return v;
  }

  // Computes the scalar operands of elementwise n, and theirs, bottom up and left
  // to right (the order the recursion would take), so that computing n recurses
  // one level: an unrolled loop can chain tens of thousands of scalar operations.
  void compute_operands_first(NodeP n) {
    std::vector<std::pair<NodeP, size_t>> stack{{n, 0}};
    while (!stack.empty()) {
      NodeP m = stack.back().first;
      size_t next = stack.back().second++;
      if (next < m->args.size()) {
        NodeP a = m->args[next];
        if (!a->is_scalar() || find_scalar(a)) continue;
        if (ir::is_elementwise(a->op))
          stack.push_back({a, 0});
        else
          scalar(a);
        continue;
      }
      stack.pop_back();
      if (m != n) scopes_.back().scalars[m] = compute_scalar(m);
    }
  }

  llvm::Value* compute_scalar(NodeP n) {
    switch (n->op) {
      case Op::Const: return n->dtype == DType::Int ? i64c(static_cast<int64_t>(n->value)) : f64c(n->value);
      case Op::Input: return as_dtype(b_.CreateLoad(f64_, input_pointer(n)), n->dtype);
      case Op::LoopVar: internal("loop variable used outside its loop");
      case Op::ScanState: internal("scan state used outside its loop");
      case Op::Sum: return as_dtype(reduce(n->args[0], false), n->dtype);  // sums of ints are ints
      case Op::MaxReduce: return as_dtype(reduce(n->args[0], true), n->dtype);
      case Op::MatMul: return dot(n->args[0], n->args[1]);
      case Op::Index: case Op::Reshape: case Op::Slice: case Op::Transpose:
        return element(n, {});
      case Op::LoopSum: return loop_sum_scalar(n);
      case Op::ScanLast: return as_dtype(b_.CreateLoad(f64_, view(n).base), n->dtype);
      case Op::Check: return check(n);
      case Op::Random: return random_draw(n, {});
      case Op::Print: return print(n);
      default:
        if (ir::is_elementwise(n->op)) return elementwise(n, {});
        internal(std::string("no scalar rule for ") + ir::op_name(n->op));
    }
  }

  llvm::Value* input_pointer(NodeP n) {
    llvm::Value* slot = b_.CreateConstInBoundsGEP1_64(ptr_, inputs_, static_cast<uint64_t>(n->a));
    llvm::Value* base = b_.CreateLoad(ptr_, slot);
    return b_.CreateConstInBoundsGEP1_64(f64_, base, static_cast<uint64_t>(n->b));
  }

  llvm::Value* reduce(NodeP x, bool max) {
    llvm::Value* acc = entry_alloca(f64_);
    b_.CreateStore(f64c(max ? -std::numeric_limits<double>::infinity() : 0.0), acc);
    with_loop_invariants_hoisted(x, -1);
    for_each_index(x->dims, [&](const std::vector<llvm::Value*>& idx) {
      llvm::Value* e = to_double(element(x, idx));
      llvm::Value* old = b_.CreateLoad(f64_, acc);
      b_.CreateStore(max ? b_.CreateMaxNum(old, e) : reassoc_add(old, e), acc);
    });
    return b_.CreateLoad(f64_, acc);
  }

  llvm::Value* reassoc_add(llvm::Value* x, llvm::Value* y) {
    loop_reduces_ = true;
    auto* r = llvm::cast<llvm::Instruction>(b_.CreateFAdd(x, y));
    llvm::FastMathFlags f;
    f.setAllowReassoc(true);
    f.setAllowContract(true);
    r->setFastMathFlags(f);
    return r;
  }

  llvm::Value* dot(NodeP x, NodeP y) {
    with_loop_invariants_hoisted(x, -1);
    with_loop_invariants_hoisted(y, -1);
    llvm::Value* acc = entry_alloca(f64_);
    b_.CreateStore(f64c(0), acc);
    for_each_index(x->dims, [&](const std::vector<llvm::Value*>& idx) {
      llvm::Value* p = b_.CreateFMul(to_double(element(x, idx)), to_double(element(y, idx)));
      b_.CreateStore(reassoc_add(b_.CreateLoad(f64_, acc), p), acc);
    });
    return b_.CreateLoad(f64_, acc);
  }

  // *acc += v: an int sum, or a double one that LLVM may reassociate.
  void add_to_accumulator(llvm::Value* acc, bool ints, llvm::Value* v) {
    llvm::Value* old = b_.CreateLoad(ints ? i64_ : f64_, acc);
    b_.CreateStore(ints ? b_.CreateAdd(old, v) : reassoc_add(old, to_double(v)), acc);
  }

  llvm::Value* loop_sum_scalar(NodeP n) {
    if (fused_loop_sums(n)) return *find_scalar(n);
    bool ints = n->dtype == DType::Int;
    llvm::Type* t = ints ? i64_ : f64_;
    llvm::Value* acc = entry_alloca(t);
    b_.CreateStore(ints ? i64c(0) : f64c(0), acc);
    emit_loop(n, n->args[2], [&](llvm::Value*) { add_to_accumulator(acc, ints, scalar(n->args[2])); });
    return b_.CreateLoad(t, acc);
  }

  // Emits the loop of a LoopSum (lo = args[0], hi = args[1]), LoopGen (lo = args[0],
  // count = b) or Scan (lo = args[1], count = b), with the body's loop-invariant parts computed once before it.
  void emit_loop(NodeP loop, NodeP body, const std::function<void(llvm::Value*)>& per_iteration) {
    int id = static_cast<int>(loop->a);
    const bool scan = loop->op == Op::Scan || loop->op == Op::ScanLast;
    llvm::Value* lo = scalar(loop->args[scan ? 1 : 0]);
    llvm::Value* hi = loop->op == Op::LoopSum ? scalar(loop->args[1]) : b_.CreateAdd(lo, i64c(loop->b - 1));
    with_loop_invariants_hoisted(body, id);
    for_loop(lo, hi, [&](llvm::Value* i) {
      scopes_.emplace_back();
      if (NodeP var = loop_leaf(Op::LoopVar, id, body)) scopes_.back().scalars[var] = i;
      per_iteration(i);
      scopes_.pop_back();
    });
  }

  // The loop's LoopVar (or a Scan's ScanState) below its body: the nodes are
  // interned, so the body holds the one node. Null when the body does not read
  // it (a loop-invariant tensor repeated count times, as reverse mode makes them).
  NodeP loop_leaf(Op op, int id, NodeP body) {
    std::vector<NodeP> stack{body};
    std::unordered_set<NodeP> seen;
    while (!stack.empty()) {
      NodeP n = stack.back();
      stack.pop_back();
      if (!seen.insert(n).second || !n->depends_on_loop(id)) continue;
      if (n->op == op && n->a == id) return n;
      for (NodeP a : n->args) stack.push_back(a);
    }
    return nullptr;
  }

  // Computes, in the current scope, what a loop body reads that does not change
  // across iterations of loop `id` (id -1: hoist everything loop-free).
  void with_loop_invariants_hoisted(NodeP body, int id, bool skip_root = false) {
    std::unordered_set<NodeP> seen;
    std::function<void(NodeP)> visit = [&](NodeP m) {
      if (!seen.insert(m).second) return;
      if (skip_root && m == body) {
        for (NodeP a : m->args) visit(a);
        return;
      }
      bool varies = id >= 0 ? m->depends_on_loop(id) : false;
      bool bound = true;
      for (int l : m->free_loops)
        if (!loop_bound(l)) bound = false;
      if (!varies && bound && m->op != Op::LoopVar && m->op != Op::Const) {
        if (m->is_scalar()) {
          scalar(m);
          return;
        }
        if (needs_buffer(m) || in_memory(m)) {
          view(m);
          return;
        }
      }
      for (NodeP a : m->args) visit(a);
    };
    visit(body);
  }

  // Whether loop `id` is being emitted here: its variable or its scan state is bound.
  bool loop_bound(int id) {
    for (auto& s : scopes_) {
      for (auto& [n, v] : s.scalars)
        if ((n->op == Op::LoopVar || n->op == Op::ScanState) && n->a == id) return true;
      for (auto& [n, v] : s.views)
        if (n->op == Op::ScanState && n->a == id) return true;
    }
    return false;
  }

  llvm::Value* check(NodeP n) {
    llvm::Value* violated = to_bool(scalar(n->args[0]));
    llvm::BasicBlock* before = b_.GetInsertBlock();
    auto* report = llvm::BasicBlock::Create(ctx_, "check_failed", fn_);
    auto* merge = llvm::BasicBlock::Create(ctx_, "check_done", fn_);
    b_.CreateCondBr(violated, report, merge, llvm::MDBuilder(ctx_).createUnlikelyBranchWeights());
    b_.SetInsertPoint(report);
    // The reported values are computed only on failure, in a scope of their own
    // (nothing computed here dominates the code after the check).
    scopes_.emplace_back();
    bool outer_cold = cold_;
    cold_ = true;
    std::vector<llvm::Value*> values;
    for (size_t k = 1; k < n->args.size(); ++k) values.push_back(to_double(scalar(n->args[k])));
    call_with_values(runtime_symbols::check_failed, n->b, values);
    cold_ = outer_cold;
    scopes_.pop_back();
    report = b_.GetInsertBlock();
    b_.CreateBr(merge);
    b_.SetInsertPoint(merge);
    llvm::PHINode* phi = b_.CreatePHI(f64_, 2);
    phi->addIncoming(f64c(0), before);
    phi->addIncoming(f64c(-std::numeric_limits<double>::infinity()), report);
    return phi;
  }

  llvm::Value* print(NodeP n) {
    llvm::Value* wanted = to_bool(scalar(n->args[0]));
    auto* emit = llvm::BasicBlock::Create(ctx_, "print", fn_);
    auto* merge = llvm::BasicBlock::Create(ctx_, "print_done", fn_);
    b_.CreateCondBr(wanted, emit, merge);
    b_.SetInsertPoint(emit);
    scopes_.emplace_back();
    std::vector<llvm::Value*> values;
    for (size_t k = 1; k < n->args.size(); ++k) values.push_back(to_double(scalar(n->args[k])));
    call_with_values(runtime_symbols::print, n->b, values);
    scopes_.pop_back();
    b_.CreateBr(merge);
    b_.SetInsertPoint(merge);
    return f64c(0);
  }

  // A draw from the node's sampler at element idx of its parameters (kernels/random.hpp).
  llvm::Value* random_draw(NodeP n, const std::vector<llvm::Value*>& idx) {
    std::vector<llvm::Value*> params;
    for (NodeP p : n->args)
      if (p->op != Op::LoopVar) params.push_back(to_double(p->is_scalar() ? scalar(p) : element(p, idx)));
    llvm::Value* array = entry_alloca(f64_, std::max<int64_t>(1, static_cast<int64_t>(params.size())));
    for (size_t k = 0; k < params.size(); ++k) b_.CreateStore(params[k], b_.CreateConstInBoundsGEP1_64(f64_, array, k));
    auto callee = module_.getOrInsertFunction(runtime_symbols::rng,
                                              llvm::FunctionType::get(f64_, {ptr_, i64_, ptr_}, false));
    return as_dtype(b_.CreateCall(callee, {rt_ctx_, i64c(n->a), array}), n->dtype);
  }

  void call_with_values(const char* symbol, int64_t message, const std::vector<llvm::Value*>& values) {
    llvm::Value* array = entry_alloca(f64_, std::max<int64_t>(1, static_cast<int64_t>(values.size())));
    for (size_t k = 0; k < values.size(); ++k)
      b_.CreateStore(values[k], b_.CreateConstInBoundsGEP1_64(f64_, array, k));
    auto callee = module_.getOrInsertFunction(
        symbol, llvm::FunctionType::get(b_.getVoidTy(), {ptr_, i64_, ptr_, i64_}, false));
    b_.CreateCall(callee, {rt_ctx_, i64c(message), array, i64c(static_cast<int64_t>(values.size()))});
  }

  // ---- elementwise math -------------------------------------------------------------------

  llvm::Value* call_math(const char* symbol, llvm::Value* x) {
    auto callee = module_.getOrInsertFunction(symbol, llvm::FunctionType::get(f64_, {f64_}, false));
    auto* call = b_.CreateCall(callee, {x});
    call->setDoesNotAccessMemory();
    call->setDoesNotThrow();
    return call;
  }

  llvm::Value* call_math2(const char* symbol, llvm::Value* x, llvm::Value* y) {
    auto callee = module_.getOrInsertFunction(symbol, llvm::FunctionType::get(f64_, {f64_, f64_}, false));
    auto* call = b_.CreateCall(callee, {x, y});
    call->setDoesNotAccessMemory();
    call->setDoesNotThrow();
    return call;
  }

  llvm::Value* intrinsic(llvm::Intrinsic::ID id, llvm::Value* x) { return b_.CreateUnaryIntrinsic(id, x); }

  // log1p(x) = log(u) * x / (u - 1) with u = 1 + x: accurate, and vectorisable
  // because it only needs log (which has a vector library version).
  llvm::Value* log1p(llvm::Value* x) {
    llvm::Value* u = b_.CreateFAdd(f64c(1), x);
    llvm::Value* um1 = b_.CreateFSub(u, f64c(1));
    llvm::Value* r = b_.CreateFDiv(b_.CreateFMul(intrinsic(llvm::Intrinsic::log, u), x), um1);
    llvm::Value* exact = b_.CreateFCmpOEQ(um1, f64c(0));
    llvm::Value* inf = b_.CreateFCmpOEQ(u, f64c(std::numeric_limits<double>::infinity()));
    return b_.CreateSelect(exact, x, b_.CreateSelect(inf, u, r));
  }

  // The EMIT columns of ops.def.
  llvm::Value* apply_unary(Op op, llvm::Value* v) {
    switch (op) {
#define INTRINSIC(id) intrinsic(llvm::Intrinsic::id, v)
#define LIBM(function) call_math(#function, v)
#define KERNEL(function) call_math(#function, v)
#define CUSTOM(method) method(v)
#define UNARY(name, printed, result, fold, derivative, emit, language) \
  case Op::name: return emit;
#include "compiler/ir/ops.def"
#undef INTRINSIC
#undef LIBM
#undef KERNEL
#undef CUSTOM
      default: internal("apply_unary of a non-unary op");
    }
  }

  llvm::Value* apply_binary(Op op, llvm::Value* x, llvm::Value* y) {
    const bool ints = x->getType()->isIntegerTy() && y->getType()->isIntegerTy();
    if (!ints && op != Op::And && op != Op::Or) {
      x = to_double(x);
      y = to_double(y);
    }
    switch (op) {
#define INT_OR_REAL(int_method, real_method) (ints ? b_.int_method(x, y) : b_.real_method(x, y))
#define COMPARE(int_predicate, real_predicate) \
  flag(b_.CreateCmp(ints ? llvm::CmpInst::int_predicate : llvm::CmpInst::real_predicate, x, y))
#define CUSTOM(method) method(x, y, ints)
#define KERNEL(function) call_math2(#function, x, y)
#define BINARY(name, printed, result, fold, derivative_x, derivative_y, emit) \
  case Op::name: return emit;
#include "compiler/ir/ops.def"
#undef INT_OR_REAL
#undef COMPARE
#undef CUSTOM
#undef KERNEL
      default: internal("apply_binary of a non-binary op");
    }
  }

  // ---- the CUSTOM emissions of ops.def ------------------------------------------------------

  llvm::Value* flag(llvm::Value* condition) { return b_.CreateZExt(condition, i64_); }
  llvm::Value* identity(llvm::Value* v) { return v; }
  llvm::Value* to_integer(llvm::Value* v) {  // as ops.def folds it: out of range or NaN -> 0
    if (v->getType()->isIntegerTy()) return v;
    llvm::Value* in_range = b_.CreateFCmpOLT(intrinsic(llvm::Intrinsic::fabs, v), f64c(0x1p62));
    return b_.CreateSelect(in_range, b_.CreateFPToSI(v, i64_), i64c(0));
  }
  llvm::Value* negate(llvm::Value* v) { return v->getType()->isIntegerTy() ? b_.CreateNeg(v) : b_.CreateFNeg(v); }
  llvm::Value* inv_logit(llvm::Value* v) {
    return b_.CreateFDiv(f64c(1), b_.CreateFAdd(f64c(1), intrinsic(llvm::Intrinsic::exp, b_.CreateFNeg(v))));
  }
  // max(x, 0) + log1p(exp(-|x|))
  llvm::Value* log1p_exp(llvm::Value* v) {
    llvm::Value* ax = intrinsic(llvm::Intrinsic::fabs, v);
    llvm::Value* pos = b_.CreateMaxNum(v, f64c(0));
    return b_.CreateFAdd(pos, log1p(intrinsic(llvm::Intrinsic::exp, b_.CreateFNeg(ax))));
  }
  llvm::Value* absolute(llvm::Value* v) {
    if (v->getType()->isIntegerTy()) return b_.CreateSelect(b_.CreateICmpSLT(v, i64c(0)), b_.CreateNeg(v), v);
    return intrinsic(llvm::Intrinsic::fabs, v);
  }
  llvm::Value* sign(llvm::Value* v) {
    if (v->getType()->isIntegerTy()) return b_.CreateSub(flag(b_.CreateICmpSGT(v, i64c(0))), flag(b_.CreateICmpSLT(v, i64c(0))));
    llvm::Value* pos = b_.CreateUIToFP(b_.CreateFCmpOGT(v, f64c(0)), f64_);
    llvm::Value* negv = b_.CreateUIToFP(b_.CreateFCmpOLT(v, f64c(0)), f64_);
    return b_.CreateFSub(pos, negv);
  }
  llvm::Value* logical_not(llvm::Value* v) { return flag(b_.CreateNot(to_bool(v))); }
  llvm::Value* divide(llvm::Value* x, llvm::Value* y, bool) { return b_.CreateFDiv(to_double(x), to_double(y)); }
  llvm::Value* power(llvm::Value* x, llvm::Value* y, bool) {
    if (auto* c = llvm::dyn_cast<llvm::ConstantFP>(y)) {
      double e = c->getValueAPF().convertToDouble();
      if (e == 2) return b_.CreateFMul(x, x);
      if (e == 1) return x;
      if (e == -1) return b_.CreateFDiv(f64c(1), x);
    }
    return b_.CreateBinaryIntrinsic(llvm::Intrinsic::pow, x, y);
  }
  llvm::Value* minimum(llvm::Value* x, llvm::Value* y, bool ints) {
    return ints ? b_.CreateSelect(b_.CreateICmpSLT(x, y), x, y) : b_.CreateMinNum(x, y);
  }
  llvm::Value* maximum(llvm::Value* x, llvm::Value* y, bool ints) {
    return ints ? b_.CreateSelect(b_.CreateICmpSGT(x, y), x, y) : b_.CreateMaxNum(x, y);
  }
  // Truncating division and remainder that never trap: a zero divisor (which a
  // check reports) divides by 1, and the int64 minimum divided by -1 wraps.
  llvm::Value* int_divide(llvm::Value* x, llvm::Value* y, bool) {
    llvm::Value* minus_one = b_.CreateICmpEQ(y, i64c(-1));
    llvm::Value* safe = b_.CreateSelect(b_.CreateOr(minus_one, b_.CreateICmpEQ(y, i64c(0))), i64c(1), y);
    return b_.CreateSelect(minus_one, b_.CreateSub(i64c(0), x), b_.CreateSDiv(x, safe));
  }
  llvm::Value* int_modulus(llvm::Value* x, llvm::Value* y, bool) {
    llvm::Value* minus_one = b_.CreateICmpEQ(y, i64c(-1));
    llvm::Value* safe = b_.CreateSelect(b_.CreateOr(minus_one, b_.CreateICmpEQ(y, i64c(0))), i64c(1), y);
    return b_.CreateSelect(minus_one, i64c(0), b_.CreateSRem(x, safe));
  }
  llvm::Value* logical_and(llvm::Value* x, llvm::Value* y, bool) { return flag(b_.CreateAnd(to_bool(x), to_bool(y))); }
  llvm::Value* logical_or(llvm::Value* x, llvm::Value* y, bool) { return flag(b_.CreateOr(to_bool(x), to_bool(y))); }

  // Value of an elementwise node at idx (idx empty for scalars).
  llvm::Value* elementwise(NodeP n, const std::vector<llvm::Value*>& idx) {
    auto operand = [&](NodeP a) -> llvm::Value* { return a->is_scalar() ? scalar(a) : element(a, idx); };
    if (n->op == Op::Select) {
      llvm::Value* c = to_bool(operand(n->args[0]));
      llvm::Value* t = operand(n->args[1]);
      llvm::Value* e = operand(n->args[2]);
      if (n->dtype == DType::Real) {
        t = to_double(t);
        e = to_double(e);
      }
      return b_.CreateSelect(c, t, e);
    }
    if (n->args.size() == 1) return apply_unary(n->op, operand(n->args[0]));
    return apply_binary(n->op, operand(n->args[0]), operand(n->args[1]));
  }

  // ---- tensors ----------------------------------------------------------------------------

  // Nodes that are addresses into existing memory (no computation needed).
  bool in_memory(NodeP n) {
    if (find_view(n)) return true;
    switch (n->op) {
      case Op::Input: return true;
      case Op::Transpose: case Op::Index: case Op::Slice: return in_memory(n->args[0]);
      case Op::Reshape: return in_memory(n->args[0]) && view(n->args[0]).contiguous();
      default: return false;
    }
  }

  // Nodes that are computed into a workspace buffer rather than fused into their users.
  bool needs_buffer(NodeP n) {
    switch (n->op) {
      case Op::LoopGen: return !lazy_loop_gen(n);
      case Op::MatMul: case Op::LoopSum: case Op::Pack: case Op::Random: case Op::Scan: case Op::ScanLast: return true;
      case Op::Cholesky: case Op::TriSolve: case Op::Solve: case Op::EigenSym: return true;
      case Op::Reshape: return !in_memory(n);
      case Op::Input: case Op::Fill: case Op::Transpose: case Op::Index: case Op::Slice: return false;
      default: return uses_[n] > 1;
    }
  }

  // A LoopGen whose iterations are a few cheap elementwise operations (an
  // autoregressive mask: order[r] <= degree[c]; the rows of a masked loop's
  // update, select(in range, set_index(row, i, 1), row)) is computed where its
  // elements are read, not stored: a 784 x 500 mask was written and read back
  // in every evaluation, more memory traffic than the masked weights themselves.
  bool lazy_loop_gen(NodeP n) {
    auto known = lazy_loop_gens_.find(n);
    if (known != lazy_loop_gens_.end()) return known->second;
    const int id = static_cast<int>(n->a);
    int varying = 0;
    bool cheap = true;
    std::unordered_set<NodeP> seen;
    std::vector<NodeP> stack{n->args[1]};
    while (!stack.empty() && cheap) {
      NodeP m = stack.back();
      stack.pop_back();
      if (!seen.insert(m).second || !m->depends_on_loop(id)) continue;
      ++varying;
      switch (m->op) {
        case Op::LoopVar: case Op::Index: case Op::Fill: case Op::Transpose: case Op::Select:
        case Op::SetIndex: case Op::OneHot:
        case Op::Neg: case Op::Abs: case Op::Not: case Op::CastReal: case Op::StopGradient:
        case Op::Add: case Op::Sub: case Op::Mul: case Op::Min: case Op::Max:
        case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: case Op::Eq: case Op::Ne: case Op::And: case Op::Or:
          break;
        default: cheap = false;
      }
      for (NodeP a : m->args) stack.push_back(a);
    }
    return lazy_loop_gens_[n] = cheap && varying <= 12;
  }

  // Element idx of a lazy LoopGen: its body at iteration lo + idx.back().
  llvm::Value* loop_gen_element(NodeP n, const std::vector<llvm::Value*>& idx) {
    NodeP body = n->args[1];
    llvm::Value* i = b_.CreateAdd(scalar(n->args[0]), idx.back());
    scopes_.emplace_back();
    if (NodeP var = loop_leaf(Op::LoopVar, static_cast<int>(n->a), body)) scopes_.back().scalars[var] = i;
    std::vector<llvm::Value*> inner(idx.begin(), idx.end() - 1);
    llvm::Value* v = body->is_scalar() ? scalar(body) : element(body, inner);
    scopes_.pop_back();
    return v;
  }

  llvm::Value* element(NodeP n, const std::vector<llvm::Value*>& idx) {
    if (n->is_scalar() && n->op != Op::Index && n->op != Op::Reshape && n->op != Op::Slice && n->op != Op::Transpose)
      return scalar(n);
    if (in_memory(n) || needs_buffer(n)) return as_dtype(load_element(view(n), idx), n->dtype);
    switch (n->op) {
      case Op::Fill: return scalar(n->args[0]);
      case Op::Transpose: return element(n->args[0], {idx[1], idx[0]});
      case Op::Index: {
        std::vector<llvm::Value*> full(idx);
        full.insert(full.begin() + n->a, scalar(n->args[1]));
        return element(n->args[0], full);
      }
      case Op::Slice: {
        std::vector<llvm::Value*> full(idx);
        full[n->a] = b_.CreateAdd(full[n->a], scalar(n->args[1]));
        return element(n->args[0], full);
      }
      case Op::OneHot: case Op::SetIndex: {
        bool one_hot = n->op == Op::OneHot;
        NodeP v = one_hot ? n->args[0] : n->args[2];
        llvm::Value* hit = b_.CreateICmpEQ(idx[n->a], scalar(n->args[1]));
        std::vector<llvm::Value*> rest(idx);
        rest.erase(rest.begin() + n->a);
        llvm::Value* inner = to_double(v->is_scalar() ? scalar(v) : element(v, rest));
        llvm::Value* other = one_hot ? f64c(0) : to_double(element(n->args[0], idx));
        return as_dtype(b_.CreateSelect(hit, inner, other), n->dtype);
      }
      case Op::LoopGen: return loop_gen_element(n, idx);
      case Op::PadSlice: {
        NodeP v = n->args[0];
        int64_t len = v->dims[n->a];
        llvm::Value* rel = b_.CreateSub(idx[n->a], scalar(n->args[1]));
        llvm::Value* inside = b_.CreateICmpULT(rel, i64c(len));
        std::vector<llvm::Value*> inner_idx(idx);
        inner_idx[n->a] = b_.CreateSelect(inside, rel, i64c(0));  // clamp: never read out of bounds
        return b_.CreateSelect(inside, to_double(element(v, inner_idx)), f64c(0));
      }
      default:
        if (ir::is_elementwise(n->op)) return elementwise(n, idx);
        internal(std::string("no element rule for ") + ir::op_name(n->op));
    }
  }

  View view(NodeP n) {
    if (auto* v = find_view(n)) return *v;
    View v = make_view(n);
    scopes_.back().views[n] = v;
    return v;
  }

  View contiguous_buffer(NodeP n, bool single = false) {
    return {workspace_for(n, single), n->dims, column_major_strides(n->dims), single};
  }

  View make_view(NodeP n) {
    switch (n->op) {
      case Op::Input: return {input_pointer(n), n->dims, column_major_strides(n->dims)};
      case Op::Transpose: {
        View v = view(n->args[0]);
        std::swap(v.dims[0], v.dims[1]);
        std::swap(v.strides[0], v.strides[1]);
        return v;
      }
      case Op::Index: {
        View v = view(n->args[0]);
        llvm::Value* i = scalar(n->args[1]);
        llvm::Value* off = v.strides[n->a] == 1 ? i : b_.CreateMul(i, i64c(v.strides[n->a]));
        v.base = b_.CreateInBoundsGEP(f64_, v.base, off);
        v.dims.erase(v.dims.begin() + n->a);
        v.strides.erase(v.strides.begin() + n->a);
        return v;
      }
      case Op::Slice: {
        View v = view(n->args[0]);
        llvm::Value* i = scalar(n->args[1]);
        llvm::Value* off = v.strides[n->a] == 1 ? i : b_.CreateMul(i, i64c(v.strides[n->a]));
        v.base = b_.CreateInBoundsGEP(f64_, v.base, off);
        v.dims[n->a] = n->b;
        return v;
      }
      case Op::Reshape: {
        // A reshape of memory, or of a tensor computed into its own buffer (a
        // matrix product): the same storage read with new dims.
        NodeP src = n->args[0];
        if (in_memory(src) || needs_buffer(src)) {
          View v = view(src);
          if (v.contiguous()) return {v.base, n->dims, column_major_strides(n->dims), v.single};
        }
        break;
      }
      case Op::MatMul: return matmul(n);
      case Op::Cholesky: return cholesky(n);
      case Op::TriSolve: case Op::Solve: return solve(n);
      case Op::EigenSym: return eigen_sym(n);
      case Op::LoopGen: return loop_gen(n);
      case Op::Scan: return scan(n);
      case Op::ScanLast: return scan_last(n);
      case Op::ScanState: internal("scan state used outside its loop");
      case Op::LoopSum: {
        if (fused_loop_sums(n)) return *find_view(n);
        View dst = contiguous_buffer(n);
        zero(dst, n->size());
        emit_loop(n, n->args[2], [&](llvm::Value*) { accumulate_into(dst, n->args[2]); });
        return dst;
      }
      case Op::Random: {  // one draw per element, each exactly once
        View dst = contiguous_buffer(n);
        with_loop_invariants_hoisted(n, -1, /*skip_root=*/true);
        for_each_index(n->dims, [&](const std::vector<llvm::Value*>& idx) {
          b_.CreateStore(to_double(random_draw(n, idx)), address(dst, idx));
        });
        return dst;
      }
      case Op::Pack: {
        View dst = contiguous_buffer(n);
        for (size_t k = 0; k < n->args.size(); ++k)
          b_.CreateStore(to_double(scalar(n->args[k])), b_.CreateConstInBoundsGEP1_64(f64_, dst.base, k));
        return dst;
      }
      default: break;
    }
    // Anything else: evaluate every element into a buffer.
    View dst = contiguous_buffer(n, single_operand(n));
    if (n->op == Op::Reshape) {
      NodeP src = n->args[0];
      View tmp = contiguous_buffer(src);
      store_all(tmp, src);
      return {tmp.base, n->dims, column_major_strides(n->dims)};
    }
    store_all(dst, n);
    return dst;
  }

  void zero(const View& dst, int64_t count) {
    b_.CreateMemSet(dst.base, b_.getInt8(0), static_cast<uint64_t>(count) * 8, llvm::MaybeAlign(8));
  }

  // dst[idx] = n[idx] for every idx, computing n lazily (not through view(n)).
  void store_all(const View& dst, NodeP n) {
    with_loop_invariants_hoisted(n, -1, /*skip_root=*/true);
    for_each_index(n->dims, [&](const std::vector<llvm::Value*>& idx) {
      llvm::Value* v;
      if (ir::is_elementwise(n->op)) v = elementwise(n, idx);
      else {
        // Evaluate lazily without recursing into view(n) for n itself.
        v = lazy_element(n, idx);
      }
      store_element(dst, idx, v);
    });
  }

  llvm::Value* lazy_element(NodeP n, const std::vector<llvm::Value*>& idx) {
    // element() would load from n's own (not yet written) buffer for nodes that
    // need one; bypass that by temporarily treating n as single-use.
    int saved = uses_[n];
    uses_[n] = 1;
    llvm::Value* v = element(n, idx);
    uses_[n] = saved;
    return v;
  }

  // dst = n (dst not zeroed beforehand).
  void store_into(View dst, NodeP n) {
    if (n->is_scalar()) {
      b_.CreateStore(to_double(scalar(n)), dst.base);
      return;
    }
    if (n->op == Op::MatMul && uses_[n] <= 1 && !find_view(n) && dst.contiguous() && n->free_loops.empty()) {
      matmul(n, &dst, /*accumulate=*/false);
      return;
    }
    if (n->op == Op::OneHot || n->op == Op::PadSlice || n->op == Op::Add || n->op == Op::Fill) {
      // Sparse or split adjoints add into a zeroed slice.
      zero(dst, n->size());
      accumulate_into(dst, n);
      return;
    }
    with_loop_invariants_hoisted(n, -1);
    for_each_index(n->dims, [&](const std::vector<llvm::Value*>& idx) {
      b_.CreateStore(to_double(element(n, idx)), address(dst, idx));
    });
  }

  // dst += n, using the structure of one-hot and padded adjoints to touch only
  // the slices they cover.
  void accumulate_into(View dst, NodeP n) {
    switch (n->op) {
      case Op::Fill:
        if (n->args[0]->is_const(0)) return;
        break;
      case Op::Const:
        if (n->value == 0) return;
        break;
      case Op::OneHot: {
        llvm::Value* i = scalar(n->args[1]);
        dst.base = b_.CreateInBoundsGEP(f64_, dst.base, b_.CreateMul(i, i64c(dst.strides[n->a])));
        dst.dims.erase(dst.dims.begin() + n->a);
        dst.strides.erase(dst.strides.begin() + n->a);
        return accumulate_into(dst, n->args[0]);
      }
      case Op::PadSlice: {
        llvm::Value* i = scalar(n->args[1]);
        dst.base = b_.CreateInBoundsGEP(f64_, dst.base, b_.CreateMul(i, i64c(dst.strides[n->a])));
        dst.dims[n->a] = n->args[0]->dims[n->a];
        return accumulate_into(dst, n->args[0]);
      }
      case Op::MatMul:
        // A product used once (a weight's gradient): accumulate it in place.
        if (uses_[n] <= 1 && !find_view(n) && dst.contiguous() && n->free_loops.empty()) {
          matmul(n, &dst);
          return;
        }
        break;
      case Op::Add:
        if (uses_[n] <= 1 && n->args[0]->dims == n->dims && n->args[1]->dims == n->dims) {
          accumulate_into(dst, n->args[0]);
          return accumulate_into(dst, n->args[1]);
        }
        break;
      default: break;
    }
    if (n->is_scalar()) {
      llvm::Value* old = b_.CreateLoad(f64_, dst.base);
      b_.CreateStore(reassoc_add(old, to_double(scalar(n))), dst.base);
      return;
    }
    with_loop_invariants_hoisted(n, -1);
    for_each_index(n->dims, [&](const std::vector<llvm::Value*>& idx) {
      llvm::Value* p = address(dst, idx);
      b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(f64_, p), to_double(element(n, idx))), p);
    });
  }

  // Slice k along the last (slowest) axis of v: a LoopGen's or a Scan's slot.
  View last_axis_slot(View v, llvm::Value* k) {
    v.base = b_.CreateInBoundsGEP(f64_, v.base, b_.CreateMul(k, i64c(v.strides.back())));
    v.dims.pop_back();
    v.strides.pop_back();
    return v;
  }

  View loop_gen(NodeP n) {
    View dst = contiguous_buffer(n);
    NodeP body = n->args[1];
    llvm::Value* lo = nullptr;
    emit_loop(n, body, [&](llvm::Value* i) {
      if (!lo) lo = scalar(n->args[0]);
      View slot = last_axis_slot(dst, b_.CreateSub(i, lo));
      if (body->is_scalar()) {
        b_.CreateStore(to_double(scalar(body)), slot.base);
      } else {
        for_each_index(body->dims, [&](const std::vector<llvm::Value*>& idx) {
          b_.CreateStore(to_double(element(body, idx)), address(slot, idx));
        });
      }
    });
    return dst;
  }

  // The history of a Scan: slot 0 = init; iteration k reads slot k through the
  // body's ScanState and writes slot k + 1.
  View scan(NodeP n) {
    View dst = contiguous_buffer(n);
    auto slot = [&](llvm::Value* k) { return last_axis_slot(dst, k); };
    store_into(slot(i64c(0)), n->args[0]);
    emit_scan_loop(n, [&](llvm::Value* k) { return std::pair{slot(k), slot(b_.CreateAdd(k, i64c(1)))}; });
    return dst;
  }

  // The final state of a ScanLast: two buffers in turn (n's own and a scratch
  // one), iteration k reading one and writing the other. The initial state goes
  // where the count makes the last iteration write n's own buffer.
  View scan_last(NodeP n) {
    View own = contiguous_buffer(n), other = scratch(n->dims);
    View first = n->b % 2 == 0 ? own : other, second = n->b % 2 == 0 ? other : own;
    store_into(first, n->args[0]);
    emit_scan_loop(n, [&](llvm::Value* k) {
      llvm::Value* even = b_.CreateICmpEQ(b_.CreateAnd(k, i64c(1)), i64c(0));
      View previous = first, next = second;
      previous.base = b_.CreateSelect(even, first.base, second.base);
      next.base = b_.CreateSelect(even, second.base, first.base);
      return std::pair{previous, next};
    });
    return own;
  }

  // The loop of a Scan or a ScanLast: iteration k (loop variable lo + k) reads
  // the state from the first view `slots(k)` gives (the body's ScanState) and
  // writes the body into the second.
  void emit_scan_loop(NodeP n, const std::function<std::pair<View, View>(llvm::Value*)>& slots) {
    NodeP body = n->args[2];
    NodeP state = loop_leaf(Op::ScanState, static_cast<int>(n->a), body);
    llvm::Value* lo = nullptr;
    emit_loop(n, body, [&](llvm::Value* i) {
      if (!lo) lo = scalar(n->args[1]);
      // (not a structured binding: the lambda below reads `next`, which C++17 does not allow for one)
      const std::pair<View, View> views = slots(b_.CreateSub(i, lo));
      const View &previous = views.first, &next = views.second;
      if (state) {
        if (state->is_scalar()) scopes_.back().scalars[state] = as_dtype(b_.CreateLoad(f64_, previous.base), state->dtype);
        else scopes_.back().views[state] = previous;
      }
      if (body->is_scalar()) {
        b_.CreateStore(to_double(scalar(body)), next.base);
      } else {
        // Buffers the body is or reads (products, inner loops) once per iteration, not once per element.
        with_loop_invariants_hoisted(body, -1);
        for_each_index(body->dims, [&](const std::vector<llvm::Value*>& idx) {
          b_.CreateStore(to_double(element(body, idx)), address(next, idx));
        });
      }
    });
  }

  // ---- dense linear algebra (small matrices: loops emitted inline) ------------------------

  llvm::Value* load(const View& v, const std::vector<llvm::Value*>& idx) {
    if (v.single) internal("a single-precision tensor read by linear algebra");
    return b_.CreateLoad(f64_, address(v, idx));
  }
  void store(const View& v, const std::vector<llvm::Value*>& idx, llvm::Value* x) { b_.CreateStore(x, address(v, idx)); }
  llvm::Value* plus(llvm::Value* i, int64_t k) { return b_.CreateAdd(i, i64c(k)); }

  // Doubles of workspace that no node owns: scratch for one op's emission.
  View scratch(const std::vector<int64_t>& dims) {
    int64_t count = std::max<int64_t>(ir::element_count(dims), 1);
    llvm::Value* base = b_.CreateConstInBoundsGEP1_64(f64_, ws_, static_cast<uint64_t>(workspace_used_));
    workspace_used_ += count + (8 - count % 8) % 8;
    return {base, dims, column_major_strides(dims)};
  }

  // The lower Cholesky factor, right-looking: A's lower triangle is copied, then
  // for each column j the pivot's square root divides the column below it and
  // the trailing lower triangle is updated (inner loops run down columns). A
  // pivot that is not positive (or NaN) becomes NaN, and so does everything it touches.
  View cholesky(NodeP n) {
    View dst = contiguous_buffer(n);
    View a = view(n->args[0]);
    int64_t size = n->dims[0];
    if (size == 0) return dst;
    llvm::Value* last = i64c(size - 1);
    for_each_index(n->dims, [&](const std::vector<llvm::Value*>& idx) {
      llvm::Value* below = b_.CreateICmpSGE(idx[0], idx[1]);
      store(dst, idx, b_.CreateSelect(below, load(a, idx), f64c(0)));
    });
    for_loop(i64c(0), last, [&](llvm::Value* j) {
      llvm::Value* pivot = load(dst, {j, j});
      llvm::Value* root = b_.CreateSelect(b_.CreateFCmpOGT(pivot, f64c(0)), intrinsic(llvm::Intrinsic::sqrt, pivot),
                                          f64c(std::numeric_limits<double>::quiet_NaN()));
      store(dst, {j, j}, root);
      for_loop(plus(j, 1), last, [&](llvm::Value* i) { store(dst, {i, j}, b_.CreateFDiv(load(dst, {i, j}), root)); });
      for_loop(plus(j, 1), last, [&](llvm::Value* k) {
        llvm::Value* l_kj = load(dst, {k, j});
        for_loop(k, last, [&](llvm::Value* i) {
          store(dst, {i, k}, b_.CreateFSub(load(dst, {i, k}), b_.CreateFMul(load(dst, {i, j}), l_kj)));
        });
      });
    });
    return dst;
  }

  // x := T^-1 x for each column x of `cols` (n x m, contiguous) and T triangular
  // (`upper`, or lower; `unit`: ones on the diagonal, not read), by substitution down
  // (lower) or up (upper) the columns of T.
  void triangular_solve_in_place(const View& t, const View& cols, int64_t size, int64_t m, bool upper, bool unit) {
    if (size == 0) return;
    llvm::Value* last = i64c(size - 1);
    for_loop(i64c(0), i64c(m - 1), [&](llvm::Value* c) {
      View x = cols.dims.size() == 2 ? last_axis_slot(cols, c) : cols;
      for_loop(i64c(0), last, [&](llvm::Value* step) {
        llvm::Value* j = upper ? b_.CreateSub(last, step) : step;
        llvm::Value* x_j = load(x, {j});
        if (!unit) {
          x_j = b_.CreateFDiv(x_j, load(t, {j, j}));
          store(x, {j}, x_j);
        }
        auto update = [&](llvm::Value* i) {
          store(x, {i}, b_.CreateFSub(load(x, {i}), b_.CreateFMul(load(t, {i, j}), x_j)));
        };
        if (upper) for_loop(i64c(0), b_.CreateSub(j, i64c(1)), update);
        else for_loop(plus(j, 1), last, update);
      });
    });
  }

  // TriSolve: substitution; Solve: LU factorisation with partial pivoting (rows of
  // the factors and of the right-hand sides swapped as the pivots are chosen), then
  // the unit lower and the upper substitutions.
  View solve(NodeP n) {
    View dst = contiguous_buffer(n);
    NodeP matrix = n->args[0], rhs = n->args[1];
    int64_t size = matrix->dims[0], m = rhs->dims.size() == 2 ? rhs->dims[1] : 1;
    store_into(dst, rhs);
    if (size == 0 || m == 0) return dst;
    if (n->op == Op::TriSolve) {
      triangular_solve_in_place(view(matrix), dst, size, m, n->a != 0, false);
      return dst;
    }
    View lu = scratch(matrix->dims);
    store_into(lu, matrix);
    llvm::Value* last = i64c(size - 1);
    llvm::Value* best = entry_alloca(f64_);
    llvm::Value* best_row = entry_alloca(i64_);
    for_loop(i64c(0), last, [&](llvm::Value* k) {
      b_.CreateStore(f64c(-1), best);
      b_.CreateStore(k, best_row);
      for_loop(k, last, [&](llvm::Value* i) {
        llvm::Value* magnitude = intrinsic(llvm::Intrinsic::fabs, load(lu, {i, k}));
        llvm::Value* larger = b_.CreateFCmpOGT(magnitude, b_.CreateLoad(f64_, best));
        b_.CreateStore(b_.CreateSelect(larger, magnitude, b_.CreateLoad(f64_, best)), best);
        b_.CreateStore(b_.CreateSelect(larger, i, b_.CreateLoad(i64_, best_row)), best_row);
      });
      llvm::Value* p = b_.CreateLoad(i64_, best_row);
      auto swap_rows = [&](const View& v, int64_t columns) {
        for_loop(i64c(0), i64c(columns - 1), [&](llvm::Value* c) {
          std::vector<llvm::Value*> at_k{k}, at_p{p};
          if (v.dims.size() == 2) {
            at_k.push_back(c);
            at_p.push_back(c);
          }
          llvm::Value* x = load(v, at_k);
          store(v, at_k, load(v, at_p));
          store(v, at_p, x);
        });
      };
      swap_rows(lu, size);
      swap_rows(dst, m);
      llvm::Value* pivot = load(lu, {k, k});
      for_loop(plus(k, 1), last, [&](llvm::Value* i) { store(lu, {i, k}, b_.CreateFDiv(load(lu, {i, k}), pivot)); });
      for_loop(plus(k, 1), last, [&](llvm::Value* j) {
        llvm::Value* u_kj = load(lu, {k, j});
        for_loop(plus(k, 1), last, [&](llvm::Value* i) {
          store(lu, {i, j}, b_.CreateFSub(load(lu, {i, j}), b_.CreateFMul(load(lu, {i, k}), u_kj)));
        });
      });
    });
    triangular_solve_in_place(lu, dst, size, m, false, true);
    triangular_solve_in_place(lu, dst, size, m, true, false);
    return dst;
  }

  // if (cond) body(): values computed in the body do not dominate the code after it.
  void if_then(llvm::Value* cond, const std::function<void()>& body) {
    auto* then_bb = llvm::BasicBlock::Create(ctx_, "then", fn_);
    auto* merge = llvm::BasicBlock::Create(ctx_, "endif", fn_);
    b_.CreateCondBr(cond, then_bb, merge);
    b_.SetInsertPoint(then_bb);
    scopes_.emplace_back();
    body();
    scopes_.pop_back();
    b_.CreateBr(merge);
    b_.SetInsertPoint(merge);
  }

  // x := c x - s y, y := s x + c y for the values at two addresses.
  void rotate(llvm::Value* px, llvm::Value* py, llvm::Value* c, llvm::Value* s) {
    llvm::Value* x = b_.CreateLoad(f64_, px);
    llvm::Value* y = b_.CreateLoad(f64_, py);
    b_.CreateStore(b_.CreateFSub(b_.CreateFMul(c, x), b_.CreateFMul(s, y)), px);
    b_.CreateStore(b_.CreateFAdd(b_.CreateFMul(s, x), b_.CreateFMul(c, y)), py);
  }

  // The eigendecomposition of a symmetric matrix (its lower triangle) by cyclic Jacobi
  // rotations: each rotation in the (p, q) plane zeroes W[p, q] (W = J' W J, V = V J,
  // t = sign(theta) / (|theta| + sqrt(theta^2 + 1)), theta = (W[q, q] - W[p, p]) / (2 W[p, q]),
  // c = 1 / sqrt(t^2 + 1), s = t c); sweeps until the off-diagonal part is below 1e-30
  // of the whole (at most 100 sweeps). Then the eigenvalues are sorted in ascending order
  // with their vectors, and each vector's largest component made positive.
  View eigen_sym(NodeP n) {
    View dst = contiguous_buffer(n);
    int64_t size = n->dims[0];
    if (size == 0) return dst;
    View a = view(n->args[0]);
    View w = scratch({size, size});
    View values{dst.base, {size}, {1}};
    View v{b_.CreateConstInBoundsGEP1_64(f64_, dst.base, static_cast<uint64_t>(size)), {size, size}, {1, size}};
    llvm::Value* last = i64c(size - 1);
    for_each_index({size, size}, [&](const std::vector<llvm::Value*>& idx) {
      llvm::Value* below = b_.CreateICmpSGE(idx[0], idx[1]);
      llvm::Value* x = b_.CreateSelect(below, load(a, idx), load(a, {idx[1], idx[0]}));
      store(w, idx, x);
      store(v, idx, b_.CreateSelect(b_.CreateICmpEQ(idx[0], idx[1]), f64c(1), f64c(0)));
    });
    llvm::Value* converged = entry_alloca(i64_);
    llvm::Value* off = entry_alloca(f64_);
    llvm::Value* total = entry_alloca(f64_);
    b_.CreateStore(i64c(0), converged);
    for_loop(i64c(0), i64c(99), [&](llvm::Value*) {
      b_.CreateStore(f64c(0), off);
      b_.CreateStore(f64c(0), total);
      for_each_index({size, size}, [&](const std::vector<llvm::Value*>& idx) {
        llvm::Value* x = load(w, idx);
        llvm::Value* x2 = b_.CreateFMul(x, x);
        b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(f64_, total), x2), total);
        llvm::Value* outside = b_.CreateICmpNE(idx[0], idx[1]);
        b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(f64_, off), b_.CreateSelect(outside, x2, f64c(0))), off);
      });
      llvm::Value* small = b_.CreateFCmpOLE(b_.CreateLoad(f64_, off), b_.CreateFMul(f64c(1e-30), b_.CreateLoad(f64_, total)));
      llvm::Value* stop = b_.CreateOr(small, b_.CreateFCmpUNO(b_.CreateLoad(f64_, total), f64c(0)));  // NaN: stop
      b_.CreateStore(b_.CreateSelect(stop, i64c(1), b_.CreateLoad(i64_, converged)), converged);
      if_then(b_.CreateICmpEQ(b_.CreateLoad(i64_, converged), i64c(0)), [&] {
        for_loop(i64c(0), i64c(size - 2), [&](llvm::Value* p) {
          for_loop(plus(p, 1), last, [&](llvm::Value* q) {
            llvm::Value* apq = load(w, {p, q});
            if_then(b_.CreateFCmpOGT(intrinsic(llvm::Intrinsic::fabs, apq), f64c(1e-300)), [&] {
              llvm::Value* theta = b_.CreateFDiv(b_.CreateFSub(load(w, {q, q}), load(w, {p, p})), b_.CreateFMul(f64c(2), apq));
              llvm::Value* abs_theta = intrinsic(llvm::Intrinsic::fabs, theta);
              llvm::Value* sign = b_.CreateSelect(b_.CreateFCmpOLT(theta, f64c(0)), f64c(-1), f64c(1));
              llvm::Value* root = intrinsic(llvm::Intrinsic::sqrt, b_.CreateFAdd(b_.CreateFMul(theta, theta), f64c(1)));
              llvm::Value* t = b_.CreateSelect(b_.CreateFCmpOGT(abs_theta, f64c(1e150)), b_.CreateFDiv(f64c(0.5), theta),
                                               b_.CreateFDiv(sign, b_.CreateFAdd(abs_theta, root)));
              llvm::Value* c = b_.CreateFDiv(f64c(1), intrinsic(llvm::Intrinsic::sqrt, b_.CreateFAdd(b_.CreateFMul(t, t), f64c(1))));
              llvm::Value* s = b_.CreateFMul(t, c);
              for_loop(i64c(0), last, [&](llvm::Value* k) { rotate(address(w, {k, p}), address(w, {k, q}), c, s); });
              for_loop(i64c(0), last, [&](llvm::Value* k) { rotate(address(w, {p, k}), address(w, {q, k}), c, s); });
              store(w, {p, q}, f64c(0));
              store(w, {q, p}, f64c(0));
              for_loop(i64c(0), last, [&](llvm::Value* k) { rotate(address(v, {k, p}), address(v, {k, q}), c, s); });
            });
          });
        });
      });
    });
    for_loop(i64c(0), last, [&](llvm::Value* k) { store(values, {k}, load(w, {k, k})); });
    // Selection sort, ascending, moving the vectors with their values.
    llvm::Value* best = entry_alloca(f64_);
    llvm::Value* best_at = entry_alloca(i64_);
    for_loop(i64c(0), i64c(size - 2), [&](llvm::Value* i) {
      b_.CreateStore(load(values, {i}), best);
      b_.CreateStore(i, best_at);
      for_loop(plus(i, 1), last, [&](llvm::Value* j) {
        llvm::Value* x = load(values, {j});
        llvm::Value* smaller = b_.CreateFCmpOLT(x, b_.CreateLoad(f64_, best));
        b_.CreateStore(b_.CreateSelect(smaller, x, b_.CreateLoad(f64_, best)), best);
        b_.CreateStore(b_.CreateSelect(smaller, j, b_.CreateLoad(i64_, best_at)), best_at);
      });
      llvm::Value* m = b_.CreateLoad(i64_, best_at);
      llvm::Value* vi = load(values, {i});
      store(values, {i}, load(values, {m}));
      store(values, {m}, vi);
      for_loop(i64c(0), last, [&](llvm::Value* k) {
        llvm::Value* x = load(v, {k, i});
        store(v, {k, i}, load(v, {k, m}));
        store(v, {k, m}, x);
      });
    });
    // Each vector's component of largest magnitude (the first of equals) positive.
    for_loop(i64c(0), last, [&](llvm::Value* k) {
      b_.CreateStore(f64c(-1), best);
      b_.CreateStore(f64c(1), off);  // the sign of that component
      for_loop(i64c(0), last, [&](llvm::Value* i) {
        llvm::Value* x = load(v, {i, k});
        llvm::Value* larger = b_.CreateFCmpOGT(intrinsic(llvm::Intrinsic::fabs, x), b_.CreateLoad(f64_, best));
        b_.CreateStore(b_.CreateSelect(larger, intrinsic(llvm::Intrinsic::fabs, x), b_.CreateLoad(f64_, best)), best);
        llvm::Value* sign = b_.CreateSelect(b_.CreateFCmpOLT(x, f64c(0)), f64c(-1), f64c(1));
        b_.CreateStore(b_.CreateSelect(larger, sign, b_.CreateLoad(f64_, off)), off);
      });
      llvm::Value* sign = b_.CreateLoad(f64_, off);
      for_loop(i64c(0), last, [&](llvm::Value* i) { store(v, {i, k}, b_.CreateFMul(load(v, {i, k}), sign)); });
    });
    return dst;
  }

  // kernels.hpp's matmul_flags: accumulate, single precision.
  int64_t matmul_flags(int64_t multiply_adds, bool accumulate) const {
    bool single = spec_.single_precision_products && multiply_adds >= kSinglePrecisionProductSize;
    return (accumulate ? matmul_flags::kAccumulate : 0) | (single ? matmul_flags::kSingle : 0);
  }

  // Matrix products go to the Eigen kernel (kernels/matmul.cpp);
  // with `into`, the product is added to that contiguous destination.
  View matmul(NodeP n, const View* into = nullptr, bool accumulate = true) {
    NodeP x = n->args[0], y = n->args[1];
    View a = view(x), b = view(y);
    // Express both operands as 2-D (rows, cols, row stride, col stride).
    auto as_matrix = [](const View& v, bool is_left) {
      struct M { int64_t rows, cols, rs, cs; } m{};
      if (v.dims.size() == 2) m = {v.dims[0], v.dims[1], v.strides[0], v.strides[1]};
      else if (is_left) m = {1, v.dims[0], 0, v.strides[0]};
      else m = {v.dims[0], 1, v.strides[0], 0};
      return m;
    };
    auto ma = as_matrix(a, true), mb = as_matrix(b, false);
    View dst = into ? *into : contiguous_buffer(n, single_result(n));
    int64_t flags = matmul_flags(multiply_adds(n), into && accumulate);
    if (a.single) flags |= matmul_flags::kFloatA;
    if (b.single) flags |= matmul_flags::kFloatB;
    if (dst.single) flags |= matmul_flags::kFloatC;
    if ((a.single || b.single || dst.single) && !(flags & matmul_flags::kSingle))
      internal("a single-precision tensor in a double-precision product");
    auto callee = module_.getOrInsertFunction(
        runtime_symbols::matmul,
        llvm::FunctionType::get(b_.getVoidTy(), {i64_, i64_, i64_, ptr_, i64_, i64_, ptr_, i64_, i64_, ptr_, i64_}, false));
    b_.CreateCall(callee, {i64c(ma.rows), i64c(mb.cols), i64c(ma.cols), a.base, i64c(ma.rs), i64c(ma.cs), b.base,
                           i64c(mb.rs), i64c(mb.cs), dst.base, i64c(flags)});
    return dst;
  }

  const ir::Graph& graph_;
  llvm::Module& module_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  const FunctionSpec& spec_;
  llvm::Type *f64_ = nullptr, *f32_ = nullptr, *i64_ = nullptr, *ptr_ = nullptr;
  llvm::Function* fn_ = nullptr;
  llvm::Value *inputs_ = nullptr, *out_ = nullptr, *ws_ = nullptr, *rt_ctx_ = nullptr;
  llvm::BasicBlock* entry_ = nullptr;
  std::unordered_map<NodeP, int> uses_;
  std::unordered_map<NodeP, std::vector<NodeP>> users_;
  std::unordered_set<NodeP> outputs_;
  std::unordered_map<NodeP, bool> lazy_loop_gens_;
  std::unordered_map<NodeP, std::shared_ptr<std::vector<NodeP>>> loop_groups_;  // LoopSums emitted as one loop
  std::unordered_map<NodeP, int64_t> ws_offsets_;
  int64_t workspace_used_ = 0;
  std::vector<Scope> scopes_;
  bool loop_reduces_ = false;  // the loop being emitted accumulates a sum (reassoc_add)
  int loop_depth_ = 0;         // loops enclosing the code being emitted
  bool cold_ = false;          // emitting a failed check's report: runs at most once per evaluation
};

}  // namespace

std::vector<EmittedFunction> emit_functions(const ir::Graph& graph, const std::vector<FunctionSpec>& specs,
                                            llvm::Module& module) {
  std::vector<EmittedFunction> out;
  for (const auto& spec : specs) out.push_back(FunctionEmitter(graph, module, spec).emit());
  return out;
}

}  // namespace latent::codegen
