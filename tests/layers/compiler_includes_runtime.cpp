// Layer check (tests/CMakeLists.txt): the compiler layer cannot see the runtime layer.
#include "runtime/model/bound_model.hpp"
