#include "import/tfjs/weights.hpp"

#include "common/fs.hpp"

#include <facerec/error.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

namespace facerec::detail {

int64_t WeightTensor::count() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      mant &= 0x3ff;
      bits = sign | (uint32_t(127 - 15 - e) << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static size_t dtype_bytes(const std::string& dt, const std::string& where) {
  if (dt == "float32" || dt == "int32") return 4;
  if (dt == "float16" || dt == "uint16") return 2;
  if (dt == "uint8") return 1;
  throw Error(ErrorKind::Unsupported, "weights: dtype '" + dt + "' is not supported (" + where + ")");
}

std::map<std::string, WeightTensor> load_weights(const nlohmann::json& manifest,
                                                 const std::filesystem::path& base_dir) {
  if (!manifest.is_array()) throw Error(ErrorKind::BadModel, "weights manifest is not an array of groups");
  std::map<std::string, WeightTensor> out;
  for (const auto& group : manifest) {
    std::string buffer;
    if (!group.contains("paths") || !group.contains("weights"))
      throw Error(ErrorKind::BadModel, "weights manifest group lacks 'paths' or 'weights'");
    for (const auto& p : group.at("paths")) buffer += read_file(base_dir / p.get<std::string>());
    size_t offset = 0;
    for (const auto& w : group.at("weights")) {
      WeightTensor t;
      std::string name = w.at("name").get<std::string>();
      t.shape = w.at("shape").get<std::vector<int64_t>>();
      for (auto d : t.shape)
        if (d < 0) throw Error(ErrorKind::BadModel, "weight '" + name + "' has a negative dimension");
      std::string dtype = w.at("dtype").get<std::string>();
      std::string stored = dtype;
      double scale = 1, min = 0;
      bool quant = w.contains("quantization");
      if (quant) {
        const auto& q = w.at("quantization");
        stored = q.at("dtype").get<std::string>();
        if (stored != "float16") {
          scale = q.at("scale").get<double>();
          min = q.at("min").get<double>();
        }
      }
      t.stored_dtype = stored;
      int64_t n = t.count();
      size_t bytes = size_t(n) * dtype_bytes(stored, name);
      if (offset + bytes > buffer.size())
        throw Error(ErrorKind::BadModel, "weight shards too short: '" + name + "' needs " + std::to_string(bytes) +
                                             " bytes at offset " + std::to_string(offset) + ", shards hold " +
                                             std::to_string(buffer.size()));
      const char* p = buffer.data() + offset;
      if (dtype == "int32" && !quant) {
        t.is_int = true;
        t.i.resize(size_t(n));
        for (int64_t k = 0; k < n; ++k) {
          int32_t v;
          std::memcpy(&v, p + 4 * k, 4);
          t.i[size_t(k)] = v;
        }
      } else if (dtype == "float32" || dtype == "int32") {
        t.f.resize(size_t(n));
        if (stored == "float32") {
          std::memcpy(t.f.data(), p, bytes);
        } else if (stored == "float16") {
          for (int64_t k = 0; k < n; ++k) {
            uint16_t h;
            std::memcpy(&h, p + 2 * k, 2);
            t.f[size_t(k)] = half_to_float(h);
          }
        } else if (stored == "uint8") {
          for (int64_t k = 0; k < n; ++k)
            t.f[size_t(k)] = float(double(uint8_t(p[k])) * scale + min);  // as tfjs: in double, then float32
        } else if (stored == "uint16") {
          for (int64_t k = 0; k < n; ++k) {
            uint16_t h;
            std::memcpy(&h, p + 2 * k, 2);
            t.f[size_t(k)] = float(double(h) * scale + min);
          }
        } else {
          throw Error(ErrorKind::Unsupported, "weight '" + name + "': quantisation " + stored);
        }
        if (dtype == "int32") {  // quantised integers: round back
          t.is_int = true;
          for (float v : t.f) t.i.push_back(int64_t(std::lround(v)));
          t.f.clear();
        }
      } else {
        throw Error(ErrorKind::Unsupported, "weight '" + name + "' has dtype " + dtype);
      }
      offset += bytes;
      out[name] = std::move(t);
    }
    if (offset != buffer.size())
      throw Error(ErrorKind::BadModel, "weight shards hold " + std::to_string(buffer.size() - offset) +
                                           " bytes more than the manifest describes");
  }
  return out;
}

}  // namespace facerec::detail
