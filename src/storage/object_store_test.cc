#include "storage/object_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/ids.h"

namespace kumo::storage {
namespace {

namespace fs = std::filesystem;

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("kumo_storage_test_" + new_short_id())).string();
    reopen();
    ASSERT_TRUE(store_->create_bucket("photos").has_value());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void reopen(int64_t min_part = 5) {
    store_.reset();
    auto s = ObjectStore::open({dir_, min_part});
    ASSERT_TRUE(s.has_value()) << s.error().message;
    store_ = std::move(*s);
  }
  ObjectInfo put(const std::string& key, const std::string& data) {
    auto r =
        store_->put("photos", key, data, {"text/plain", {{"x-amz-meta-a", "1"}}}, digest_of(data));
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r.value_or(ObjectInfo{});
  }
  std::string read_all(const std::string& key) {
    auto o = store_->open_object("photos", key);
    if (!o) return "<" + o.error().code + ">";
    return o->file.read(0, o->info.size).value_or("<read failed>");
  }
  size_t files_in(const std::string& sub) {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_ + "/objects/" + sub)) {
      n += e.is_regular_file() ? 1 : 0;
    }
    return n;
  }

  std::string dir_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(ObjectStoreTest, PutThenGetHeadAndOverwrite) {
  ObjectInfo info = put("a/b c.txt", "hello world");
  EXPECT_EQ(info.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  EXPECT_EQ(read_all("a/b c.txt"), "hello world");
  put("a/b c.txt", "v2");
  auto head = store_->head("photos", "a/b c.txt");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->size, 2);
  EXPECT_EQ(head->meta.content_type, "text/plain");
  ASSERT_EQ(head->meta.headers.size(), 1u);
  EXPECT_EQ(head->meta.headers[0].second, "1");
  EXPECT_EQ(read_all("a/b c.txt"), "v2");
  EXPECT_EQ(files_in("photos"), 1u);  // the old version's file is gone
}

TEST_F(ObjectStoreTest, ObjectsSurviveReopen) {
  put("k", "kept");
  reopen();
  EXPECT_EQ(read_all("k"), "kept");
}

TEST_F(ObjectStoreTest, ReportsS3ErrorCodes) {
  EXPECT_EQ(store_->head("nope", "k").error().code, "NoSuchBucket");
  EXPECT_EQ(store_->head("photos", "missing").error().code, "NoSuchKey");
  EXPECT_EQ(store_->create_bucket("photos").error().code, "BucketAlreadyOwnedByYou");
  EXPECT_EQ(store_->create_bucket("Bad_Name").error().code, "InvalidBucketName");
  EXPECT_EQ(store_->create_bucket("..").error().code, "InvalidBucketName");
  EXPECT_EQ(store_->put("photos", std::string(1025, 'k'), "x", {}, digest_of("x")).error().code,
            "KeyTooLongError");
  put("k", "x");
  EXPECT_EQ(store_->delete_bucket("photos").error().code, "BucketNotEmpty");
}

TEST_F(ObjectStoreTest, ATenantsBucketIsKeptAsTenantTildeNameWhileClientNamesHaveNoTilde) {
  EXPECT_TRUE(valid_bucket_name("acme~photos"));
  EXPECT_TRUE(valid_bucket_name("a-1~my.bucket"));
  EXPECT_FALSE(valid_s3_bucket_name("acme~photos"));
  for (const char* bad : {"~photos", "acme~", "Acme~photos", "acme~ph", "a_b~photos",
                          "acme~photos~x", "acme~Bad_Name"}) {
    EXPECT_FALSE(valid_bucket_name(bad)) << bad;
  }
  EXPECT_FALSE(valid_bucket_name(std::string(64, 'a') + "~photos"));
  ASSERT_TRUE(store_->create_bucket("acme~photos"));
  ASSERT_TRUE(store_->put("acme~photos", "k", "x", {}, digest_of("x")));
  EXPECT_EQ(store_->head("photos", "k").error().code, "NoSuchKey");
  EXPECT_EQ(store_->create_bucket("acme~a~b").error().code, "InvalidBucketName");
}

TEST_F(ObjectStoreTest, PublicReadIsABucketSettingKeptAcrossReopen) {
  EXPECT_FALSE(store_->public_read("photos").value());
  ASSERT_TRUE(store_->create_bucket("open", /*public_read=*/true));
  EXPECT_TRUE(store_->public_read("open").value());
  ASSERT_TRUE(store_->set_public_read("photos", true));
  ASSERT_TRUE(store_->set_public_read("open", false));
  reopen();
  EXPECT_TRUE(store_->public_read("photos").value());
  EXPECT_FALSE(store_->public_read("open").value());
  EXPECT_EQ(store_->public_read("nope").error().code, "NoSuchBucket");
  EXPECT_EQ(store_->set_public_read("nope", true).error().code, "NoSuchBucket");
}

TEST_F(ObjectStoreTest, BucketsOfAnOlderDataDirectoryOpenAsPrivate) {
  store_.reset();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  {
    auto db = store::Database::open(dir_ + "/objects.db").value();
    ASSERT_TRUE(
        db->exec("CREATE TABLE buckets (name TEXT PRIMARY KEY, created_ms INTEGER NOT "
                 "NULL); INSERT INTO buckets VALUES ('old', 1)"));
  }
  reopen();
  EXPECT_FALSE(store_->public_read("old").value());
  auto all = store_->list_buckets().value();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "old");
}

