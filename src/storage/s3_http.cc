#include "storage/s3_http.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include "storage/aws_chunked.h"
#include "storage/s3_auth.h"
#include "storage/xml.h"

namespace kumo::storage {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// An OpenSSL digest fed in pieces; base64 of the result, as S3 sends checksums.
class EvpHash {
 public:
  explicit EvpHash(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, md, nullptr);
  }
  ~EvpHash() { EVP_MD_CTX_free(ctx_); }
  EvpHash(const EvpHash&) = delete;
  EvpHash& operator=(const EvpHash&) = delete;
  void update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  std::string raw() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

// The value of checksum `name` from the headers, or from the aws-chunked trailers.
std::string sent(const http::Request& req, const std::map<std::string, std::string>& trailers,
                 std::string_view name) {
  auto it = trailers.find(std::string(name));
  return it != trailers.end() ? it->second : req.header(name);
}

S3Error mismatch(std::string_view what) {
  return s3_error("BadDigest",
                  fmt::format("the {} you specified did not match the calculated checksum", what));
}

// The digests of a body, computed as it streams: MD5 and CRC32 always, SHA-1 and SHA-256
// only when the request may carry them to check.
struct BodyHashes {
  explicit BodyHashes(const http::Request& req) {
    std::string trailer = lower(req.header("x-amz-trailer"));
    std::string content_sha = lower(req.header("x-amz-content-sha256"));
    bool hex_sha = content_sha.size() == 64 &&
                   content_sha.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!req.header("x-amz-checksum-sha1").empty() || trailer.find("sha1") != std::string::npos) {
      sha1.emplace(EVP_sha1());
    }
    if (hex_sha || !req.header("x-amz-checksum-sha256").empty() ||
        trailer.find("sha256") != std::string::npos) {
      sha256.emplace(EVP_sha256());
    }
  }
  void update(std::string_view data) {
    digests.update(data);
    if (sha1) sha1->update(data);
    if (sha256) sha256->update(data);
  }

  Digests digests;
  std::optional<EvpHash> sha1;
  std::optional<EvpHash> sha256;
};

struct Sums {
  BodyDigest digest;
  std::string sha1_base64;    // empty unless computed
  std::string sha256_raw;     // empty unless computed
};

S3Result<void> verify(const http::Request& req, const std::map<std::string, std::string>& trailers,
                      const Sums& sums, const std::string& crc32_sent) {
  if (std::string md5 = req.header("content-md5"); !md5.empty()) {
    auto raw = base64_decode(md5);
    if (!raw || raw->size() != 16) {
      return s3_error("InvalidDigest", "the Content-MD5 you specified is not valid base64 MD5");
    }
    if (to_hex(*raw) != sums.digest.md5_hex) return mismatch("Content-MD5");
  }
  if (!crc32_sent.empty() && crc32_sent != sums.digest.crc32_base64) {
    return mismatch("CRC32");
  }
  std::string sha1 = sent(req, trailers, "x-amz-checksum-sha1");
  if (!sha1.empty() && sha1 != sums.sha1_base64) return mismatch("SHA1");
  std::string sha256 = sent(req, trailers, "x-amz-checksum-sha256");
  if (!sha256.empty() && sha256 != base64_encode(sums.sha256_raw)) return mismatch("SHA256");
  std::string content_sha = lower(req.header("x-amz-content-sha256"));
  if (content_sha.size() == 64 &&
      content_sha.find_first_not_of("0123456789abcdef") == std::string::npos &&
      content_sha != to_hex(sums.sha256_raw)) {
    return s3_error("XAmzContentSHA256Mismatch",
                    "the x-amz-content-sha256 you provided does not match the body");
  }
  return {};
}

bool is_aws_chunked(const http::Request& req) {
  return lower(req.header("content-encoding")).find("aws-chunked") != std::string::npos ||
         req.header("x-amz-content-sha256").starts_with("STREAMING-");
}

