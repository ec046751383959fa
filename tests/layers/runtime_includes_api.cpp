// Layer check (tests/CMakeLists.txt): the runtime layer cannot see the api layer.
#include "api/internal.hpp"
