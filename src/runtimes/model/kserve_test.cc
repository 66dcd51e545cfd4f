#include "runtimes/model/kserve.h"

#include <gtest/gtest.h>

namespace kumo::model {
namespace {

const std::vector<TensorSpec> kSpecs = {{"x", DType::kFp32, {-1, 2}}, {"mask", DType::kBool, {-1}}};

std::string request(const std::string& x_shape, const std::string& x_data,
                    const std::string& x_type = "FP32") {
  return R"({"id": "r1", "inputs": [{"name": "x", "shape": )" + x_shape + R"(, "datatype": ")" +
         x_type + R"(", "data": )" + x_data +
         R"(}, {"name": "mask", "shape": [2], "datatype": "BOOL", "data": [true, false]}]})";
}

TEST(KServe, ParsesFlatAndNestedDataInTheModelsInputOrder) {
  for (const std::string data : {"[1, 2, 3, 4.5]", "[[1, 2], [3, 4.5]]"}) {
    auto r = parse_infer_request(request("[2, 2]", data), kSpecs);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->id, "r1");
    ASSERT_EQ(r->inputs.size(), 2u);
    EXPECT_EQ(r->inputs[0].shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(r->inputs[0].as<float>()[3], 4.5f);
    EXPECT_EQ(r->inputs[1].as<uint8_t>()[0], 1);
    EXPECT_EQ(r->inputs[1].as<uint8_t>()[1], 0);
  }
}

TEST(KServe, RejectsWhatDoesNotFitTheModelNamingTheInput) {
  struct Case {
    std::string body, says;
  };
  for (const Case& c : std::vector<Case>{
           {request("[2, 3]", "[1, 2, 3, 4, 5, 6]"), "does not fit"},
           {request("[2, 2]", "[1, 2, 3]"), "needs 4 values, data has 3"},
           {request("[2, 2]", "[1, 2, 3, 4]", "INT64"), "datatype must be FP32"},
           {request("[2, 2]", "[1, \"a\", 3, 4]"), "data must be a list"},
           {request("[2]", "[1, 2]"), "does not fit"},
           {R"({"inputs": [{"name": "y"}]})", "no input 'y'"},
           {R"({"inputs": []})", "input 'x' is missing"},
           {"not json", "JSON object"},
       }) {
    auto r = parse_infer_request(c.body, kSpecs);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
  }
}

TEST(KServe, TakesRawTensorBytesAfterTheJsonWithTheBinaryExtension) {
  std::string header =
      R"({"inputs": [{"name": "mask", "shape": [2], "datatype": "BOOL", "data": [true, true]},)"
      R"( {"name": "x", "shape": [1, 2], "datatype": "FP32",)"
      R"( "parameters": {"binary_data_size": 8}}]})";
  float values[2] = {1.5f, -2.0f};
  std::string body = header + std::string(reinterpret_cast<const char*>(values), 8);
  auto r = parse_infer_request(body, kSpecs, header.size());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->inputs[0].as<float>()[1], -2.0f);
  auto short_body = parse_infer_request(body.substr(0, body.size() - 1), kSpecs, header.size());
  ASSERT_FALSE(short_body);
  EXPECT_NE(short_body.error().message.find("runs past the body"), std::string::npos);
}

TEST(KServe, AnswersWithTheWantedOutputs) {
  Tensor a{"a", DType::kInt64, {1, 2}, {}};
  a.data.resize(16);
  reinterpret_cast<int64_t*>(a.data.data())[1] = 7;
  Tensor b{"b", DType::kFp32, {1}, std::vector<std::byte>(4)};
  auto j = nlohmann::json::parse(infer_response("m", "r1", {a, b}, {"a"}));
  EXPECT_EQ(j["model_name"], "m");
  EXPECT_EQ(j["id"], "r1");
  ASSERT_EQ(j["outputs"].size(), 1u);
  EXPECT_EQ(j["outputs"][0]["datatype"], "INT64");
  EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json({1, 2}));
  EXPECT_EQ(j["outputs"][0]["data"], nlohmann::json({0, 7}));
}

TEST(KServe, DescribesTheModel) {
  auto j = model_metadata("m", kSpecs, {{"y", DType::kFp32, {-1, 3}}});
  EXPECT_EQ(j["name"], "m");
  EXPECT_EQ(j["platform"], "onnxruntime_onnx");
  EXPECT_EQ(j["inputs"][0],
            nlohmann::json({{"name", "x"}, {"datatype", "FP32"}, {"shape", {-1, 2}}}));
  EXPECT_EQ(j["outputs"][0]["name"], "y");
}

}  // namespace
}  // namespace kumo::model
