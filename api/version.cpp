// latent::version(): LATENT_VERSION_STRING is defined for this file by CMake
// (the project version).
#include "latent/latent.hpp"

#ifndef LATENT_VERSION_STRING
#define LATENT_VERSION_STRING "0.1.0"
#endif

namespace latent {

const char* version() { return LATENT_VERSION_STRING; }

}  // namespace latent