TEST_F(ObjectStoreTest, KeysWithDotsStayInsideTheBucketFolder) {
  put("../../escape", "x");
  put("/abs/path", "y");
  EXPECT_EQ(read_all("../../escape"), "x");
  EXPECT_FALSE(fs::exists(dir_ + "/escape"));
  EXPECT_EQ(files_in("photos"), 2u);
}

TEST_F(ObjectStoreTest, RemoveReportsWhetherTheObjectExisted) {
  put("k", "x");
  auto gone = store_->remove("photos", "k");
  ASSERT_TRUE(gone.has_value());
  ASSERT_TRUE(gone->has_value());
  EXPECT_EQ((*gone)->size, 1);
  auto again = store_->remove("photos", "k");
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(files_in("photos"), 0u);
  EXPECT_TRUE(store_->delete_bucket("photos").has_value());
}

TEST_F(ObjectStoreTest, ListsWithPrefixDelimiterAndPages) {
  for (const char* k : {"a.txt", "dir/1", "dir/2", "dir/sub/3", "other/x", "z"}) put(k, k);
  auto all = store_->list("photos", {"", "/", "", 1000});
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->objects.size(), 2u);
  EXPECT_EQ(all->objects[0].key, "a.txt");
  EXPECT_EQ(all->objects[1].key, "z");
  EXPECT_EQ(all->common_prefixes, (std::vector<std::string>{"dir/", "other/"}));

  auto in_dir = store_->list("photos", {"dir/", "/", "", 1000});
  ASSERT_TRUE(in_dir.has_value());
  ASSERT_EQ(in_dir->objects.size(), 2u);
  EXPECT_EQ(in_dir->common_prefixes, (std::vector<std::string>{"dir/sub/"}));

  std::vector<std::string> seen;
  ListQuery q{"", "/", "", 1};
  while (true) {
    auto page = store_->list("photos", q);
    ASSERT_TRUE(page.has_value());
    for (const auto& o : page->objects) seen.push_back(o.key);
    for (const auto& p : page->common_prefixes) seen.push_back(p);
    if (!page->truncated) break;
    q.after = page->next_after;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a.txt", "dir/", "other/", "z"}));
}

TEST_F(ObjectStoreTest, MultipartUploadConcatenatesPartsWithS3Etag) {
  reopen(4);
  auto id = store_->create_upload("photos", "big", {"application/octet-stream", {}});
  ASSERT_TRUE(id.has_value());
  auto p1 = store_->upload_part("photos", "big", *id, 1, "aaaa", digest_of("aaaa"));
  auto p2 = store_->upload_part("photos", "big", *id, 2, "bb", digest_of("bb"));
  ASSERT_TRUE(p1.has_value() && p2.has_value());
  auto done =
      store_->complete_upload("photos", "big", *id, {{1, "\"" + p1->etag + "\""}, {2, p2->etag}});
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_EQ(read_all("big"), "aaaabb");
  std::string md5s = md5_raw("aaaa") + md5_raw("bb");
  EXPECT_EQ(done->etag, to_hex(md5_raw(md5s)) + "-2");
  EXPECT_EQ(done->crc32, digest_of("aaaabb").crc32_base64);
  EXPECT_EQ(store_->list_parts("photos", "big", *id).error().code, "NoSuchUpload");
  EXPECT_EQ(files_in(".uploads"), 0u);
}

TEST_F(ObjectStoreTest, MultipartRejectsBadPartLists) {
  reopen(4);
  auto id = store_->create_upload("photos", "big", {});
  ASSERT_TRUE(id.has_value());
  auto p1 = store_->upload_part("photos", "big", *id, 1, "aa", digest_of("aa"));
  auto p2 = store_->upload_part("photos", "big", *id, 2, "bbbb", digest_of("bbbb"));
  ASSERT_TRUE(p1.has_value() && p2.has_value());
  auto code = [&](const std::vector<CompletedPart>& parts) {
    auto r = store_->complete_upload("photos", "big", *id, parts);
    return r ? std::string("ok") : r.error().code;
  };
  EXPECT_EQ(code({{2, p2->etag}, {1, p1->etag}}), "InvalidPartOrder");
  EXPECT_EQ(code({{1, p1->etag}, {3, p2->etag}}), "InvalidPart");
  EXPECT_EQ(code({{1, p2->etag}}), "InvalidPart");
  EXPECT_EQ(code({{1, p1->etag}, {2, p2->etag}}), "EntityTooSmall");
  EXPECT_EQ(code({}), "MalformedXML");
  EXPECT_EQ(store_->upload_part("photos", "big", *id, 0, "x", digest_of("x")).error().code,
            "InvalidArgument");
  EXPECT_EQ(store_->upload_part("photos", "other", *id, 1, "x", digest_of("x")).error().code,
            "NoSuchUpload");
  ASSERT_TRUE(store_->abort_upload("photos", "big", *id).has_value());
  EXPECT_EQ(files_in(".uploads"), 0u);
}

TEST_F(ObjectStoreTest, ReopenSweepsFilesLeftByACrash) {
  put("k", "x");
  std::ofstream(dir_ + "/objects/photos/.tmp-123") << "half";
  std::ofstream(dir_ + "/objects/photos/orphan") << "renamed, never committed";
  reopen();
  EXPECT_EQ(files_in("photos"), 1u);
  EXPECT_EQ(read_all("k"), "x");
}

}  // namespace
}  // namespace kumo::storage
