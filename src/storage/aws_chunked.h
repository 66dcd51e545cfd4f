// The aws-chunked content encoding (SigV4 streaming uploads): the SDK wraps a streamed
// body as "<hex size>[;chunk-signature=...]\r\n<data>\r\n" chunks, a "0" chunk, then
// trailer lines such as "x-amz-checksum-crc32:<base64>". The decoder hands each chunk's
// chunk-signature to an observer (on_chunk_end) for the caller to check (auth::ChunkVerifier).
// AwsChunkedDecoder is a plain value for one body, used by one thread; the free function is
// pure and thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "storage/s3_error.h"

namespace kumo::storage {

// Decodes a body fed in pieces split anywhere, holding at most one chunk header (or the
// trailer block) of it: the data goes to `out` as it is decoded.
class AwsChunkedDecoder {
 public:
  // Called once a chunk's data has all been passed to `out` (for the final empty chunk, on
  // its header), with the chunk-signature= value of its header ("" when it has none); an
  // error stops decoding.
  using ChunkEnd = std::function<S3Result<void>(std::string_view signature)>;
  void on_chunk_end(ChunkEnd observer) { on_chunk_end_ = std::move(observer); }

  // InvalidRequest for a malformed chunk header; an error from `out` stops it too.
  S3Result<void> feed(std::string_view in,
                      const std::function<S3Result<void>(std::string_view)>& out);
  // The body has ended: its trailers (names lower-cased), or IncompleteBody when it ended
  // before its last chunk.
  S3Result<std::map<std::string, std::string>> finish() const;

 private:
  enum class State { kSize, kData, kDataEnd, kTrailers };
  State state_ = State::kSize;
  std::string held_;  // the chunk header, the CRLF after a chunk, or the trailers so far
  size_t left_ = 0;   // data bytes of the current chunk still to come
  std::string signature_;  // the current chunk's chunk-signature
  ChunkEnd on_chunk_end_;
};

// Decodes a whole `body` in place and returns the trailers; errors as above.
S3Result<std::map<std::string, std::string>> decode_aws_chunked(std::string& body);

}  // namespace kumo::storage
