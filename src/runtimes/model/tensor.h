// Tensor: a named, typed, shaped block of bytes in row-major order, as a model takes and
// gives it. Plain value; thread-safety that of any value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kumo::model {

// The element types Kumo serves, named as KServe v2 names them ("FP32", "INT64", ...).
enum class DType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp32,
  kFp64
};

const char* dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
size_t dtype_size(DType t);

struct Tensor {
  std::string name;
  DType dtype = DType::kFp32;
  std::vector<int64_t> shape;
  std::vector<std::byte> data;  // element_count(shape) * dtype_size(dtype) bytes

  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data.data());
  }
};

// The product of the dimensions (1 for a scalar).
int64_t element_count(const std::vector<int64_t>& shape);

}  // namespace kumo::model
