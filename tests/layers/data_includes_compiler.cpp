// Layer check (tests/CMakeLists.txt): the data layer cannot see the compiler layer.
#include "compiler/ir/ir.hpp"
