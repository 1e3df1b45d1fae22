#pragma once
// A face's quality as the CLI's JSON outputs give it (detect, embed, quality): the fields of
// FaceQuality::fields() and the model that scored it.
#include <facerec/quality.hpp>

#include <nlohmann/json.hpp>

namespace facerec::cli {

inline nlohmann::ordered_json quality_json(const FaceQuality& q) {
  nlohmann::ordered_json j;
  for (const auto& [k, v] : q.fields()) j[k] = v;
  j["model"] = q.model;
  return j;
}

}  // namespace facerec::cli
