#include "api/tenant_spec.h"

#include <gtest/gtest.h>

namespace kumo::api {
namespace {

using nlohmann::json;

auth::Caller tenant(std::string name) { return auth::Caller{"kk_x", std::move(name), {}}; }
auth::Caller operator_caller() { return auth::Caller{"kk_op", "", {}}; }

registry::FunctionSpec spec_naming_everything() {
  auto spec = registry::parse_spec(
      "name: audit\nruntime: python3\nhandler: main.handle\n"
      "triggers:\n"
      "  - queue: {topic: jobs}\n"
      "  - storage: {bucket: uploads, prefix: img/}\n"
      "  - table: {name: orders}\n"
      "  - schedule: {cron: '@every 1m'}\n"
      "async: {dead_letter: failed, on_failure: alert, retries: 1}\n");
  EXPECT_TRUE(spec.has_value()) << spec.error().message;
  return *spec;
}

TEST(QualifySpec, ATenantsSpecNamesOnlyItsOwnTenantsThings) {
  registry::FunctionSpec spec = spec_naming_everything();
  ASSERT_TRUE(qualify_spec(tenant("acme"), spec));
  EXPECT_EQ(spec.name, "acme~audit");
  EXPECT_EQ(spec.triggers[0]["queue"]["topic"], "acme~jobs");
  EXPECT_EQ(spec.triggers[1]["storage"]["bucket"], "acme~uploads");
  EXPECT_EQ(spec.triggers[1]["storage"]["prefix"], "img/");  // not a name of a thing
  EXPECT_EQ(spec.triggers[2]["table"]["name"], "acme~orders");
  EXPECT_EQ(spec.triggers[3]["schedule"]["cron"], "@every 1m");
  EXPECT_EQ(spec.async["dead_letter"], "acme~failed");
  EXPECT_EQ(spec.async["on_failure"], "acme~alert");
  EXPECT_EQ(spec.async["retries"], 1);
}

TEST(QualifySpec, TheDefaultTenantAndTheOperatorKeepPlainNames) {
  registry::FunctionSpec written = spec_naming_everything();
  for (const auth::Caller& caller : {tenant("default"), operator_caller()}) {
    registry::FunctionSpec spec = written;
    ASSERT_TRUE(qualify_spec(caller, spec));
    EXPECT_EQ(registry::spec_to_json(spec), registry::spec_to_json(written));
  }
}

TEST(QualifySpec, ATenantsSpecCannotNameAnotherTenantsThing) {
  for (const char* yaml :
       {"triggers:\n  - queue: {topic: globex~jobs}\n",
        "triggers:\n  - storage: {bucket: globex~uploads}\n",
        "triggers:\n  - table: {name: globex~orders}\n", "async: {dead_letter: globex~failed}\n",
        "async: {on_failure: globex~alert}\n"}) {
    auto spec = registry::parse_spec(std::string("name: a\nruntime: exec\nhandler: x\n") + yaml);
    ASSERT_TRUE(spec.has_value()) << spec.error().message;
    for (const char* who : {"acme", "default"}) {
      registry::FunctionSpec copy = *spec;
      auto r = qualify_spec(tenant(who), copy);
      ASSERT_FALSE(r) << who << ": " << yaml;
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(r.error().message.find("globex~"), std::string::npos) << r.error().message;
    }
  }
  // The operator addresses any tenant's things by their full names.
  auto spec = registry::parse_spec(
      "name: a\nruntime: exec\nhandler: x\ntriggers:\n  - queue: {topic: globex~jobs}\n");
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  ASSERT_TRUE(qualify_spec(operator_caller(), *spec));
  EXPECT_EQ(spec->triggers[0]["queue"]["topic"], "globex~jobs");
}

TEST(VisibleSpec, ATenantSeesItsSpecAsItWroteIt) {
  registry::FunctionSpec spec = spec_naming_everything();
  json written = registry::spec_to_json(spec);
  ASSERT_TRUE(qualify_spec(tenant("acme"), spec));
  EXPECT_EQ(visible_spec_json(tenant("acme"), spec), written);
  json full = visible_spec_json(operator_caller(), spec);
  EXPECT_EQ(full["name"], "acme~audit");
  EXPECT_EQ(full["triggers"][0]["queue"]["topic"], "acme~jobs");
}

}  // namespace
}  // namespace kumo::api
