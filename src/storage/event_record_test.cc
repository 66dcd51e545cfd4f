#include "storage/event_record.h"

#include <gtest/gtest.h>

namespace kumo::storage {
namespace {

ObjectChange put(std::string bucket) {
  ObjectChange c;
  c.event_name = "ObjectCreated:Put";
  c.bucket = std::move(bucket);
  c.key = "img/a.png";
  c.size = 3;
  c.etag = "abc";
  c.time_ms = 1700000000123;
  return c;
}

TEST(EventRecord, ADefaultTenantsBucketIsShownAsItIs) {
  events::ObjectEvent e = object_event(put("uploads"));
  EXPECT_EQ(e.bucket, "uploads");
  EXPECT_EQ(e.record["s3"]["bucket"]["name"], "uploads");
  EXPECT_EQ(e.record["s3"]["bucket"]["arn"], "arn:aws:s3:::uploads");
}

TEST(EventRecord, ATenantsBucketIsShownToItsFunctionByItsPlainName) {
  events::ObjectEvent e = object_event(put("acme~uploads"));
  EXPECT_EQ(e.bucket, "acme~uploads");  // what triggers match on
  EXPECT_EQ(e.record["s3"]["bucket"]["name"], "uploads");
  EXPECT_EQ(e.record["s3"]["bucket"]["arn"], "arn:aws:s3:::uploads");
}

}  // namespace
}  // namespace kumo::storage
