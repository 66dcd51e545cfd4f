#include "runtimes/model/ort.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstring>
#include <functional>

namespace kumo::model {
namespace {

// ONNX Runtime's C API is a table of function pointers, append-only across releases, so
// an entry's index never changes. These are the indices of onnxruntime_c_api.h's OrtApi
// struct for the entries used here; API version 13 has them all.
constexpr uint32_t kApiVersion = 13;

using Status = void*;  // OrtStatus*: null on success
using Ptr = void*;

struct Api {
  const char* (*GetErrorMessage)(Status);                                         // 2
  Status (*CreateEnv)(int level, const char* log_id, Ptr* env);                   // 3
  Status (*CreateSession)(Ptr env, const char* path, Ptr options, Ptr* session);  // 7
  Status (*Run)(Ptr session, Ptr run_options, const char* const* input_names, const Ptr* inputs,
                size_t n_inputs, const char* const* output_names, size_t n_outputs,
                Ptr* outputs);                                                        // 9
  Status (*CreateSessionOptions)(Ptr* options);                                       // 10
  Status (*SetGraphOptimizationLevel)(Ptr options, int level);                        // 23
  Status (*SetIntraOpNumThreads)(Ptr options, int n);                                 // 24
  Status (*SetInterOpNumThreads)(Ptr options, int n);                                 // 25
  Status (*SessionGetInputCount)(Ptr session, size_t* n);                             // 30
  Status (*SessionGetOutputCount)(Ptr session, size_t* n);                            // 31
  Status (*SessionGetInputTypeInfo)(Ptr session, size_t i, Ptr* type_info);           // 33
  Status (*SessionGetOutputTypeInfo)(Ptr session, size_t i, Ptr* type_info);          // 34
  Status (*SessionGetInputName)(Ptr session, size_t i, Ptr allocator, char** name);   // 36
  Status (*SessionGetOutputName)(Ptr session, size_t i, Ptr allocator, char** name);  // 37
  Status (*CreateTensorWithDataAsOrtValue)(Ptr memory_info, void* data, size_t bytes,
                                           const int64_t* shape, size_t rank, int type,
                                           Ptr* value);                              // 49
  Status (*GetTensorMutableData)(Ptr value, void** data);                            // 51
  Status (*CastTypeInfoToTensorInfo)(Ptr type_info, Ptr* tensor_info);               // 55
  Status (*GetTensorElementType)(Ptr tensor_info, int* type);                        // 60
  Status (*GetDimensionsCount)(Ptr tensor_info, size_t* rank);                       // 61
  Status (*GetDimensions)(Ptr tensor_info, int64_t* dims, size_t rank);              // 62
  Status (*GetTensorTypeAndShape)(Ptr value, Ptr* tensor_info);                      // 65
  Status (*CreateCpuMemoryInfo)(int allocator_type, int mem_type, Ptr* info);        // 69
  Status (*AllocatorFree)(Ptr allocator, void* p);                                   // 76
  Status (*GetAllocatorWithDefaultOptions)(Ptr* allocator);                          // 78
  void (*ReleaseEnv)(Ptr);                                                           // 92
  void (*ReleaseStatus)(Status);                                                     // 93
  void (*ReleaseMemoryInfo)(Ptr);                                                    // 94
  void (*ReleaseSession)(Ptr);                                                       // 95
  void (*ReleaseValue)(Ptr);                                                         // 96
  void (*ReleaseTypeInfo)(Ptr);                                                      // 98
  void (*ReleaseTensorTypeAndShapeInfo)(Ptr);                                        // 99
  void (*ReleaseSessionOptions)(Ptr);                                                // 100
  Status (*AddSessionConfigEntry)(Ptr options, const char* key, const char* value);  // 130
};

struct ApiBase {
  const void* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)();
};

template <typename Fn>
void bind(Fn& field, void* const* table, int index) {
  field = reinterpret_cast<Fn>(table[index]);
}

Api bind_api(void* const* t) {
  Api a{};
  bind(a.GetErrorMessage, t, 2), bind(a.CreateEnv, t, 3), bind(a.CreateSession, t, 7);
  bind(a.Run, t, 9), bind(a.CreateSessionOptions, t, 10);
  bind(a.SetGraphOptimizationLevel, t, 23), bind(a.SetIntraOpNumThreads, t, 24);
  bind(a.SetInterOpNumThreads, t, 25), bind(a.SessionGetInputCount, t, 30);
  bind(a.SessionGetOutputCount, t, 31), bind(a.SessionGetInputTypeInfo, t, 33);
  bind(a.SessionGetOutputTypeInfo, t, 34), bind(a.SessionGetInputName, t, 36);
  bind(a.SessionGetOutputName, t, 37), bind(a.CreateTensorWithDataAsOrtValue, t, 49);
  bind(a.GetTensorMutableData, t, 51), bind(a.CastTypeInfoToTensorInfo, t, 55);
  bind(a.GetTensorElementType, t, 60), bind(a.GetDimensionsCount, t, 61);
  bind(a.GetDimensions, t, 62), bind(a.GetTensorTypeAndShape, t, 65);
  bind(a.CreateCpuMemoryInfo, t, 69), bind(a.AllocatorFree, t, 76);
  bind(a.GetAllocatorWithDefaultOptions, t, 78), bind(a.ReleaseEnv, t, 92);
  bind(a.ReleaseStatus, t, 93), bind(a.ReleaseMemoryInfo, t, 94);
  bind(a.ReleaseSession, t, 95), bind(a.ReleaseValue, t, 96), bind(a.ReleaseTypeInfo, t, 98);
  bind(a.ReleaseTensorTypeAndShapeInfo, t, 99), bind(a.ReleaseSessionOptions, t, 100);
  bind(a.AddSessionConfigEntry, t, 130);
  return a;
}

// ONNXTensorElementDataType values, by DType.
constexpr int kOnnxTypes[] = {9 /*bool*/, 2, 4, 12, 13, 3, 5, 6, 7, 1 /*float*/, 11 /*double*/};

std::optional<DType> from_onnx_type(int t) {
  for (size_t i = 0; i < std::size(kOnnxTypes); ++i) {
    if (kOnnxTypes[i] == t) return static_cast<DType>(i);
  }
  return std::nullopt;
}

constexpr int kLogWarning = 2, kOptimizeAll = 99, kArenaAllocator = 1, kMemDefault = 0;

}  // namespace

