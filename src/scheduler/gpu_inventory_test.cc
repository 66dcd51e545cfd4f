#include "scheduler/gpu_inventory.h"

#include <gtest/gtest.h>

namespace kumo::scheduler {
namespace {

using Ids = std::vector<std::string>;

TEST(GpuInventory, HandsOutFreeDevicesInOrderAndTakesThemBack) {
  GpuInventory gpus({"0", "1", "2"});
  EXPECT_EQ(gpus.total(), 3);
  EXPECT_EQ(gpus.acquire(2), Ids({"0", "1"}));
  EXPECT_EQ(gpus.free_count(), 1);
  EXPECT_EQ(gpus.acquire(2), std::nullopt);  // all or nothing
  EXPECT_EQ(gpus.free_count(), 1);
  gpus.release({"0"});
  EXPECT_EQ(gpus.releases(), 1u);
  EXPECT_EQ(gpus.acquire(2), Ids({"0", "2"}));
  EXPECT_EQ(gpus.free_count(), 0);
}

TEST(GpuInventory, EmptyHasNothingToGive) {
  GpuInventory none;
  EXPECT_EQ(none.total(), 0);
  EXPECT_EQ(none.acquire(1), std::nullopt);
  EXPECT_EQ(none.acquire(0), Ids());
}

TEST(GpuInventory, CheckRefusesMoreDevicesThanTheServerHas) {
  GpuInventory gpus({"0", "1"});
  EXPECT_TRUE(gpus.check("llm", 2).has_value());
  auto r = gpus.check("llm", 3);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("gpu is 3 but this server has 2 GPUs"), std::string::npos)
      << r.error().message;
}

TEST(GpuSetting, ReadsAutoNoneCountsAndLists) {
  EXPECT_TRUE(parse_gpu_setting("auto")->detect);
  EXPECT_EQ(parse_gpu_setting("none")->ids, Ids());
  EXPECT_EQ(parse_gpu_setting("0")->ids, Ids());
  EXPECT_EQ(parse_gpu_setting("2")->ids, Ids({"0", "1"}));
  EXPECT_EQ(parse_gpu_setting("1,3")->ids, Ids({"1", "3"}));
  EXPECT_EQ(parse_gpu_setting("1,")->ids, Ids({"1"}));
  EXPECT_EQ(parse_gpu_setting("device=2")->ids, Ids({"2"}));
  EXPECT_EQ(parse_gpu_setting(" GPU-8d3c-aa, GPU-11ab ")->ids, Ids({"GPU-8d3c-aa", "GPU-11ab"}));
}

TEST(GpuSetting, RefusesWhatIsNotADeviceList) {
  for (const char* bad : {"two", "-1", "1,1", "0,a b", "100"}) {
    auto r = parse_gpu_setting(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find("gpus '"), std::string::npos) << r.error().message;
  }
}

TEST(NvidiaSmi, ParsesTheQueryOutput) {
  auto gpus = parse_nvidia_smi(
      "0, GPU-8d3c5a1e-0f6b-11ee-be56-0242ac120002, "
      "NVIDIA H100 80GB HBM3, 81559 MiB\n"
      "1, GPU-11ab5a1e-0f6b-11ee-be56-0242ac120002, "
      "NVIDIA H100 80GB HBM3, 81559 MiB\n");
  ASSERT_TRUE(gpus.has_value()) << gpus.error().message;
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_EQ((*gpus)[1].index, "1");
  EXPECT_EQ((*gpus)[1].uuid, "GPU-11ab5a1e-0f6b-11ee-be56-0242ac120002");
  EXPECT_EQ((*gpus)[1].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ((*gpus)[1].memory_mib, 81559);
  EXPECT_EQ(parse_nvidia_smi("")->size(), 0u);
}

TEST(NvidiaSmi, RefusesOutputItDoesNotKnow) {
  auto r = parse_nvidia_smi("No devices were found\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("No devices were found"), std::string::npos);
}

}  // namespace
}  // namespace kumo::scheduler
