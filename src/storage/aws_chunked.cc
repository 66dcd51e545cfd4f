#include "storage/aws_chunked.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace kumo::storage {
namespace {

S3Error malformed(std::string_view what) {
  return s3_error("InvalidRequest", "malformed aws-chunked body: " + std::string(what));
}

// Parses the hex size at the start of a chunk header line (extensions after ';').
S3Result<size_t> chunk_size(std::string_view line) {
  std::string_view hex = line.substr(0, line.find(';'));
  while (!hex.empty() && hex.back() == ' ') hex.remove_suffix(1);
  if (hex.empty() || hex.size() > 15) return malformed("a chunk size is not hex");
  size_t size = 0;
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return malformed("a chunk size is not hex");
    }
    int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
    size = size * 16 + static_cast<size_t>(digit);
  }
  return size;
}

// The chunk-signature= extension of a chunk header line, or "".
std::string_view chunk_signature(std::string_view line) {
  constexpr std::string_view kName = "chunk-signature=";
  size_t at = line.find(kName);
  if (at == std::string_view::npos) return {};
  std::string_view value = line.substr(at + kName.size());
  return value.substr(0, value.find(';'));
}

// Reads "name:value" lines up to an empty line or the end of the body.
S3Result<std::map<std::string, std::string>> parse_trailers(std::string_view rest) {
  std::map<std::string, std::string> out;
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return malformed("a trailer line has no ':'");
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    out[name] = std::string(value);
  }
  return out;
}

// A chunk header has a size and a signature (64 hex digits): far below this.
constexpr size_t kMaxHeaderLine = 4096;
constexpr size_t kMaxTrailers = 64 * 1024;

}  // namespace

S3Result<void> AwsChunkedDecoder::feed(
    std::string_view in, const std::function<S3Result<void>(std::string_view)>& out) {
  while (!in.empty()) {
    if (state_ == State::kSize) {
      size_t eol = in.find('\n');
      size_t take = eol == std::string_view::npos ? in.size() : eol + 1;
      held_.append(in.substr(0, take));
      in.remove_prefix(take);
      if (held_.size() > kMaxHeaderLine) return malformed("a chunk header is too long");
      if (held_.back() != '\n') continue;
      if (held_.size() < 2 || held_[held_.size() - 2] != '\r') {
        return malformed("a chunk header does not end in CRLF");
      }
      std::string_view line = std::string_view(held_).substr(0, held_.size() - 2);
      auto size = chunk_size(line);
      if (!size) return size.error();
      signature_ = chunk_signature(line);
      held_.clear();
      left_ = *size;
      state_ = *size == 0 ? State::kTrailers : State::kData;
      if (*size == 0 && on_chunk_end_) {
        if (auto r = on_chunk_end_(signature_); !r) return r;
      }
    } else if (state_ == State::kData) {
      size_t n = std::min(left_, in.size());
      if (auto r = out(in.substr(0, n)); !r) return r;
      left_ -= n;
      in.remove_prefix(n);
      if (left_ == 0) state_ = State::kDataEnd;
    } else if (state_ == State::kDataEnd) {
      size_t n = std::min<size_t>(2 - held_.size(), in.size());
      held_.append(in.substr(0, n));
      in.remove_prefix(n);
      if (held_.size() < 2) continue;
      if (held_ != "\r\n") return malformed("a chunk is longer than its size");
      held_.clear();
      state_ = State::kSize;
      if (on_chunk_end_) {
        if (auto r = on_chunk_end_(signature_); !r) return r;
      }
    } else {
      held_.append(in);
      in = {};
      if (held_.size() > kMaxTrailers) return malformed("the trailers are too long");
    }
  }
  return {};
}

S3Result<std::map<std::string, std::string>> AwsChunkedDecoder::finish() const {
  if (state_ == State::kSize) {
    return s3_error("IncompleteBody", "the aws-chunked body ends inside a chunk header");
  }
  if (state_ != State::kTrailers) {
    return s3_error("IncompleteBody", "the aws-chunked body ends inside a chunk");
  }
  return parse_trailers(held_);
}

S3Result<std::map<std::string, std::string>> decode_aws_chunked(std::string& body) {
  std::string decoded;
  AwsChunkedDecoder decoder;
  auto fed = decoder.feed(body, [&decoded](std::string_view data) -> S3Result<void> {
    decoded.append(data);
    return {};
  });
  if (!fed) return fed.error();
  auto trailers = decoder.finish();
  if (trailers) body = std::move(decoded);
  return trailers;
}

}  // namespace kumo::storage