std::optional<int64_t> to_int(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

S3Error too_large(std::string_view size, int64_t max_bytes) {
  return s3_error("EntityTooLarge",
                  fmt::format("the body is {} bytes; this server takes at most {} per request "
                              "(storage.max_object_bytes); use a multipart upload",
                              size, max_bytes));
}

// The S3 error for a body the connection could not deliver.
S3Error body_error(const Error& error, int64_t max_bytes) {
  if (error.code == ErrorCode::kTooLarge) return too_large("over the limit", max_bytes);
  return s3_error("IncompleteBody", "the request body could not be read: " + error.message);
}

// Passes the raw (still encoded) body to `feed` piece by piece.
S3Result<void> each_piece(http::Request& req, int64_t max_bytes,
                          const std::function<S3Result<void>(std::string_view)>& feed) {
  if (!req.body_reader) return feed(req.body);
  while (true) {
    auto piece = req.body_reader->read();
    if (!piece) return body_error(piece.error(), max_bytes);
    if (piece->empty()) return {};
    if (auto fed = feed(*piece); !fed) return fed;
  }
}

S3Error bad_chunk(std::string_view why) {
  return s3_error("SignatureDoesNotMatch",
                  fmt::format("the aws-chunked body was refused: {}", why));
}

// Checks each chunk's signature as the decoder ends it.
AwsChunkedDecoder::ChunkEnd chunk_checker(auth::ChunkVerifier& chunks) {
  return [&chunks](std::string_view signature) -> S3Result<void> {
    auto ok = chunks.end_chunk(signature);
    if (!ok) return bad_chunk(ok.error().message);
    return {};
  };
}

}  // namespace

S3Result<StreamedPayload> stream_payload(http::Request& req, int64_t max_bytes,
                                         const ByteSink& sink, const auth::Verified* seed) {
  bool chunked = is_aws_chunked(req);
  std::string declared = req.header(chunked ? "x-amz-decoded-content-length" : "content-length");
  if (auto length = to_int(declared); length && *length > max_bytes) {
    return too_large(declared, max_bytes);
  }
  BodyHashes hashes(req);
  std::optional<auth::ChunkVerifier> chunks;
  if (seed != nullptr) chunks.emplace(*seed);
  int64_t size = 0;
  auto decoded = [&](std::string_view data) -> S3Result<void> {
    size += static_cast<int64_t>(data.size());
    if (size > max_bytes) return too_large(fmt::format("over {}", max_bytes), max_bytes);
    hashes.update(data);
    if (chunks) chunks->update(data);
    return sink(data);
  };
  AwsChunkedDecoder decoder;
  if (chunks) decoder.on_chunk_end(chunk_checker(*chunks));
  auto fed = each_piece(req, max_bytes, [&](std::string_view piece) {
    return chunked ? decoder.feed(piece, decoded) : decoded(piece);
  });
  if (!fed) return fed.error();
  std::map<std::string, std::string> trailers;
  if (chunked) {
    auto finished = decoder.finish();
    if (!finished) return finished.error();
    trailers = std::move(*finished);
    if (chunks && !chunks->finished()) return bad_chunk("the body has no signed final chunk");
    if (!declared.empty() && to_int(declared) != size) {
      return s3_error("IncompleteBody",
                      fmt::format("x-amz-decoded-content-length says {} bytes, the body has {}",
                                  declared, size));
    }
  }
  Sums sums;
  sums.digest.md5_hex = to_hex(hashes.digests.md5());
  sums.digest.crc32_base64 = crc32_base64(hashes.digests.crc32());
  if (hashes.sha1) sums.sha1_base64 = base64_encode(hashes.sha1->raw());
  if (hashes.sha256) sums.sha256_raw = hashes.sha256->raw();
  StreamedPayload out{StoredBody{size, sums.digest}, sent(req, trailers, "x-amz-checksum-crc32")};
  if (auto ok = verify(req, trailers, sums, out.crc32_sent); !ok) return ok.error();
  return out;
}

S3Result<void> read_whole_body(http::Request& req, int64_t max_bytes) {
  if (!req.body_reader) return {};
  std::string body;
  auto read = each_piece(req, max_bytes, [&](std::string_view piece) -> S3Result<void> {
    if (static_cast<int64_t>(body.size() + piece.size()) > max_bytes) {
      return too_large(fmt::format("over {}", max_bytes), max_bytes);
    }
    body.append(piece);
    return {};
  });
  if (!read) return read;
  req.body = std::move(body);
  req.body_reader.reset();
  return check_content_sha256(req);
}

