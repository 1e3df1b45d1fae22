// TFLite flatbuffer -> ONNX: the file read into a TF graph (tflite_model.cpp), then the converter
// the TFJS importer uses.
#include "common/fs.hpp"
#include "import/import_guard.hpp"
#include "import/onnx/onnx_builder.hpp"
#include "import/tflite/tflite_model.hpp"

#include <facerec/import/import.hpp>

namespace facerec {

ImportReport import_tflite(const std::filesystem::path& tflite, const std::filesystem::path& onnx_out, bool free_size) {
  return detail::guard_import(tflite, [&] {
    detail::TfliteGraph t = detail::load_tflite_graph(tflite, /*free_batch=*/true);
    ImportReport report;
    report.nodes_in = t.operators;
    detail::OnnxBuilder b(tflite.stem().string());
    detail::tf_graph_to_onnx(t.graph, b, report, free_size);
    b.set_doc("tflite", "imported by facerec from " + tflite.filename().string() + " (" + t.graph.producer +
                            ", weights " + t.weights_dtype + ")");
    report.nodes_out = b.node_count();
    detail::write_file_atomic(onnx_out, b.serialize());
    return report;
  });
}

}  // namespace facerec
