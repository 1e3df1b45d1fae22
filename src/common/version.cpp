#include <facerec/version.hpp>

namespace facerec {
const char* version() { return FACEREC_VERSION; }
}  // namespace facerec
