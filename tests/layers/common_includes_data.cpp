// Layer check (tests/CMakeLists.txt): the common layer cannot see the data layer.
#include "data/json_data.hpp"
