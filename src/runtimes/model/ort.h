// Session: one ONNX model loaded into ONNX Runtime, which is loaded at run time with dlopen
// (libonnxruntime.so.1; no package ships its C header, so ort.cc declares the few entries of
// its versioned C API table that Kumo uses).
//
// open() loads the library and the model; run() is one forward pass. A Session is owned by
// one caller; run() may be called from any thread (ONNX Runtime's Run is thread-safe).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "runtimes/model/tensor.h"

namespace kumo::model {

// An input or output as the model declares it; -1 marks a dimension the model leaves free.
struct TensorSpec {
  std::string name;
  DType dtype = DType::kFp32;
  std::vector<int64_t> shape;
};

struct SessionOptions {
  std::string library;  // path of libonnxruntime.so.1
  std::string model;    // path of the .onnx file
  int threads = 1;      // intra-op threads of the one forward pass
};

class Session {
 public:
  // kUnavailable when the library cannot be loaded, kInvalidArgument when the model cannot.
  static Result<std::unique_ptr<Session>> open(const SessionOptions& options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::vector<TensorSpec>& inputs() const { return inputs_; }
  const std::vector<TensorSpec>& outputs() const { return outputs_; }
  // "1.30.0"
  const std::string& version() const { return version_; }

  // One forward pass. `inputs` are in the model's input order, with the declared types;
  // outputs come back in the model's output order. kInvalidArgument when the runtime
  // rejects the inputs (a wrong dimension), with its message.
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs) const;

 private:
  struct State;
  explicit Session(std::unique_ptr<State> state);
  Result<void> describe();

  std::unique_ptr<State> state_;
  std::vector<TensorSpec> inputs_;
  std::vector<TensorSpec> outputs_;
  std::string version_;
};

}  // namespace kumo::model
