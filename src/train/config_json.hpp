#pragma once
// The JSON reading rules of training configs, one home for TrainConfig (config.cpp) and
// LandmarkTrainConfig (landmark_trainer.cpp): typed fields, unknown fields refused, the
// augmentation section. Internal (not installed).
#include <facerec/error.hpp>
#include <facerec/train/augment.hpp>

#include <nlohmann/json.hpp>

#include <set>
#include <string>

namespace facerec::train {

using json = nlohmann::json;

// Reads j[key] into v when present (recording the key as known). Throws Error(InvalidArgument)
// naming `where` + key for a value of the wrong type.
template <typename T>
inline void get(const json& j, const char* key, T& v, std::set<std::string>& seen, const std::string& where) {
  seen.insert(key);
  if (!j.contains(key)) return;
  try {
    v = j.at(key).get<T>();
  } catch (const json::exception&) {
    throw Error(ErrorKind::InvalidArgument, "train config: " + where + key + " has the wrong type");
  }
}

inline void no_unknown(const json& j, const std::set<std::string>& seen, const std::string& where) {
  for (const auto& [k, v] : j.items())
    if (!seen.count(k)) throw Error(ErrorKind::InvalidArgument, "train config: unknown field " + where + k);
}

// The augmentation section, as JSON and back (unknown fields refused).
json augment_json(const AugmentOptions& a);
AugmentOptions augment_from(const json& j);

}  // namespace facerec::train
