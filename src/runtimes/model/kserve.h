// The Open Inference Protocol (KServe v2) in JSON: infer requests checked against the
// model's declared inputs, infer responses, and model metadata. Pure functions on values;
// thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtimes/model/ort.h"
#include "runtimes/model/tensor.h"

namespace kumo::model {

struct InferRequest {
  std::string id;                    // echoed in the response; may be empty
  std::vector<Tensor> inputs;        // in the model's input order
  std::vector<std::string> outputs;  // the outputs asked for; empty: all
};

// Parses `body` and checks every input against `specs`: all present, none unknown, the
// declared datatype, the declared rank, fixed dimensions as declared, and as many data
// elements as the shape says (flat or nested). kInvalidArgument names the tensor at fault.
// With `json_length` (the Inference-Header-Content-Length header of the binary tensor
// extension that Triton and its clients use) the JSON is the body's first `json_length`
// bytes and an input with parameters.binary_data_size takes its raw little-endian bytes
// from what follows, in request order: no number is printed or parsed.
Result<InferRequest> parse_infer_request(std::string_view body,
                                         const std::vector<TensorSpec>& specs,
                                         std::optional<size_t> json_length = std::nullopt);

// {"model_name", "model_version", "id", "parameters", "outputs": [{"name", "datatype",
// "shape", "data"}]}, with only the `wanted` outputs (all when empty). `parameters` (a
// KServe extension point) says how the request was served: batch_size, queue_us, run_us.
std::string infer_response(std::string_view model, std::string_view id,
                           const std::vector<Tensor>& outputs,
                           const std::vector<std::string>& wanted,
                           const nlohmann::json& parameters = nlohmann::json::object());

// GET /v2/models/{name}: {"name", "versions", "platform", "inputs", "outputs"}.
nlohmann::json model_metadata(std::string_view model, const std::vector<TensorSpec>& inputs,
                              const std::vector<TensorSpec>& outputs);

}  // namespace kumo::model
