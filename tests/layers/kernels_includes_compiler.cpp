// Layer check (tests/CMakeLists.txt): the kernels layer cannot see the compiler layer.
#include "compiler/ir/ir.hpp"
