#include "storage/s3_error.h"

#include <spdlog/spdlog.h>

#include <array>
#include <utility>

namespace kumo::storage {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 36> kStatuses{{
    {"AccessDenied", 403},
    {"AuthorizationHeaderMalformed", 400},
    {"AuthorizationQueryParametersError", 400},
    {"InvalidAccessKeyId", 403},
    {"RequestTimeTooSkewed", 403},
    {"SignatureDoesNotMatch", 403},
    {"BadDigest", 400},
    {"BucketAlreadyExists", 409},
    {"BucketAlreadyOwnedByYou", 409},
    {"BucketNotEmpty", 409},
    {"EntityTooLarge", 400},
    {"EntityTooSmall", 400},
    {"IncompleteBody", 400},
    {"InternalError", 500},
    {"InvalidArgument", 400},
    {"InvalidBucketName", 400},
    {"InvalidDigest", 400},
    {"InvalidPart", 400},
    {"InvalidPartOrder", 400},
    {"InvalidRange", 416},
    {"InvalidRequest", 400},
    {"InvalidURI", 400},
    {"KeyTooLongError", 400},
    {"MalformedXML", 400},
    {"MethodNotAllowed", 405},
    {"MissingContentLength", 411},
    {"NoSuchBucket", 404},
    {"NoSuchKey", 404},
    {"NoSuchUpload", 404},
    {"NotImplemented", 501},
    {"NotModified", 304},
    {"PreconditionFailed", 412},
    {"ServiceUnavailable", 503},
    {"XAmzContentChecksumMismatch", 400},
    {"XAmzContentSHA256Mismatch", 400},
    {"InvalidChunkSizeError", 400},
}};

}  // namespace

int s3_status(std::string_view code) {
  for (const auto& [name, status] : kStatuses) {
    if (name == code) return status;
  }
  return 500;
}

S3Error internal_error(std::string_view what) {
  spdlog::error("storage: {}", what);
  return s3_error("InternalError", "the object store failed: " + std::string(what));
}

}  // namespace kumo::storage
