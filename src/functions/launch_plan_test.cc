#include "functions/launch_plan.h"

#include <gtest/gtest.h>

namespace kumo::functions {
namespace {

using std::chrono::milliseconds;

registry::FunctionVersion version_of(registry::FunctionSpec spec) {
  registry::FunctionVersion fv;
  fv.spec = std::move(spec);
  fv.version = 3;
  fv.code_dir = "/data/code/abc";
  return fv;
}

LaunchPlan plan() {
  return LaunchPlan{"/data", "/opt/kumo/bin/kumo-model", std::string("/opt/ort/libonnxruntime.so")};
}

TEST(FunctionLaunchPlan, APythonFunctionRunsItsHandlerWithItsSpecsLimits) {
  registry::FunctionSpec spec;
  spec.name = "resize";
  spec.handler = "main.handler";
  spec.memory_mb = 512;
  spec.timeout = milliseconds(2500);
  spec.concurrency = 4;
  spec.min_instances = 1;
  spec.max_instances = 7;
  spec.max_queue = 9;
  spec.idle_timeout = milliseconds(1000);
  spec.gpu = 1;
  spec.env = {{"MODE", "fast"}};
  scheduler::PoolConfig c = pool_config(version_of(spec), plan());
  EXPECT_EQ(c.launch.function, "resize");
  EXPECT_EQ(c.launch.version, 3);
  EXPECT_EQ(c.launch.runtime, executor::Runtime::kPython3);
  EXPECT_EQ(c.launch.handler, "main.handler");
  EXPECT_EQ(c.launch.code_dir, "/data/code/abc");
  EXPECT_EQ(c.launch.instances_root, "/data/instances");
  EXPECT_EQ(c.launch.log_path, "/data/logs/resize.log");
  EXPECT_EQ(c.launch.memory_mb, 512);
  EXPECT_EQ(c.launch.timeout, milliseconds(2500));
  EXPECT_EQ(c.launch.concurrency, 4);
  EXPECT_EQ(c.launch.env, (std::map<std::string, std::string>{{"MODE", "fast"}}));  // no ORT
  EXPECT_EQ(c.min_instances, 1);
  EXPECT_EQ(c.max_instances, 7);
  EXPECT_EQ(c.max_queue, 9);
  EXPECT_EQ(c.idle_timeout, milliseconds(1000));
  EXPECT_EQ(c.gpu, 1);
}

TEST(FunctionLaunchPlan, AnExecFunctionRunsItsCommand) {
  registry::FunctionSpec spec;
  spec.name = "web";
  spec.runtime = registry::Runtime::kExec;
  spec.handler = "./server --port $PORT";
  scheduler::PoolConfig c = pool_config(version_of(spec), plan());
  EXPECT_EQ(c.launch.runtime, executor::Runtime::kExec);
  EXPECT_EQ(c.launch.handler, "./server --port $PORT");
}

TEST(FunctionLaunchPlan, AModelFunctionRunsThePlansModelServerOnItsFile) {
  registry::FunctionSpec spec;
  spec.name = "acme~resnet";  // a tenant's: the instance serves it by its plain name
  spec.runtime = registry::Runtime::kModel;
  spec.handler = "models/resnet.onnx";
  spec.concurrency = 2;
  spec.batch_max_size = 8;
  spec.batch_max_delay = milliseconds(5);
  scheduler::PoolConfig c = pool_config(version_of(spec), plan());
  EXPECT_EQ(c.launch.runtime, executor::Runtime::kExec);
  EXPECT_EQ(c.launch.handler,
            "exec '/opt/kumo/bin/kumo-model' --model './models/resnet.onnx' --name 'resnet' "
            "--max-batch 8 --max-delay-us 5000 --port \"$PORT\"");
  EXPECT_EQ(c.launch.concurrency, 8);  // a whole batch at once
  EXPECT_EQ(c.launch.env.at("KUMO_ORT_LIB"), "/opt/ort/libonnxruntime.so");
}

TEST(FunctionLaunchPlan, AModelSpecsOwnOrtLibraryWinsAndNoneIsAddedWithoutOne) {
  registry::FunctionSpec spec;
  spec.name = "resnet";
  spec.runtime = registry::Runtime::kModel;
  spec.handler = "model.onnx";
  spec.env = {{"KUMO_ORT_LIB", "/mine.so"}};
  EXPECT_EQ(pool_config(version_of(spec), plan()).launch.env.at("KUMO_ORT_LIB"), "/mine.so");
  spec.env.clear();
  LaunchPlan no_ort = plan();
  no_ort.ort_lib.reset();
  EXPECT_FALSE(pool_config(version_of(spec), no_ort).launch.env.contains("KUMO_ORT_LIB"));
}

TEST(FunctionLaunchPlan, QuotesPathsForTheShell) {
  registry::FunctionSpec spec;
  spec.name = "m";
  spec.runtime = registry::Runtime::kModel;
  spec.handler = "it's.onnx";
  LaunchPlan odd = plan();
  odd.model_server = "/opt/o'neil/kumo-model";
  std::string handler = pool_config(version_of(spec), odd).launch.handler;
  EXPECT_TRUE(handler.starts_with("exec '/opt/o'\\''neil/kumo-model' --model './it'\\''s.onnx'"))
      << handler;
}

}  // namespace
}  // namespace kumo::functions