struct Session::State {
  Api api{};
  Ptr env = nullptr;
  Ptr session = nullptr;
  Ptr memory_info = nullptr;
  std::vector<std::string> input_names, output_names;

  // The status's message (and frees it); empty on success.
  std::string check(Status s) const {
    if (s == nullptr) return "";
    std::string message = api.GetErrorMessage(s);
    api.ReleaseStatus(s);
    return message.empty() ? "unknown error" : message;
  }

  ~State() {
    if (memory_info != nullptr) api.ReleaseMemoryInfo(memory_info);
    if (session != nullptr) api.ReleaseSession(session);
    if (env != nullptr) api.ReleaseEnv(env);
  }
};

Session::Session(std::unique_ptr<State> state) : state_(std::move(state)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::open(const SessionOptions& o) {
  // Never closed: ONNX Runtime keeps thread pools and globals for the process's life.
  void* lib = dlopen(o.library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot load ONNX Runtime from {}: {}", o.library, dlerror()));
  }
  auto get_base = reinterpret_cast<const ApiBase* (*)()>(dlsym(lib, "OrtGetApiBase"));
  const ApiBase* base = get_base != nullptr ? get_base() : nullptr;
  const void* table = base != nullptr ? base->GetApi(kApiVersion) : nullptr;
  if (table == nullptr) {
    return make_error(
        ErrorCode::kUnavailable,
        fmt::format("{} is not an ONNX Runtime with C API version {}", o.library, kApiVersion));
  }
  auto state = std::make_unique<State>();
  state->api = bind_api(static_cast<void* const*>(const_cast<void*>(table)));
  const Api& a = state->api;
  Ptr options = nullptr;
  std::string err = state->check(a.CreateEnv(kLogWarning, "kumo-model", &state->env));
  if (err.empty()) err = state->check(a.CreateSessionOptions(&options));
  if (err.empty()) err = state->check(a.SetIntraOpNumThreads(options, std::max(1, o.threads)));
  if (err.empty()) err = state->check(a.SetInterOpNumThreads(options, 1));
  if (err.empty()) err = state->check(a.SetGraphOptimizationLevel(options, kOptimizeAll));
  // Idle pool threads would otherwise spin on the cores the HTTP threads and other
  // instances need.
  if (err.empty()) {
    err = state->check(a.AddSessionConfigEntry(options, "session.intra_op.allow_spinning", "0"));
  }
  if (err.empty()) {
    err = state->check(a.CreateSession(state->env, o.model.c_str(), options, &state->session));
  }
  if (options != nullptr) a.ReleaseSessionOptions(options);
  if (err.empty()) {
    err = state->check(a.CreateCpuMemoryInfo(kArenaAllocator, kMemDefault, &state->memory_info));
  }
  if (!err.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("cannot load model {}: {}", o.model, err));
  }
  std::unique_ptr<Session> session(new Session(std::move(state)));
  session->version_ = base->GetVersionString();
  if (auto described = session->describe(); !described) return described.error();
  return session;
}

