#include "runtimes/model/tensor.h"

#include <array>

namespace kumo::model {
namespace {

struct TypeInfo {
  DType type;
  const char* name;
  size_t size;
};

constexpr std::array<TypeInfo, 11> kTypes{{
    {DType::kBool, "BOOL", 1},
    {DType::kUint8, "UINT8", 1},
    {DType::kUint16, "UINT16", 2},
    {DType::kUint32, "UINT32", 4},
    {DType::kUint64, "UINT64", 8},
    {DType::kInt8, "INT8", 1},
    {DType::kInt16, "INT16", 2},
    {DType::kInt32, "INT32", 4},
    {DType::kInt64, "INT64", 8},
    {DType::kFp32, "FP32", 4},
    {DType::kFp64, "FP64", 8},
}};

}  // namespace

const char* dtype_name(DType t) { return kTypes[static_cast<size_t>(t)].name; }

size_t dtype_size(DType t) { return kTypes[static_cast<size_t>(t)].size; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (name == info.name) return info.type;
  }
  return std::nullopt;
}

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace kumo::model
