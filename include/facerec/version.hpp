#pragma once
// The library's version (the project version in CMakeLists.txt).
namespace facerec {
const char* version();
}
