#pragma once
// Decoder for TFJS weight manifests (the "weightsManifest" of a graph model, or face-api's
// *-weights_manifest.json): groups of shard files read in order, each weight with name, shape,
// dtype and optional quantisation (float16; uint8/uint16 as q * scale + min).
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace facerec::detail {

struct WeightTensor {
  std::vector<int64_t> shape;
  bool is_int = false;       // int32 (shapes, paddings, axes) rather than float
  std::vector<float> f;      // float values (dequantised)
  std::vector<int64_t> i;    // integer values
  std::string stored_dtype;  // as stored: float32 | float16 | uint8 | uint16 | int32
  int64_t count() const;
};

// Reads every weight the manifest lists. `base_dir` is where the shard paths are relative to.
// Throws Error(BadModel) on missing or short shards, unknown dtypes, and shape/size mismatches.
std::map<std::string, WeightTensor> load_weights(const nlohmann::json& manifest, const std::filesystem::path& base_dir);

float half_to_float(uint16_t h);

}  // namespace facerec::detail