S3Result<Payload> read_payload(http::Request& req, int64_t max_bytes, const auth::Verified* seed) {
  Payload p;
  auto streamed = stream_payload(
      req, max_bytes,
      [&p](std::string_view data) -> S3Result<void> {
        p.data.append(data);
        return {};
      },
      seed);
  if (!streamed) return streamed.error();
  p.digest = streamed->stored.digest;
  p.crc32_sent = std::move(streamed->crc32_sent);
  return p;
}

ObjectMeta meta_from_headers(const http::Headers& headers) {
  ObjectMeta meta;
  for (const auto& [name, value] : headers) {
    std::string n = lower(name);
    if (n == "content-type") {
      meta.content_type = value;
    } else if (n == "content-encoding") {
      // aws-chunked describes the transfer, not the object.
      std::string kept;
      for (size_t pos = 0; pos <= value.size();) {
        size_t comma = std::min(value.find(',', pos), value.size());
        std::string token(value.substr(pos, comma - pos));
        token.erase(0, token.find_first_not_of(' '));
        token.erase(token.find_last_not_of(' ') + 1);
        if (!token.empty() && lower(token) != "aws-chunked") {
          kept += kept.empty() ? token : "," + token;
        }
        pos = comma + 1;
      }
      if (!kept.empty()) meta.headers.emplace_back("Content-Encoding", kept);
    } else if (n.starts_with("x-amz-meta-") || n == "cache-control" || n == "content-disposition" ||
               n == "content-language" || n == "expires") {
      meta.headers.emplace_back(n, value);
    }
  }
  return meta;
}

void add_object_headers(http::Headers& out, const ObjectInfo& info) {
  out.emplace_back("Content-Type",
                   info.meta.content_type.empty() ? "binary/octet-stream" : info.meta.content_type);
  out.emplace_back("ETag", quote_etag(info.etag));
  out.emplace_back("Last-Modified", http_date(info.mtime_ms));
  out.emplace_back("Accept-Ranges", "bytes");
  for (const auto& h : info.meta.headers) out.push_back(h);
}

S3Result<std::optional<ByteRange>> parse_range(std::string_view header, int64_t size) {
  std::optional<ByteRange> whole;
  if (!header.starts_with("bytes=") || header.find(',') != std::string_view::npos) return whole;
  std::string_view spec = header.substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  auto first = to_int(spec.substr(0, dash));
  auto last = to_int(spec.substr(dash + 1));
  auto unsatisfiable = s3_error(
      "InvalidRange",
      fmt::format("the range '{}' is not satisfiable for an object of {} bytes", header, size));
  if (dash == 0) {  // "-n": the last n bytes
    if (!last) return whole;
    if (*last == 0 || size == 0) return unsatisfiable;
    return std::optional(ByteRange{std::max<int64_t>(0, size - *last), size - 1});
  }
  if (!first || (dash + 1 < spec.size() && !last)) return whole;
  if (last && *last < *first) return whole;
  if (*first >= size) return unsatisfiable;
  return std::optional(ByteRange{*first, last ? std::min(*last, size - 1) : size - 1});
}

std::string http_date(int64_t time_ms) {
  std::time_t secs = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string quote_etag(std::string_view etag) { return fmt::format("\"{}\"", etag); }

http::Response xml_response(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/xml");
  r.body = std::move(body);
  return r;
}

http::Response error_response(const S3Error& error, std::string_view resource,
                              std::string_view request_id, bool json) {
  int status = s3_status(error.code);
  if (json) return http::error_response(status, error.code, error.message, request_id);
  std::string body = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>"
      "<Resource>{}</Resource><RequestId>{}</RequestId></Error>",
      xml_escape(error.code), xml_escape(error.message), xml_escape(resource),
      xml_escape(request_id));
  return xml_response(status, std::move(body));
}

}  // namespace kumo::storage
