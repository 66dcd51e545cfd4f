// Golden test of the ONNX Runtime wrapper on a real model: PaddleOCR's text direction
// classifier (fetched by scripts/fetch-onnxruntime) reads a rendered line of text, upright
// and turned 180 degrees. Skips when the library or the model was not fetched.
#include "runtimes/model/ort.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace kumo::model {
namespace {

const std::string kDeps = KUMO_DEPS_DIR;
const std::string kLibrary = kDeps + "/onnxruntime/libonnxruntime.so.1";
const std::string kClassifier = kDeps + "/models/ocr/cls.onnx";

// testdata/text.pgm: "Kumo 2026" drawn by OpenCV's putText, 192x48, 8-bit grey (binary PGM).
std::vector<uint8_t> read_pgm(int& width, int& height) {
  std::ifstream in(std::string(KUMO_TESTDATA_DIR) + "/text.pgm", std::ios::binary);
  std::string magic;
  int maxval = 0;
  in >> magic >> width >> height >> maxval;
  in.get();
  std::vector<uint8_t> pixels(static_cast<size_t>(width * height));
  in.read(reinterpret_cast<char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
  return pixels;
}

enum class Image { kUpright, kTurned, kGradient };

// PaddleOCR's preprocessing: 3 equal channels, scaled to [-1, 1], NCHW.
Tensor image_tensor(Image image) {
  int w = 0, h = 0;
  std::vector<uint8_t> grey = read_pgm(w, h);
  bool rotate = image == Image::kTurned;
  for (size_t i = 0; image == Image::kGradient && i < grey.size(); ++i) {
    grey[i] = static_cast<uint8_t>(i % static_cast<size_t>(w) * 255 / static_cast<size_t>(w - 1));
  }
  Tensor t{"x", DType::kFp32, {1, 3, h, w}, {}};
  t.data.resize(static_cast<size_t>(3 * h * w) * sizeof(float));
  auto* out = reinterpret_cast<float*>(t.data.data());
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < h * w; ++i) {
      uint8_t v = grey[static_cast<size_t>(rotate ? h * w - 1 - i : i)];
      out[c * h * w + i] = (static_cast<float>(v) / 255.0f - 0.5f) / 0.5f;
    }
  }
  return t;
}

class OrtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kLibrary) || !std::filesystem::exists(kClassifier)) {
      GTEST_SKIP() << "run scripts/fetch-onnxruntime to fetch ONNX Runtime and the models";
    }
  }
};

TEST_F(OrtTest, DescribesTheModelsTensors) {
  auto session = Session::open({kLibrary, kClassifier, 1});
  ASSERT_TRUE(session) << session.error().message;
  EXPECT_EQ((*session)->version(), "1.30.0");
  ASSERT_EQ((*session)->inputs().size(), 1u);
  EXPECT_EQ((*session)->inputs()[0].name, "x");
  EXPECT_EQ((*session)->inputs()[0].dtype, DType::kFp32);
  EXPECT_EQ((*session)->inputs()[0].shape, (std::vector<int64_t>{-1, 3, -1, -1}));
  ASSERT_EQ((*session)->outputs().size(), 1u);
  EXPECT_EQ((*session)->outputs()[0].shape, (std::vector<int64_t>{-1, 2}));
}

TEST_F(OrtTest, ClassifiesUprightAndTurnedTextAsTheGoldenOutputSays) {
  auto session = Session::open({kLibrary, kClassifier, 1});
  ASSERT_TRUE(session) << session.error().message;
  // Golden outputs of ONNX Runtime 1.30 for these inputs (softmax over {0, 180 degrees}):
  // text is read the right way up with certainty; a grey ramp without text gets
  // an unsure answer, whose exact value shows any drift in the numbers. Tolerance 1e-4: thread
  // counts and CPU kernels change only the last bits of a float.
  struct Case {
    Image image;
    float p0, p1;
  };
  for (Case c : {Case{Image::kUpright, 1.0f, 0.0f}, Case{Image::kTurned, 0.0f, 1.0f},
                 Case{Image::kGradient, 0.242107f, 0.757893f}}) {
    auto out = (*session)->run({image_tensor(c.image)});
    ASSERT_TRUE(out) << out.error().message;
    ASSERT_EQ((*out)[0].shape, (std::vector<int64_t>{1, 2}));
    const float* p = (*out)[0].as<float>();
    EXPECT_NEAR(p[0], c.p0, 1e-4) << "image " << static_cast<int>(c.image);
    EXPECT_NEAR(p[1], c.p1, 1e-4) << "image " << static_cast<int>(c.image);
  }
}

TEST_F(OrtTest, ReportsAWrongShapeAsInvalidArgument) {
  auto session = Session::open({kLibrary, kClassifier, 1});
  ASSERT_TRUE(session) << session.error().message;
  Tensor t{"x", DType::kFp32, {1, 4, 48, 192}, {}};
  t.data.resize(4 * 48 * 192 * sizeof(float));
  auto out = (*session)->run({t});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
}

TEST(Ort, SaysWhenTheLibraryIsMissing) {
  auto session = Session::open({"/nonexistent/libonnxruntime.so.1", kClassifier, 1});
  ASSERT_FALSE(session);
  EXPECT_EQ(session.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(session.error().message.find("cannot load ONNX Runtime"), std::string::npos);
}

}  // namespace
}  // namespace kumo::model
