// Search-index files (FRIX, every format version): load_index on any bytes, and a search on
// what loads.
#include "fuzz_util.hpp"

#include <facerec/gallery/index.hpp>

#include <sstream>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  facerec::fuzz::expect_only_errors([&] {
    auto index = facerec::load_index(in);
    if (index->dim() > 0 && index->dim() <= 4096) {
      std::vector<float> q(size_t(index->dim()), 0.f);
      q[0] = 1.f;
      index->search(q.data(), 5);
    }
  });
  return 0;
}
