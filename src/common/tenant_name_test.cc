#include "common/tenant_name.h"

#include <gtest/gtest.h>

namespace kumo {
namespace {

bool lower(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

TEST(TenantName, AcceptsLowercaseDigitsAndDashesUpTo63) {
  for (const char* ok : {"acme", "a", "9lives", "team-7", "default"}) {
    EXPECT_TRUE(is_valid_tenant_name(ok)) << ok;
  }
  EXPECT_TRUE(is_valid_tenant_name(std::string(63, 'a')));
  for (const char* bad : {"", "-a", "Acme", "a_b", "a~b", "a b", "a.b", "é"}) {
    EXPECT_FALSE(is_valid_tenant_name(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_tenant_name(std::string(64, 'a')));
}

TEST(TenantName, SplitsTheFirstSeparator) {
  EXPECT_EQ(split_internal_name("acme~orders").tenant, "acme");
  EXPECT_EQ(split_internal_name("acme~orders").local, "orders");
  EXPECT_EQ(split_internal_name("orders").tenant, "");
  EXPECT_EQ(local_part("acme~orders"), "orders");
  EXPECT_EQ(local_part("orders"), "orders");
  EXPECT_EQ(tenant_part("orders"), "default");
  EXPECT_EQ(tenant_part("acme~orders"), "acme");
}

TEST(TenantName, TheOperatorAndTheDefaultTenantUsePlainNames) {
  EXPECT_EQ(qualify_name("", "orders"), "orders");
  EXPECT_EQ(qualify_name("default", "orders"), "orders");
  EXPECT_EQ(qualify_name("acme", "orders"), "acme~orders");
}

TEST(TenantName, InternalNameIsAPlainOrQualifiedLocalName) {
  EXPECT_TRUE(is_internal_name("orders", lower));
  EXPECT_TRUE(is_internal_name("acme~orders", lower));
  EXPECT_TRUE(is_internal_name("team-7~orders", lower));
  EXPECT_FALSE(is_internal_name("acme~", lower));       // no local part
  EXPECT_FALSE(is_internal_name("~orders", lower));     // no tenant
  EXPECT_FALSE(is_internal_name("a~b~orders", lower));  // a second separator
  EXPECT_FALSE(is_internal_name("Acme~orders", lower));
  EXPECT_FALSE(is_internal_name("acme~Orders", lower));
}

}  // namespace
}  // namespace kumo
