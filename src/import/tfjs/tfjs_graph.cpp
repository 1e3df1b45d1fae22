#include "import/tfjs/tfjs_graph.hpp"

#include "common/fs.hpp"

#include <facerec/error.hpp>

namespace facerec::detail {

std::string base64_decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int buf = 0, bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;  // '=' padding and whitespace
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((buf >> bits) & 0xff);
    }
  }
  return out;
}

std::string base64_encode(const std::string& in) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += digits[(v >> (6 * k)) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | (i + 1 < in.size() ? uint32_t(uint8_t(in[i + 1])) << 8 : 0u);
    out += digits[(v >> 18) & 63];
    out += digits[(v >> 12) & 63];
    out += i + 1 < in.size() ? digits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::pair<std::string, int> split_ref(const std::string& ref) {
  auto colon = ref.rfind(':');
  if (colon == std::string::npos) return {ref, 0};
  std::string tail = ref.substr(colon + 1);
  if (tail.empty() || tail.find_first_not_of("0123456789") != std::string::npos) return {ref, 0};
  return {ref.substr(0, colon), std::stoi(tail)};
}

static const nlohmann::json* find_attr(const nlohmann::json& attr, const std::string& key) {
  if (!attr.is_object()) return nullptr;
  auto it = attr.find(key);
  return it == attr.end() ? nullptr : &*it;
}

std::vector<int64_t> TfNode::ints(const std::string& key) const {
  std::vector<int64_t> out;
  const auto* a = find_attr(attr, key);
  if (!a || !a->contains("list")) return out;
  const auto& l = a->at("list");
  if (!l.contains("i")) return out;
  for (const auto& v : l.at("i")) out.push_back(v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>());
  return out;
}

std::vector<std::string> TfNode::strings(const std::string& key) const {
  std::vector<std::string> out;
  const auto* a = find_attr(attr, key);
  if (!a || !a->contains("list")) return out;
  const auto& l = a->at("list");
  if (!l.contains("s")) return out;
  for (const auto& v : l.at("s")) out.push_back(base64_decode(v.get<std::string>()));
  return out;
}

std::string TfNode::str(const std::string& key, const std::string& fallback) const {
  const auto* a = find_attr(attr, key);
  if (!a || !a->contains("s")) return fallback;
  return base64_decode(a->at("s").get<std::string>());
}

int64_t TfNode::i(const std::string& key, int64_t fallback) const {
  const auto* a = find_attr(attr, key);
  if (!a || !a->contains("i")) return fallback;
  const auto& v = a->at("i");
  return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
}

float TfNode::f(const std::string& key, float fallback) const {
  const auto* a = find_attr(attr, key);
  if (!a || !a->contains("f")) return fallback;
  return a->at("f").get<float>();
}

bool TfNode::b(const std::string& key, bool fallback) const {
  const auto* a = find_attr(attr, key);
  if (!a || !a->contains("b")) return fallback;
  return a->at("b").get<bool>();
}

const TfNode& TfGraph::node(const std::string& name) const {
  auto it = index.find(name);
  if (it == index.end()) throw Error(ErrorKind::BadModel, "graph refers to a missing node '" + name + "'");
  return nodes[it->second];
}

TfGraph load_tfjs_graph(const std::filesystem::path& model_json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(model_json));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::BadModel, model_json.string() + ": not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("modelTopology") || !j.contains("weightsManifest"))
    throw Error(ErrorKind::BadModel,
                model_json.string() + ": not a TFJS graph model (no modelTopology/weightsManifest)");
  const auto& topo = j.at("modelTopology");
  if (!topo.contains("node"))
    throw Error(ErrorKind::BadModel, model_json.string() + ": modelTopology has no 'node' list (a layers model?)");
  if (topo.contains("library") && topo.at("library").contains("function") && !topo.at("library").at("function").empty())
    throw Error(ErrorKind::Unsupported, model_json.string() + ": graph has functions (control flow); not supported");
  TfGraph g;
  g.producer = j.value("convertedBy", std::string());
  for (const auto& n : topo.at("node")) {
    TfNode node;
    node.name = n.at("name").get<std::string>();
    node.op = n.at("op").get<std::string>();
    if (n.contains("input"))
      for (const auto& in : n.at("input")) {
        std::string s = in.get<std::string>();
        if (!s.empty() && s[0] != '^') node.inputs.push_back(s);
      }
    if (n.contains("attr")) node.attr = n.at("attr");
    g.index[node.name] = g.nodes.size();
    g.nodes.push_back(std::move(node));
  }
  try {
    g.weights = load_weights(j.at("weightsManifest"), model_json.parent_path());
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::BadModel, model_json.string() + ": malformed weightsManifest: " + e.what());
  }
  if (j.contains("signature") && j.at("signature").contains("outputs")) {
    for (const auto& [key, spec] : j.at("signature").at("outputs").items()) {
      std::string ref = spec.value("name", key);
      if (!g.index.count(split_ref(ref).first)) ref = key;  // some signatures use the key as ref
      if (!g.index.count(split_ref(ref).first)) continue;
      std::string pub = key;
      for (auto& c : pub)
        if (c == ':' || c == '/') c = '_';
      g.signature_outputs.emplace_back(pub, ref);
    }
  }
  return g;
}

}  // namespace facerec::detail