Result<void> Session::describe() {
  const Api& a = state_->api;
  Ptr allocator = nullptr;
  std::string err = state_->check(a.GetAllocatorWithDefaultOptions(&allocator));
  for (bool input : {true, false}) {
    size_t n = 0;
    if (err.empty()) {
      err = state_->check(input ? a.SessionGetInputCount(state_->session, &n)
                                : a.SessionGetOutputCount(state_->session, &n));
    }
    for (size_t i = 0; i < n && err.empty(); ++i) {
      char* name = nullptr;
      Ptr type_info = nullptr, info = nullptr;
      err = state_->check(input ? a.SessionGetInputName(state_->session, i, allocator, &name)
                                : a.SessionGetOutputName(state_->session, i, allocator, &name));
      if (!err.empty()) break;
      TensorSpec spec{name, DType::kFp32, {}};
      err = state_->check(a.AllocatorFree(allocator, name));
      if (err.empty()) {
        err = state_->check(input ? a.SessionGetInputTypeInfo(state_->session, i, &type_info)
                                  : a.SessionGetOutputTypeInfo(state_->session, i, &type_info));
      }
      if (err.empty()) err = state_->check(a.CastTypeInfoToTensorInfo(type_info, &info));
      int type = 0;
      size_t rank = 0;
      if (err.empty() && info == nullptr) err = "'" + spec.name + "' is not a tensor";
      if (err.empty()) err = state_->check(a.GetTensorElementType(info, &type));
      if (err.empty()) err = state_->check(a.GetDimensionsCount(info, &rank));
      spec.shape.resize(rank);
      if (err.empty()) err = state_->check(a.GetDimensions(info, spec.shape.data(), rank));
      if (type_info != nullptr) a.ReleaseTypeInfo(type_info);
      auto dtype = from_onnx_type(type);
      if (err.empty() && !dtype) {
        err = fmt::format("'{}' has an element type Kumo does not serve ({})", spec.name, type);
      }
      if (!err.empty()) break;
      spec.dtype = *dtype;
      (input ? state_->input_names : state_->output_names).push_back(spec.name);
      (input ? inputs_ : outputs_).push_back(std::move(spec));
    }
  }
  if (err.empty()) return {};
  return make_error(ErrorCode::kInvalidArgument, "cannot serve the model: " + err);
}

namespace {

// Reads one output value into a Tensor; the message on failure.
std::string read_output(const Api& a, const std::function<std::string(Status)>& check, Ptr value,
                        Tensor& out) {
  Ptr info = nullptr;
  std::string err = check(a.GetTensorTypeAndShape(value, &info));
  int type = 0;
  size_t rank = 0;
  if (err.empty()) err = check(a.GetTensorElementType(info, &type));
  if (err.empty()) err = check(a.GetDimensionsCount(info, &rank));
  out.shape.resize(rank);
  if (err.empty()) err = check(a.GetDimensions(info, out.shape.data(), rank));
  if (info != nullptr) a.ReleaseTensorTypeAndShapeInfo(info);
  void* data = nullptr;
  if (err.empty()) err = check(a.GetTensorMutableData(value, &data));
  if (!err.empty()) return err;
  auto dtype = from_onnx_type(type);
  if (!dtype) return fmt::format("output '{}' has an unsupported element type", out.name);
  out.dtype = *dtype;
  size_t bytes = static_cast<size_t>(element_count(out.shape)) * dtype_size(out.dtype);
  const auto* first = static_cast<const std::byte*>(data);
  out.data.assign(first, first + bytes);
  return "";
}

}  // namespace

Result<std::vector<Tensor>> Session::run(const std::vector<Tensor>& inputs) const {
  const Api& a = state_->api;
  auto check = [this](Status s) { return state_->check(s); };
  std::vector<Ptr> in(inputs.size(), nullptr);
  std::vector<Ptr> out(outputs_.size(), nullptr);
  std::vector<const char*> in_names, out_names;
  for (const auto& n : state_->input_names) in_names.push_back(n.c_str());
  for (const auto& n : state_->output_names) out_names.push_back(n.c_str());
  std::string err;
  if (inputs.size() != inputs_.size()) {
    err = fmt::format("the model takes {} inputs, got {}", inputs_.size(), inputs.size());
  }
  for (size_t i = 0; i < inputs.size() && err.empty(); ++i) {
    const Tensor& t = inputs[i];
    // ONNX Runtime only reads inputs; its API takes them as non-const.
    err = check(a.CreateTensorWithDataAsOrtValue(
        state_->memory_info, const_cast<std::byte*>(t.data.data()), t.data.size(), t.shape.data(),
        t.shape.size(), kOnnxTypes[static_cast<size_t>(t.dtype)], &in[i]));
  }
  if (err.empty()) {
    err = check(a.Run(state_->session, nullptr, in_names.data(), in.data(), in.size(),
                      out_names.data(), out.size(), out.data()));
  }
  std::vector<Tensor> results(outputs_.size());
  for (size_t i = 0; i < out.size() && err.empty(); ++i) {
    results[i].name = outputs_[i].name;
    err = read_output(a, check, out[i], results[i]);
  }
  for (Ptr v : in) {
    if (v != nullptr) a.ReleaseValue(v);
  }
  for (Ptr v : out) {
    if (v != nullptr) a.ReleaseValue(v);
  }
  if (!err.empty()) return make_error(ErrorCode::kInvalidArgument, err);
  return results;
}

}  // namespace kumo::model
