// Cross-check against a real client: botocore (Debian's python3-botocore, run by
// /usr/bin/python3) signs S3 and Lambda-style requests and a presigned S3 URL at the current
// time (testdata/botocore_sign.py); every one must verify, and fail once altered.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "auth/sigv4.h"

namespace kumo::auth {
namespace {

constexpr char kPython[] = "/usr/bin/python3";

std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  if (!pipe) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, pipe.get())) > 0) out.append(buf, n);
  return out;
}

bool botocore_available() {
  return run(std::string(kPython) + " -c 'import botocore; print(1)' 2>/dev/null") == "1\n";
}

SignedRequest to_request(const nlohmann::json& c) {
  SignedRequest req{c["method"], c["path"], c["query"], {}, ""};
  for (const auto& h : c["headers"]) {
    req.headers.emplace_back(h[0].get<std::string>(), h[1].get<std::string>());
    if (h[0].get<std::string>() == "X-Amz-Content-SHA256") req.payload_hash = h[1];
  }
  if (req.payload_hash.empty()) req.payload_hash = sha256_hex(c["body"].get<std::string>());
  return req;
}

SigV4Result<Verified> verify(const nlohmann::json& c, const SignedRequest& req,
                             const SecretLookup& lookup) {
  VerifyOptions options{.s3_rules = c["s3"].get<bool>(), .service = c["s3"] ? "s3" : "lambda"};
  auto now = std::chrono::system_clock::now();
  if (c["kind"] == "presigned") return verify_presigned(req, lookup, now, options);
  return verify_header_signed(req, lookup, now, options);
}

TEST(SigV4Botocore, VerifiesWhatBotocoreSignsAndRefusesItAltered) {
  if (!botocore_available()) {
    GTEST_SKIP() << kPython << " cannot import botocore (apt install python3-botocore)";
  }
  std::string out = run(std::string(kPython) + " " + KUMO_SIGV4_BOTOCORE_SCRIPT);
  auto doc = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << out;
  const std::string secret = doc["secret"];
  SecretLookup lookup = [&](std::string_view) -> std::optional<std::string> { return secret; };
  ASSERT_EQ(doc["cases"].size(), 4u);
  for (const auto& c : doc["cases"]) {
    SignedRequest req = to_request(c);
    EXPECT_EQ(classify(req), c["kind"] == "presigned" ? AuthKind::kPresigned : AuthKind::kHeader);
    auto v = verify(c, req, lookup);
    ASSERT_TRUE(v.has_value()) << c.dump() << "\n" << v.error().message;
    EXPECT_EQ(v->access_key_id, "AKIAKUMOTEST0000001");

    SignedRequest altered = req;
    altered.path += "x";
    auto refused = verify(c, altered, lookup);
    ASSERT_FALSE(refused.has_value()) << c.dump();
    EXPECT_EQ(refused.error().code, SigV4Code::kSignatureDoesNotMatch);
  }
}

}  // namespace
}  // namespace kumo::auth
