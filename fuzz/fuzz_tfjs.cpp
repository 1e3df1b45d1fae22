// The TFJS importer: the input is a model.json (graph + weights manifest); the directory beside it
// holds one weights shard "w.bin" (4 KiB) that manifests may name. import_tfjs_graph reads the
// graph, reads and checks the weights, and writes ONNX — or throws facerec::Error.
#include "fuzz_util.hpp"

#include <facerec/import/import.hpp>
#include <facerec/models.hpp>

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const fs::path dir = [] {
    auto d = facerec::fuzz::scratch() / "tfjs";
    fs::create_directories(d);
    std::vector<uint8_t> w(4096);
    for (size_t i = 0; i < w.size(); ++i) w[i] = uint8_t(i * 37 + 11);
    facerec::fuzz::write_file(d / "w.bin", w.data(), w.size());
    return d;
  }();
  facerec::fuzz::write_file(dir / "model.json", data, size);
  facerec::fuzz::expect_only_errors([&] { facerec::import_tfjs_graph(dir / "model.json", dir / "out.onnx"); });
  return 0;
}
