// S3Service's bucket operations: ListBuckets, CreateBucket, DeleteBucket, ListObjects (V1
// and V2), DeleteObjects, and GetBucketAcl / PutBucketAcl with canned ACLs (private,
// public-read).
#include <fmt/format.h>

#include <charconv>

#include "http/types.h"
#include "storage/event_record.h"
#include "storage/s3_auth.h"
#include "storage/s3_call.h"
#include "storage/s3_http.h"
#include "storage/s3_service.h"
#include "storage/xml.h"

namespace kumo::storage {
namespace {

constexpr size_t kMaxDeleteKeys = 1000;

S3Result<int> max_keys(const S3Call& call) {
  std::string text = call.q("max-keys");
  if (text.empty()) return 1000;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return s3_error("InvalidArgument",
                    fmt::format("max-keys must be a whole number, got '{}'", text));
  }
  return std::min(v, 1000);
}

// V2's continuation token is the base64 of where the next page starts (after this).
S3Result<std::string> token_position(const std::string& token) {
  auto raw = base64_decode(token);
  if (!raw) {
    return s3_error("InvalidArgument", "the continuation token provided is incorrect");
  }
  return *raw;
}

void write_contents(XmlWriter& w, const ListPage& page, bool url) {
  auto enc = [url](const std::string& s) { return url ? http::url_encode(s, true) : s; };
  for (const auto& o : page.objects) {
    w.open("Contents")
        .leaf("Key", enc(o.key))
        .leaf("LastModified", iso8601_ms(o.mtime_ms))
        .leaf("ETag", quote_etag(o.etag))
        .leaf("Size", std::to_string(o.size))
        .leaf("StorageClass", "STANDARD")
        .close("Contents");
  }
  for (const auto& p : page.common_prefixes) {
    w.open("CommonPrefixes").leaf("Prefix", enc(p)).close("CommonPrefixes");
  }
}

// The canned ACL named by x-amz-acl: public-read (true), private or none (false).
S3Result<bool> canned_public_read(const S3Call& call) {
  std::string acl = call.req.header("x-amz-acl");
  if (acl.empty() || acl == "private") return false;
  if (acl == "public-read") return true;
  return s3_error("NotImplemented",
                  fmt::format("the canned ACL '{}': Kumo's buckets are private or public-read",
                              acl.substr(0, 64)));
}

}  // namespace

S3Result<http::Response> S3Service::list_buckets(const S3Call& call) {
  auto buckets = store_->list_buckets();
  if (!buckets) return buckets.error();
  XmlWriter w("ListAllMyBucketsResult");
  w.open("Owner").leaf("ID", "kumo").leaf("DisplayName", "kumo").close("Owner");
  w.open("Buckets");
  for (const auto& b : *buckets) {
    // Only the caller's tenant's buckets, by their plain names, that it may read.
    auto name = auth::visible_name(*call.caller, b.name);
    if (!name ||
        !auth::Access::permit(*call.caller, auth::Action::kRead, auth::Resource::bucket(*name))) {
      continue;
    }
    w.open("Bucket")
        .leaf("Name", *name)
        .leaf("CreationDate", iso8601_ms(b.created_ms))
        .close("Bucket");
  }
  w.close("Buckets");
  return xml_response(200, w.finish());
}

S3Result<http::Response> S3Service::create_bucket(S3Call& call) {
  // A CreateBucketConfiguration (a region) may come along; it must at least be XML.
  if (auto read = read_whole_body(call.req, 1 << 20); !read) return read.error();
  if (!call.req.body.empty()) {
    if (auto doc = parse_xml(call.req.body); !doc) return doc.error();
  }
  if (!valid_s3_bucket_name(call.shown_bucket)) {
    return s3_error("InvalidBucketName",
                    fmt::format("'{}' is not a valid bucket name: use 3-63 lower-case letters, "
                                "digits, '-' and '.', starting and ending with a letter or digit",
                                call.shown_bucket));
  }
  auto public_read = canned_public_read(call);
  if (!public_read) return public_read.error();
  if (auto r = store_->create_bucket(call.bucket, *public_read); !r) return r.error();
  http::Response r;
  r.headers.emplace_back("Location", "/" + call.shown_bucket);
  return r;
}

S3Result<http::Response> S3Service::get_bucket_acl(S3Call& call) {
  auto public_read = store_->public_read(call.bucket);
  if (!public_read) return public_read.error();
  auto grant = [](XmlWriter& w, const char* type, const char* who, const char* permission) {
    w.open("Grant").open(
        "Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xsi:type=\"" +
        std::string(type) + "\"");
    w.leaf(type[0] == 'C' ? "ID" : "URI", who);
    w.close("Grantee").leaf("Permission", permission).close("Grant");
  };
  XmlWriter w("AccessControlPolicy");
  w.open("Owner").leaf("ID", "kumo").leaf("DisplayName", "kumo").close("Owner");
  w.open("AccessControlList");
  grant(w, "CanonicalUser", "kumo", "FULL_CONTROL");
  if (*public_read) grant(w, "Group", "http://acs.amazonaws.com/groups/global/AllUsers", "READ");
  w.close("AccessControlList");
  return xml_response(200, w.finish());
}

