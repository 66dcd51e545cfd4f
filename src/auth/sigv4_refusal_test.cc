// What SigV4 verification refuses, and with which S3 error: altered requests, wrong keys,
// stale or future times, and malformed or oversized authorization data.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "auth/sigv4.h"
#include "auth/sigv4_canonical.h"

namespace kumo::auth {
namespace {

constexpr char kKey[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kDate[] = "20130524T000000Z";
constexpr char kEmptyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kGoodSignature[] =
    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
const VerifyOptions kS3{.s3_rules = true, .service = "s3"};

SysTime at(std::string_view amz_date) { return *parse_amz_date(amz_date); }

std::optional<std::string> lookup(std::string_view id) {
  if (id == kKey) return std::string(kSecret);
  return std::nullopt;
}

std::string authorization(std::string_view signature,
                          std::string_view signed_headers =
                              "host;range;x-amz-content-sha256;"
                              "x-amz-date",
                          std::string_view credential =
                              "AKIAIOSFODNN7EXAMPLE/20130524/"
                              "us-east-1/s3/aws4_request") {
  return "AWS4-HMAC-SHA256 Credential=" + std::string(credential) +
         ", SignedHeaders=" + std::string(signed_headers) + ", Signature=" + std::string(signature);
}

// The S3 reference's GET Object example, which verifies as it stands.
SignedRequest get_object(std::string auth = authorization(kGoodSignature)) {
  return {"GET",
          "/test.txt",
          "",
          {{"Host", "examplebucket.s3.amazonaws.com"},
           {"Range", "bytes=0-9"},
           {"x-amz-content-sha256", kEmptyHash},
           {"x-amz-date", kDate},
           {"Authorization", std::move(auth)}},
          kEmptyHash};
}

SigV4Code refusal(const SignedRequest& req, SysTime now = at(kDate)) {
  auto v = verify_header_signed(req, lookup, now, kS3);
  EXPECT_FALSE(v.has_value());
  return v ? SigV4Code::kAccessDenied : v.error().code;
}

TEST(SigV4Refusal, TheUnalteredExampleVerifies) {
  auto v = verify_header_signed(get_object(), lookup, at(kDate), kS3);
  ASSERT_TRUE(v.has_value()) << v.error().message;
}

TEST(SigV4Refusal, RefusesATamperedSignature) {
  std::string sig = kGoodSignature;
  sig[10] = sig[10] == '0' ? '1' : '0';
  EXPECT_EQ(refusal(get_object(authorization(sig))), SigV4Code::kSignatureDoesNotMatch);
}

TEST(SigV4Refusal, RefusesATamperedSignedHeaderValue) {
  SignedRequest req = get_object();
  req.headers[1].second = "bytes=0-99";
  EXPECT_EQ(refusal(req), SigV4Code::kSignatureDoesNotMatch);
}

TEST(SigV4Refusal, RefusesATamperedPathQueryMethodOrPayload) {
  SignedRequest req = get_object();
  req.path = "/test2.txt";
  EXPECT_EQ(refusal(req), SigV4Code::kSignatureDoesNotMatch);
  req = get_object();
  req.query = "versionId=1";
  EXPECT_EQ(refusal(req), SigV4Code::kSignatureDoesNotMatch);
  req = get_object();
  req.method = "DELETE";
  EXPECT_EQ(refusal(req), SigV4Code::kSignatureDoesNotMatch);
  req = get_object();
  req.payload_hash = std::string(64, 'a');
  EXPECT_EQ(refusal(req), SigV4Code::kSignatureDoesNotMatch);
}

TEST(SigV4Refusal, RefusesAWrongSecretAndAnUnknownKey) {
  auto wrong = [](std::string_view) -> std::optional<std::string> { return "other-secret"; };
  auto v = verify_header_signed(get_object(), wrong, at(kDate), kS3);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code, SigV4Code::kSignatureDoesNotMatch);
  auto none = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  v = verify_header_signed(get_object(), none, at(kDate), kS3);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code, SigV4Code::kInvalidAccessKeyId);
  EXPECT_STREQ(s3_code(v.error().code), "InvalidAccessKeyId");
}

TEST(SigV4Refusal, RefusesARequestWithoutACredential) {
  SignedRequest req = get_object();
  req.headers.pop_back();
  EXPECT_EQ(classify(req), AuthKind::kNone);
  EXPECT_EQ(refusal(req), SigV4Code::kAccessDenied);
}

TEST(SigV4Refusal, RefusesADateMoreThanFifteenMinutesAway) {
  auto near = verify_header_signed(get_object(), lookup, at("20130524T001400Z"), kS3);
  EXPECT_TRUE(near.has_value());
  EXPECT_EQ(refusal(get_object(), at("20130524T001601Z")), SigV4Code::kRequestTimeTooSkewed);
  EXPECT_EQ(refusal(get_object(), at("20130523T234359Z")), SigV4Code::kRequestTimeTooSkewed);
  EXPECT_STREQ(s3_code(SigV4Code::kRequestTimeTooSkewed), "RequestTimeTooSkewed");
}

TEST(SigV4Refusal, RefusesMalformedAuthorizationHeadersWithAClearError) {
  const std::string sig = kGoodSignature;
  const std::vector<std::string> bad = {
      "",
      "AWS4-HMAC-SHA256",
      "AWS4-HMAC-SHA256 ",
      "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
      "AWS4-HMAC-SHA1 Credential=a/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
      "Signature=" +
          sig,
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
      "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
      "AWS4-HMAC-SHA256 ,,,,",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE, SignedHeaders=host, Signature=" + sig,
      authorization(sig, "range;x-amz-date"),    // no host
      authorization(sig, "host;;x-amz-date"),    // empty name
      authorization(sig, "Host;x-amz-date"),     // not lower-case
      authorization(sig, "host;x-amz-missing"),  // not in the request
      authorization("F0E8" + sig.substr(4)),     // upper-case hex
      authorization(sig.substr(1)),              // short
      authorization(sig, "host", "AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request"),
      authorization(sig, "host", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws5_request"),
      authorization(sig, "host", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/sqs/aws4_request"),
      authorization(sig, "host", "/20130524/us-east-1/s3/aws4_request"),
      authorization(sig) + ", Signature=" + sig,  // repeated
      authorization(sig) + ", Extra=1",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
      "SignedHeaders=host" +
          std::string(8000, ';'),  // over the length limit
  };
  for (const std::string& auth : bad) {
    auto v = verify_header_signed(get_object(auth), lookup, at(kDate), kS3);
    ASSERT_FALSE(v.has_value()) << auth;
    EXPECT_EQ(v.error().code, SigV4Code::kAuthorizationHeaderMalformed) << auth;
    EXPECT_FALSE(v.error().message.empty()) << auth;
  }
}

TEST(SigV4Refusal, RefusesRandomAuthorizationHeadersAndQueriesWithoutCrashing) {
  // Pieces of real headers and queries, shuffled together (a fixed seed: the same every run).
  const std::vector<std::string> pieces = {"AWS4-HMAC-SHA256 ",
                                           "Credential=",
                                           "SignedHeaders=",
                                           "Signature=",
                                           "X-Amz-Signature=",
                                           "X-Amz-Credential=",
                                           "X-Amz-Expires=",
                                           "X-Amz-Date=",
                                           "AKIAIOSFODNN7EXAMPLE",
                                           "/",
                                           "%",
                                           "%2F",
                                           ",",
                                           ", ",
                                           ";",
                                           "=",
                                           "&",
                                           "host",
                                           "20130524",
                                           "us-east-1",
                                           "s3",
                                           "aws4_request",
                                           kGoodSignature,
                                           "\xff",
                                           " ",
                                           "",
                                           "X-Amz-Algorithm=AWS4-HMAC-SHA256"};
  std::mt19937 rng(20130524);
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    int n = static_cast<int>(rng() % 12);
    for (int j = 0; j < n; ++j) text += pieces[rng() % pieces.size()];
    auto header = verify_header_signed(get_object(text), lookup, at(kDate), kS3);
    EXPECT_FALSE(header.has_value()) << text;
    SignedRequest req = get_object();
    req.headers.pop_back();
    req.query = text;
    auto url = verify_presigned(req, lookup, at(kDate), kS3);
    EXPECT_FALSE(url.has_value()) << text;
  }
}

TEST(SigV4Refusal, RefusesTooManySignedHeaders) {
  std::string names = "host";
  for (int i = 0; i < 70; ++i) names += ";x-h" + std::to_string(100 + i);
  auto v = verify_header_signed(get_object(authorization(kGoodSignature, names)), lookup, at(kDate),
                                kS3);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code, SigV4Code::kAuthorizationHeaderMalformed);
  EXPECT_NE(v.error().message.find("64"), std::string::npos) << v.error().message;
}

TEST(SigV4Refusal, RefusesTooManyQueryParameters) {
  SignedRequest req = get_object();
  for (int i = 0; i < 300; ++i) req.query += "p" + std::to_string(i) + "=1&";
  EXPECT_EQ(refusal(req), SigV4Code::kAuthorizationHeaderMalformed);
  req = get_object();
  req.query = "a=" + std::string(20000, 'x');
  EXPECT_EQ(refusal(req), SigV4Code::kAuthorizationHeaderMalformed);
}

TEST(SigV4Refusal, RefusesARequestWithNeitherDateHeader) {
  SignedRequest req = get_object(authorization(kGoodSignature, "host;range"));
  req.headers.erase(req.headers.begin() + 3);
  EXPECT_EQ(refusal(req), SigV4Code::kAccessDenied);
}

// --- Presigned URLs (the S3 reference's example, then altered).

const std::string kPresignedQuery =
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
    "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
    "X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c26"
    "5957d157751f604d404";

SignedRequest presigned(std::string query = kPresignedQuery) {
  return {"GET", "/test.txt", std::move(query), {{"Host", "examplebucket.s3.amazonaws.com"}}, ""};
}

SigV4Result<Verified> verify_url(const SignedRequest& req) {
  return verify_presigned(req, lookup, at("20130524T010000Z"), kS3);
}

std::string replace(std::string s, std::string_view from, std::string_view to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(SigV4Presigned, RefusesATamperedSignaturePathOrParameter) {
  ASSERT_TRUE(verify_url(presigned()).has_value());
  auto v = verify_url(presigned(replace(kPresignedQuery, "aeeed9", "aeeed8")));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code, SigV4Code::kSignatureDoesNotMatch);
  SignedRequest other = presigned();
  other.path = "/secret.txt";
  EXPECT_EQ(verify_url(other).error().code, SigV4Code::kSignatureDoesNotMatch);
  // A longer lifetime than was signed.
  v = verify_url(presigned(replace(kPresignedQuery, "Expires=86400", "Expires=604800")));
  EXPECT_EQ(v.error().code, SigV4Code::kSignatureDoesNotMatch);
  v = verify_url(presigned(kPresignedQuery + "&response-content-type=text%2Fhtml"));
  EXPECT_EQ(v.error().code, SigV4Code::kSignatureDoesNotMatch);
}

TEST(SigV4Presigned, RefusesMalformedParameters) {
  const std::vector<std::string> bad = {
      replace(kPresignedQuery, "X-Amz-Expires=86400", "X-Amz-Expires=0"),
      replace(kPresignedQuery, "X-Amz-Expires=86400", "X-Amz-Expires=604801"),
      replace(kPresignedQuery, "X-Amz-Expires=86400", "X-Amz-Expires=1e3"),
      replace(kPresignedQuery, "X-Amz-Expires=86400&", ""),
      replace(kPresignedQuery, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
      replace(kPresignedQuery, "X-Amz-Date=20130524T000000Z", "X-Amz-Date=yesterday"),
      replace(kPresignedQuery, "X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130525T000000Z"),
      replace(kPresignedQuery, "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=range"),
      replace(kPresignedQuery, "%2Faws4_request", ""),
      kPresignedQuery + "&X-Amz-Signature=" + std::string(64, 'a'),
      "X-Amz-Algorithm=AWS4-HMAC-SHA256",
      kPresignedQuery + "&bad=%G0",
  };
  for (const std::string& query : bad) {
    auto v = verify_url(presigned(query));
    ASSERT_FALSE(v.has_value()) << query;
    EXPECT_EQ(v.error().code, SigV4Code::kAuthorizationQueryParametersError) << query;
  }
}

TEST(SigV4Presigned, RefusesAnUnknownKey) {
  std::string query = replace(kPresignedQuery, "AKIAIOSFODNN7EXAMPLE", "AKIANOBODY");
  auto v = verify_url(presigned(query));
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code, SigV4Code::kInvalidAccessKeyId);
}

}  // namespace
}  // namespace kumo::auth
