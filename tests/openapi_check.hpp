#pragma once
// Checks a response of the REST service against its OpenAPI 3.1 document, for the service tests:
// the operation is documented, the status is documented (or covered by `default`), the content type
// is documented, and a JSON body validates against the documented schema. The schema check covers
// the JSON Schema keywords the document uses: $ref (local), type (one or a list; "integer" is a
// whole number), const, enum, properties, required, additionalProperties, items, oneOf, anyOf,
// allOf, minimum, maximum, minLength, maxLength. Keywords outside that list (description, format,
// default, ...) do not constrain. tests/js/openapi-responses.mjs is its JavaScript twin (over Ajv).
#include <nlohmann/json.hpp>

#include <regex>
#include <string>

namespace facerec::test {

class OpenApiCheck {
 public:
  using Json = nlohmann::json;
  explicit OpenApiCheck(Json doc) : doc_(std::move(doc)) {}

  // Empty when `value` validates against `schema`; otherwise what is wrong, and where.
  std::string validate(const Json& value, const Json& schema, const std::string& at = "$") const {
    if (schema.is_boolean()) return schema.get<bool>() ? "" : at + ": no value is allowed here";
    if (!schema.is_object()) return at + ": the schema is not an object";
    if (schema.contains("$ref")) {
      if (auto p = validate(value, resolve(schema["$ref"].get<std::string>()), at); !p.empty()) return p;
    }
    if (schema.contains("type")) {
      const Json& t = schema["type"];
      bool ok = false;
      if (t.is_array()) {
        for (const auto& one : t) ok = ok || is_type(value, one.get<std::string>());
      } else {
        ok = is_type(value, t.get<std::string>());
      }
      if (!ok) return at + ": " + value.type_name() + " where the document says " + t.dump();
    }
    if (schema.contains("const") && value != schema["const"])
      return at + ": " + value.dump() + " is not " + schema["const"].dump();
    if (schema.contains("enum")) {
      bool in = false;
      for (const auto& e : schema["enum"]) in = in || e == value;
      if (!in) return at + ": " + value.dump() + " is not one of " + schema["enum"].dump();
    }
    if (value.is_number()) {
      double v = value.get<double>();
      if (schema.contains("minimum") && v < schema["minimum"].get<double>()) return at + ": below the minimum";
      if (schema.contains("maximum") && v > schema["maximum"].get<double>()) return at + ": above the maximum";
    }
    if (value.is_string()) {
      size_t n = value.get<std::string>().size();  // bytes: enough for the ASCII limits checked here
      if (schema.contains("minLength") && n < schema["minLength"].get<size_t>()) return at + ": too short";
      if (schema.contains("maxLength") && n > schema["maxLength"].get<size_t>()) return at + ": too long";
    }
    if (value.is_object()) {
      if (schema.contains("required"))
        for (const auto& r : schema["required"])
          if (!value.contains(r.get<std::string>()))
            return at + ": required property '" + r.get<std::string>() + "' is missing";
      const Json props = schema.value("properties", Json::object());
      for (const auto& [k, v] : value.items()) {
        if (props.contains(k)) {
          if (auto p = validate(v, props[k], at + "." + k); !p.empty()) return p;
        } else if (schema.contains("additionalProperties")) {
          if (auto p = validate(v, schema["additionalProperties"], at + "." + k); !p.empty())
            return at + ": additional property '" + k + "' is not documented (" + p + ")";
        }
      }
    }
    if (value.is_array() && schema.contains("items"))
      for (size_t i = 0; i < value.size(); ++i)
        if (auto p = validate(value[i], schema["items"], at + "[" + std::to_string(i) + "]"); !p.empty()) return p;
    if (schema.contains("allOf"))
      for (const auto& s : schema["allOf"])
        if (auto p = validate(value, s, at); !p.empty()) return p;
    if (schema.contains("anyOf")) {
      bool any = false;
      for (const auto& s : schema["anyOf"]) any = any || validate(value, s, at).empty();
      if (!any) return at + ": matches none of anyOf";
    }
    if (schema.contains("oneOf")) {
      int matches = 0;
      for (const auto& s : schema["oneOf"]) matches += validate(value, s, at).empty();
      if (matches != 1) return at + ": matches " + std::to_string(matches) + " of oneOf, not exactly one";
    }
    return "";
  }

  // Empty when the response is as documented; otherwise what is not. `path` may carry a query.
  std::string response(const std::string& method, std::string path, int status, const std::string& content_type,
                       const std::string& body) const {
    path = path.substr(0, path.find('?'));
    std::string m = method;
    for (auto& c : m) c = char(std::tolower(static_cast<unsigned char>(c)));
    const bool head = m == "head";  // HTTP's GET without the body: checked as the GET it stands for
    if (head) m = "get";
    const std::string what = method + " " + path + " " + std::to_string(status);
    const Json* op = nullptr;
    for (const auto& [templ, item] : doc_["paths"].items()) {
      std::string re = std::regex_replace(templ, std::regex(R"([.+?^$()|\[\]\\*])"), R"(\$&)");
      re = std::regex_replace(re, std::regex(R"(\{[^}]+\})"), "[^/]+");
      if (std::regex_match(path, std::regex(re))) {
        if (item.contains(m)) op = &item[m];
        // the service's own "no route" (with a key) or "unauthorized" (without), as an Error
        else if (status == 404 || status == 401)
          return error_body(body, what);
        else
          return what + ": the method is not documented for " + templ;
      }
    }
    if (!op) {
      if (status != 404 && status != 401) return what + ": the path is not documented";
      return error_body(body, what);
    }
    const Json& responses = (*op)["responses"];
    std::string key = responses.contains(std::to_string(status)) ? std::to_string(status) : "default";
    if (!responses.contains(key)) return what + ": the status is not documented";
    const Json& r = responses[key].contains("$ref") ? resolve(responses[key]["$ref"]) : responses[key];
    std::string type = content_type.substr(0, content_type.find(';'));
    if (!r.contains("content")) return body.empty() ? "" : what + ": a body where none is documented";
    if (!r["content"].contains(type)) return what + ": content type '" + type + "' is not documented";
    if (type != "application/json" || head) return "";
    Json value = Json::parse(body, nullptr, false);
    if (value.is_discarded()) return what + ": the body is not JSON";
    if (auto p = validate(value, r["content"][type]["schema"]); !p.empty())
      return what + ": " + p + " in " + body.substr(0, 300);
    return "";
  }

 private:
  static bool is_type(const Json& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer")
      return v.is_number_integer() || (v.is_number_float() && v.get<double>() == double(int64_t(v.get<double>())));
    return false;
  }
  const Json& resolve(const std::string& ref) const {
    if (ref.rfind("#/", 0) != 0) throw std::runtime_error("only local $refs are supported: " + ref);
    return doc_.at(Json::json_pointer(ref.substr(1)));
  }
  std::string error_body(const std::string& body, const std::string& what) const {
    Json value = Json::parse(body, nullptr, false);
    if (value.is_discarded()) return what + ": an error body that is not JSON";
    auto p = validate(value, resolve("#/components/schemas/Error"));
    return p.empty() ? "" : what + ": " + p;
  }
  Json doc_;
};

}  // namespace facerec::test
