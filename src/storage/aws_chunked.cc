#include "storage/aws_chunked.h"

#include <algorithm>
#include <cctype>
#include <cstring>
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

}  // namespace

S3Result<std::map<std::string, std::string>> decode_aws_chunked(std::string& body) {
  size_t read = 0;
  size_t write = 0;
  while (true) {
    size_t eol = body.find("\r\n", read);
    if (eol == std::string::npos) {
      return s3_error("IncompleteBody", "the aws-chunked body ends inside a chunk header");
    }
    auto size = chunk_size(std::string_view(body).substr(read, eol - read));
    if (!size) return size.error();
    read = eol + 2;
    if (*size == 0) break;
    if (body.size() - read < *size + 2) {
      return s3_error("IncompleteBody", "the aws-chunked body ends inside a chunk");
    }
    if (body.compare(read + *size, 2, "\r\n") != 0) {
      return malformed("a chunk is longer than its size");
    }
    std::memmove(body.data() + write, body.data() + read, *size);
    write += *size;
    read += *size + 2;
  }
  auto trailers = parse_trailers(std::string_view(body).substr(read));
  body.resize(write);
  return trailers;
}

}  // namespace kumo::storage
