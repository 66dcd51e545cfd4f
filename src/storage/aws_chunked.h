// The aws-chunked content encoding (SigV4 streaming uploads): the SDK wraps a streamed
// body as "<hex size>[;chunk-signature=...]\r\n<data>\r\n" chunks, a "0" chunk, then
// trailer lines such as "x-amz-checksum-crc32:<base64>". Chunk signatures are not checked.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>

#include "storage/s3_error.h"

namespace kumo::storage {

// Decodes `body` in place (the payload is never longer than its encoding) and returns the
// trailers, names lower-cased. IncompleteBody when the body ends early, InvalidRequest
// for a malformed chunk header.
S3Result<std::map<std::string, std::string>> decode_aws_chunked(std::string& body);

}  // namespace kumo::storage
