#include <facerec/error.hpp>
#include <facerec/import/import.hpp>
#include <facerec/models.hpp>

namespace facerec {

ImportReport import_model(const ModelEntry& model, const std::filesystem::path& package_root,
                          const std::filesystem::path& onnx_out) {
  const auto first = package_root / model.files.front();
  if (model.format == "tfjs-graph")
    return model.cut ? import_tfjs_graph(first, onnx_out, &*model.cut, model.input.name, model.input.width,
                                         model.input.height)
                     : import_tfjs_graph(first, onnx_out);
  if (model.format == "faceapi-weights") return import_faceapi(first, model.arch, onnx_out);
  if (model.format == "tflite") return import_tflite(first, onnx_out, model.free_size);
  throw Error(ErrorKind::Unsupported, "model '" + model.name + "': unknown format '" + model.format + "'");
}

}  // namespace facerec