S3Result<http::Response> S3Service::put_bucket_acl(S3Call& call) {
  if (auto read = read_whole_body(call.req, 1 << 20); !read) return read.error();
  if (call.req.header("x-amz-acl").empty()) {
    return s3_error("NotImplemented",
                    "Kumo takes canned ACLs only: send x-amz-acl: private or public-read");
  }
  auto public_read = canned_public_read(call);
  if (!public_read) return public_read.error();
  if (auto r = store_->set_public_read(call.bucket, *public_read); !r) return r.error();
  return http::Response{};
}

S3Result<http::Response> S3Service::delete_bucket(S3Call& call) {
  if (auto r = store_->delete_bucket(call.bucket); !r) return r.error();
  http::Response r;
  r.status = 204;
  return r;
}

S3Result<http::Response> S3Service::bucket_changed(const S3Call& call, std::string_view action,
                                                   S3Result<http::Response> result) {
  if (bucket_hook_) {
    bucket_hook_(call.req, action, call.bucket,
                 result ? result->status : s3_status(result.error().code),
                 result ? std::string_view() : std::string_view(result.error().message));
  }
  return result;
}

S3Result<http::Response> S3Service::list_objects(S3Call& call, bool v2) {
  auto limit = max_keys(call);
  if (!limit) return limit.error();
  ListQuery q{call.q("prefix"), call.q("delimiter"), "", *limit};
  std::string token = call.q("continuation-token");
  if (v2) {
    q.after = call.q("start-after");
    if (call.has("continuation-token")) {
      auto pos = token_position(token);
      if (!pos) return pos.error();
      q.after = std::max(q.after, *pos);
    }
  } else {
    q.after = call.q("marker");
  }
  bool url = call.q("encoding-type") == "url";
  auto page = store_->list(call.bucket, q);
  if (!page) return page.error();
  auto enc = [url](const std::string& s) { return url ? http::url_encode(s, true) : s; };
  XmlWriter w("ListBucketResult");
  w.leaf("Name", call.shown_bucket).leaf("Prefix", enc(q.prefix));
  if (!q.delimiter.empty()) w.leaf("Delimiter", enc(q.delimiter));
  w.leaf("MaxKeys", std::to_string(q.max_keys));
  if (url) w.leaf("EncodingType", "url");
  w.leaf("IsTruncated", page->truncated ? "true" : "false");
  if (v2) {
    w.leaf("KeyCount", std::to_string(page->objects.size() + page->common_prefixes.size()));
    if (call.has("continuation-token")) w.leaf("ContinuationToken", token);
    if (page->truncated) w.leaf("NextContinuationToken", base64_encode(page->next_after));
    if (call.has("start-after")) w.leaf("StartAfter", enc(call.q("start-after")));
  } else {
    w.leaf("Marker", enc(q.after));
    if (page->truncated) w.leaf("NextMarker", enc(page->next_after));
  }
  write_contents(w, *page, url);
  return xml_response(200, w.finish());
}

S3Result<http::Response> S3Service::delete_objects(S3Call& call) {
  auto body = read_payload(call.req, options_.max_object_bytes, call.seed());
  if (!body) return body.error();
  auto doc = parse_xml(body->data);
  if (!doc) return doc.error();
  if (doc->name != "Delete") return s3_error("MalformedXML", "the root element must be <Delete>");
  const XmlElement* quiet = doc->child("Quiet");
  bool is_quiet = quiet != nullptr && quiet->text == "true";
  std::vector<std::string> keys;
  for (const auto& c : doc->children) {
    if (c.name != "Object") continue;
    const XmlElement* key = c.child("Key");
    if (key == nullptr) return s3_error("MalformedXML", "an <Object> has no <Key>");
    keys.push_back(key->text);
  }
  if (keys.empty() || keys.size() > kMaxDeleteKeys) {
    return s3_error("MalformedXML", "name 1 to 1000 <Object> elements to delete");
  }
  XmlWriter w("DeleteResult");
  for (const auto& key : keys) {
    auto gone = store_->remove(call.bucket, key);
    if (!gone) {
      if (gone.error().code == "NoSuchBucket") return gone.error();
      w.open("Error").leaf("Key", key).leaf("Code", gone.error().code);
      w.leaf("Message", gone.error().message).close("Error");
      continue;
    }
    if (*gone) notify(call, "ObjectRemoved:Delete", **gone);
    if (!is_quiet) w.open("Deleted").leaf("Key", key).close("Deleted");
  }
  return xml_response(200, w.finish());
}

}  // namespace kumo::storage
