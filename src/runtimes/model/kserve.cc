#include "runtimes/model/kserve.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

namespace kumo::model {
namespace {

using nlohmann::json;

Error bad(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

template <typename T>
void append(std::vector<std::byte>& out, T value) {
  size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}

// Appends one JSON number (or bool) as an element of `type`; false when it is not one.
bool append_element(const json& v, DType type, std::vector<std::byte>& out) {
  if (type == DType::kBool) {
    if (!v.is_boolean()) return false;
    append<uint8_t>(out, v.get<bool>() ? 1 : 0);
    return true;
  }
  if (!v.is_number()) return false;
  switch (type) {
    case DType::kFp32:
      append(out, v.get<float>());
      break;
    case DType::kFp64:
      append(out, v.get<double>());
      break;
    case DType::kInt8:
      append(out, v.get<int8_t>());
      break;
    case DType::kInt16:
      append(out, v.get<int16_t>());
      break;
    case DType::kInt32:
      append(out, v.get<int32_t>());
      break;
    case DType::kInt64:
      append(out, v.get<int64_t>());
      break;
    case DType::kUint8:
      append(out, v.get<uint8_t>());
      break;
    case DType::kUint16:
      append(out, v.get<uint16_t>());
      break;
    case DType::kUint32:
      append(out, v.get<uint32_t>());
      break;
    case DType::kUint64:
      append(out, v.get<uint64_t>());
      break;
    case DType::kBool:
      break;
  }
  return true;
}

// Flattens data written flat or nested, row-major; false at the first non-element.
bool flatten(const json& data, DType type, std::vector<std::byte>& out) {
  if (!data.is_array()) return append_element(data, type, out);
  for (const json& v : data) {
    if (!flatten(v, type, out)) return false;
  }
  return true;
}

Result<std::vector<int64_t>> read_shape(const json& in, const TensorSpec& spec) {
  const json& shape = in.contains("shape") ? in["shape"] : json();
  if (!shape.is_array()) return bad(fmt::format("input '{}': shape must be a list", spec.name));
  std::vector<int64_t> dims;
  for (const json& d : shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      return bad(fmt::format("input '{}': shape must hold non-negative integers", spec.name));
    }
    dims.push_back(d.get<int64_t>());
  }
  bool fits = dims.size() == spec.shape.size();
  for (size_t i = 0; fits && i < dims.size(); ++i) {
    fits = spec.shape[i] < 0 || spec.shape[i] == dims[i];
  }
  if (!fits) {
    return bad(fmt::format("input '{}': shape {} does not fit the model's [{}] (-1: any)",
                           spec.name, shape.dump(), fmt::join(spec.shape, ",")));
  }
  return dims;
}

// The tensor's bytes: from "data", or with the binary extension the next
// parameters.binary_data_size bytes of `binary`, which `taken` counts.
Result<Tensor> read_input(const json& in, const TensorSpec& spec, std::string_view binary,
                          size_t& taken) {
  std::string datatype = in.value("datatype", "");
  if (datatype != dtype_name(spec.dtype)) {
    return bad(fmt::format("input '{}': datatype must be {}, got '{}'", spec.name,
                           dtype_name(spec.dtype), datatype));
  }
  auto shape = read_shape(in, spec);
  if (!shape) return shape.error();
  Tensor t{spec.name, spec.dtype, std::move(*shape), {}};
  size_t bytes = static_cast<size_t>(element_count(t.shape)) * dtype_size(t.dtype);
  const json* size = in.contains("parameters") && in["parameters"].is_object() &&
                             in["parameters"].contains("binary_data_size")
                         ? &in["parameters"]["binary_data_size"]
                         : nullptr;
  if (size != nullptr) {
    if (!size->is_number_unsigned() || size->get<size_t>() > binary.size() - taken) {
      return bad(fmt::format("input '{}': binary_data_size runs past the body", spec.name));
    }
    const auto* first = reinterpret_cast<const std::byte*>(binary.data() + taken);
    t.data.assign(first, first + size->get<size_t>());
    taken += size->get<size_t>();
  } else {
    t.data.reserve(bytes);
    if (!in.contains("data") || !flatten(in["data"], t.dtype, t.data)) {
      return bad(fmt::format("input '{}': data must be a list of {} values", spec.name, datatype));
    }
  }
  if (t.data.size() != bytes) {
    return bad(fmt::format("input '{}': shape [{}] needs {} values, data has {}", spec.name,
                           fmt::join(t.shape, ","), bytes / dtype_size(t.dtype),
                           t.data.size() / dtype_size(t.dtype)));
  }
  return t;
}

}  // namespace

Result<InferRequest> parse_infer_request(std::string_view body,
                                         const std::vector<TensorSpec>& specs,
                                         std::optional<size_t> json_length) {
  std::string_view binary;
  if (json_length) {
    if (*json_length > body.size()) return bad("Inference-Header-Content-Length is past the body");
    binary = body.substr(*json_length);
    body = body.substr(0, *json_length);
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("the request body must be a JSON object");
  if (!j.contains("inputs") || !j["inputs"].is_array()) {
    return bad("the request needs \"inputs\": a list of {name, shape, datatype, data}");
  }
  InferRequest request;
  if (j.contains("id") && j["id"].is_string()) request.id = j["id"].get<std::string>();
  std::vector<std::optional<Tensor>> by_spec(specs.size());
  size_t taken = 0;
  for (const json& in : j["inputs"]) {  // in request order: binary data comes in this order
    std::string name = in.is_object() ? in.value("name", "") : "";
    size_t i = 0;
    while (i < specs.size() && specs[i].name != name) ++i;
    if (i == specs.size()) return bad(fmt::format("the model has no input '{}'", name));
    if (by_spec[i]) return bad(fmt::format("input '{}' is given twice", name));
    auto t = read_input(in, specs[i], binary, taken);
    if (!t) return t.error();
    by_spec[i] = std::move(*t);
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!by_spec[i]) return bad(fmt::format("input '{}' is missing", specs[i].name));
    request.inputs.push_back(std::move(*by_spec[i]));
  }
  if (j.contains("outputs") && j["outputs"].is_array()) {
    for (const json& out : j["outputs"]) {
      if (out.is_object()) request.outputs.push_back(out.value("name", ""));
    }
  }
  return request;
}

namespace {

template <typename T>
json elements(const Tensor& t) {
  const T* p = t.as<T>();
  return json(std::vector<T>(p, p + element_count(t.shape)));
}

json tensor_data(const Tensor& t) {
  switch (t.dtype) {
    case DType::kBool: {
      json out = json::array();
      for (int64_t i = 0; i < element_count(t.shape); ++i) out.push_back(t.as<uint8_t>()[i] != 0);
      return out;
    }
    case DType::kUint8:
      return elements<uint8_t>(t);
    case DType::kUint16:
      return elements<uint16_t>(t);
    case DType::kUint32:
      return elements<uint32_t>(t);
    case DType::kUint64:
      return elements<uint64_t>(t);
    case DType::kInt8:
      return elements<int8_t>(t);
    case DType::kInt16:
      return elements<int16_t>(t);
    case DType::kInt32:
      return elements<int32_t>(t);
    case DType::kInt64:
      return elements<int64_t>(t);
    case DType::kFp32:
      return elements<float>(t);
    case DType::kFp64:
      return elements<double>(t);
  }
  return json::array();
}

json spec_json(const TensorSpec& s) {
  return {{"name", s.name}, {"datatype", dtype_name(s.dtype)}, {"shape", s.shape}};
}

}  // namespace

std::string infer_response(std::string_view model, std::string_view id,
                           const std::vector<Tensor>& outputs,
                           const std::vector<std::string>& wanted, const json& parameters) {
  json out = json::array();
  for (const Tensor& t : outputs) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), t.name) == wanted.end()) {
      continue;
    }
    out.push_back({{"name", t.name},
                   {"datatype", dtype_name(t.dtype)},
                   {"shape", t.shape},
                   {"data", tensor_data(t)}});
  }
  json r = {{"model_name", model},
            {"model_version", "1"},
            {"parameters", parameters},
            {"outputs", std::move(out)}};
  if (!id.empty()) r["id"] = id;
  return r.dump();
}

json model_metadata(std::string_view model, const std::vector<TensorSpec>& inputs,
                    const std::vector<TensorSpec>& outputs) {
  json in = json::array(), out = json::array();
  for (const TensorSpec& s : inputs) in.push_back(spec_json(s));
  for (const TensorSpec& s : outputs) out.push_back(spec_json(s));
  return {{"name", model},
          {"versions", {"1"}},
          {"platform", "onnxruntime_onnx"},
          {"inputs", std::move(in)},
          {"outputs", std::move(out)}};
}

}  // namespace kumo::model
