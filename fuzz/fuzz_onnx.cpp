// ONNX loading in every backend: the input is written as a model file and loaded by each
// registered backend (opencv-dnn, reference); a model that loads is run once on zeros of its
// declared input shape (free dimensions as 1, inputs above 1M elements skipped).
#include "fuzz_util.hpp"

#include <facerec/backend.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto path = facerec::fuzz::scratch() / "model.onnx";
  facerec::fuzz::write_file(path, data, size);
  for (const auto& name : facerec::backend_names()) {
    facerec::fuzz::expect_only_errors([&] {
      auto b = facerec::load_backend(name, path.string());
      std::vector<facerec::Tensor> in;
      for (const auto& spec : b->inputs()) {
        std::vector<int64_t> shape;
        int64_t n = 1;
        for (int64_t d : spec.shape) {
          shape.push_back(d > 0 ? d : 1);
          n *= shape.back();
          if (n > (1 << 20)) return;
        }
        in.emplace_back(shape);
      }
      b->run(in);
    });
  }
  return 0;
}
