// Layer check (tests/CMakeLists.txt): the api layer cannot see the cli layer.
#include "cli/common.hpp"
