// Callbacks from generated code into the runtime: failed checks and print().
#include "kernels/eval_context.hpp"
#include "kernels/kernels.hpp"

#include <ostream>
#include <sstream>

namespace latent {

std::string EvalContext::failure_text() const {
  if (!failed || !messages) return "";
  const Message& m = messages->at(static_cast<size_t>(message));
  std::ostringstream s;
  s.precision(10);
  s << m.location << ": ";
  // Values go into the message's slots (reject), or after it by name (checks).
  size_t next = 0;
  for (char ch : m.text) {
    if (ch == kPrintValueSlot) {
      if (next < values.size()) s << values[next++];
    } else {
      s << ch;
    }
  }
  if (!values.empty() && !m.value_names.empty()) {
    s << " (";
    for (size_t i = 0; i < values.size() && i < m.value_names.size(); ++i)
      s << (i ? ", " : "") << m.value_names[i] << " = " << values[i];
    s << ")";
  }
  return s.str();
}

}  // namespace latent

extern "C" void latent_rt_check_failed(void* ctx, int64_t message, const double* values, int64_t count) {
  auto* c = static_cast<latent::EvalContext*>(ctx);
  if (!c || c->failed) return;  // keep the first failure
  c->failed = true;
  c->message = message;
  c->values.assign(values, values + count);
}

extern "C" void latent_rt_print(void* ctx, int64_t message, const double* values, int64_t count) {
  auto* c = static_cast<latent::EvalContext*>(ctx);
  if (!c || !c->print_stream || !c->messages) return;
  const std::string& text = c->messages->at(static_cast<size_t>(message)).text;
  std::ostream& out = *c->print_stream;
  int64_t next = 0;
  for (char ch : text) {
    if (ch == latent::kPrintValueSlot) {
      if (next < count) out << values[next++];
    } else {
      out << ch;
    }
  }
  out << "\n";
}
