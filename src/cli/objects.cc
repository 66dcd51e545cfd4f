// `kumo mb|put|get|ls-objects|rm-object`: the embedded object store from the command line,
// over its S3 endpoint (/s3, path-style). Replies are S3's XML; errors come back as Kumo's
// JSON because these commands send Accept: application/json.
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/output.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "cli/subcommands.h"

namespace kumo::cli {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Files above this go up as a multipart upload in parts of this size.
constexpr size_t kPartBytes = size_t{16} << 20;

struct ObjectArgs {
  std::string bucket;
  std::string key;
  std::string file;  // put: source ("-" for stdin); get: destination ("" for stdout)
  std::string prefix;
  std::string content_type;
  bool json = false;
  bool public_read = false;  // mb: anyone may read the bucket's objects
};

const http::Headers kJsonErrors{{"Accept", "application/json"}};

std::string object_path(const ObjectArgs& a) {
  return "/s3/" + url_escape(a.bucket) + "/" + url_escape(a.key);
}

std::string s3_url(const ObjectArgs& a) { return fmt::format("s3://{}/{}", a.bucket, a.key); }

// The text of each <tag>...</tag> in an XML reply from the server, entities decoded.
std::vector<std::string> xml_values(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  std::string open = fmt::format("<{}>", tag);
  std::string close = fmt::format("</{}>", tag);
  for (size_t at = xml.find(open); at != std::string_view::npos; at = xml.find(open, at)) {
    at += open.size();
    size_t end = xml.find(close, at);
    if (end == std::string_view::npos) break;
    std::string text(xml.substr(at, end - at));
    std::string decoded;
    for (size_t i = 0; i < text.size(); ++i) {
      static constexpr std::pair<std::string_view, char> kEntities[] = {
          {"&lt;", '<'},    {"&gt;", '>'},   {"&quot;", '"'},
          {"&apos;", '\''}, {"&#13;", '\r'}, {"&amp;", '&'}};
      bool replaced = false;
      for (const auto& [entity, c] : kEntities) {
        if (text.compare(i, entity.size(), entity) == 0) {
          decoded += c;
          i += entity.size() - 1;
          replaced = true;
          break;
        }
      }
      if (!replaced) decoded += text[i];
    }
    out.push_back(std::move(decoded));
    at = end + close.size();
  }
  return out;
}

std::string first_value(std::string_view xml, std::string_view tag) {
  auto all = xml_values(xml, tag);
  return all.empty() ? std::string() : all.front();
}

void make_bucket(const Options& options, const ObjectArgs& a) {
  http::Headers headers = kJsonErrors;
  if (a.public_read) headers.emplace_back("x-amz-acl", "public-read");
  Session::open(options)->call("PUT", "/s3/" + url_escape(a.bucket), {}, headers);
  print_line(fmt::format("created {}bucket {}", a.public_read ? "public-read " : "", a.bucket));
}

// Reads up to `n` bytes; fails the command on a read error.
std::string read_some(std::FILE* in, size_t n, const std::string& name) {
  std::string out(n, '\0');
  size_t got = std::fread(out.data(), 1, n, in);
  if (std::ferror(in))
    fail(kExitFailed, fmt::format("cannot read {}: {}", name, std::strerror(errno)));
  out.resize(got);
  return out;
}

http::Headers put_headers(const ObjectArgs& a) {
  http::Headers h = kJsonErrors;
  if (!a.content_type.empty()) h.emplace_back("Content-Type", a.content_type);
  return h;
}

// Sends the rest of `in` as a multipart upload whose first part is `first`; returns the ETag.
std::string put_multipart(Session& s, const ObjectArgs& a, std::FILE* in, std::string first,
                          const std::string& name, size_t& total) {
  auto created = s.call("POST", object_path(a) + "?uploads", {}, put_headers(a));
  std::string id = first_value(created.body, "UploadId");
  if (id.empty()) fail(kExitFailed, "the server did not return an upload id");
  std::string parts;
  std::string chunk = std::move(first);
  for (int n = 1; !chunk.empty(); ++n) {
    auto up = s.call("PUT", fmt::format("{}?partNumber={}&uploadId={}", object_path(a), n, id),
                     chunk, kJsonErrors, 10min);
    parts += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", n,
                         up.header("ETag"));
    total += chunk.size();
    chunk = read_some(in, kPartBytes, name);
  }
  auto done = s.call("POST", object_path(a) + "?uploadId=" + id,
                     "<CompleteMultipartUpload>" + parts + "</CompleteMultipartUpload>",
                     kJsonErrors, 10min);
  return first_value(done.body, "ETag");
}

void put(const Options& options, const ObjectArgs& a) {
  bool from_stdin = a.file.empty() || a.file == "-";
  std::string name = from_stdin ? "stdin" : fmt::format("'{}'", a.file);
  std::FILE* in = from_stdin ? stdin : std::fopen(a.file.c_str(), "rb");
  if (in == nullptr) {
    fail(kExitUsage, fmt::format("cannot open {}: {}", name, std::strerror(errno)));
  }
  auto s = Session::open(options);
  ProgressNote note("uploading " + s3_url(a));
  std::string first = read_some(in, kPartBytes, name);
  std::string rest = read_some(in, 1, name);
  size_t total = first.size();
  std::string etag;
  if (rest.empty()) {
    etag = s->call("PUT", object_path(a), first, put_headers(a), 10min).header("ETag");
  } else {
    first += rest;  // one byte over the part size is fine; the next part starts after it
    total = 0;
    etag = put_multipart(*s, a, in, std::move(first), name, total);
  }
  if (!from_stdin) std::fclose(in);
  print_line(fmt::format("uploaded {} ({}, ETag {})", s3_url(a), format_bytes(total), etag));
}

void get(const Options& options, const ObjectArgs& a) {
  auto s = Session::open(options);
  if (a.file.empty() || a.file == "-") {
    s->stream("GET", object_path(a), {}, kJsonErrors, 10min, {},
              [](std::string_view chunk) { std::fwrite(chunk.data(), 1, chunk.size(), stdout); });
    std::fflush(stdout);
    return;
  }
  // Written beside the destination and renamed at the end, so a failed download never
  // leaves half a file under the name asked for.
  std::string temp = a.file + ".kumo-part";
  std::FILE* out = std::fopen(temp.c_str(), "wb");
  if (out == nullptr) {
    fail(kExitUsage, fmt::format("cannot write '{}': {}", a.file, std::strerror(errno)));
  }
  size_t total = 0;
  try {
    ProgressNote note("downloading " + s3_url(a));
    s->stream("GET", object_path(a), {}, kJsonErrors, 10min, {}, [&](std::string_view chunk) {
      total += std::fwrite(chunk.data(), 1, chunk.size(), out);
    });
  } catch (...) {
    std::fclose(out);
    std::remove(temp.c_str());
    throw;
  }
  bool ok = std::fclose(out) == 0 && std::rename(temp.c_str(), a.file.c_str()) == 0;
  if (!ok) {
    std::remove(temp.c_str());
    fail(kExitFailed, fmt::format("cannot write '{}': {}", a.file, std::strerror(errno)));
  }
  print_line(fmt::format("downloaded {} to {} ({})", s3_url(a), a.file, format_bytes(total)));
}

json list_all(Session& s, const ObjectArgs& a) {
  json objects = json::array();
  std::string token;
  while (true) {
    std::string target =
        "/s3/" + url_escape(a.bucket) + "?list-type=2&prefix=" + url_escape(a.prefix);
    if (!token.empty()) target += "&continuation-token=" + url_escape(token);
    auto reply = s.call("GET", target, {}, kJsonErrors);
    for (const auto& item : xml_values(reply.body, "Contents")) {
      std::string etag = first_value(item, "ETag");
      if (etag.size() >= 2 && etag.front() == '"') etag = etag.substr(1, etag.size() - 2);
      objects.push_back({{"key", first_value(item, "Key")},
                         {"size", std::stoll("0" + first_value(item, "Size"))},
                         {"etag", etag},
                         {"last_modified", first_value(item, "LastModified")}});
    }
    token = first_value(reply.body, "NextContinuationToken");
    if (first_value(reply.body, "IsTruncated") != "true" || token.empty()) return objects;
  }
}

void list(const Options& options, const ObjectArgs& a) {
  auto s = Session::open(options);
  json objects = list_all(*s, a);
  if (a.json) return print_line(objects.dump());
  if (objects.empty()) {
    return print_line(a.prefix.empty()
                          ? fmt::format("bucket {} is empty; `kumo put {} KEY FILE` adds an object",
                                        a.bucket, a.bucket)
                          : fmt::format("no keys in {} start with '{}'", a.bucket, a.prefix));
  }
  Table table({"KEY", "SIZE", "MODIFIED"}, {Align::kLeft, Align::kRight, Align::kLeft});
  for (const auto& o : objects) {
    std::string modified = o["last_modified"].get<std::string>();
    table.add_row({o["key"], format_bytes(o["size"].get<uint64_t>()),
                   modified.substr(0, 19).replace(10, 1, " ") + " UTC"});
  }
  std::cout << table.render(Style::detect(1));
}

void remove(const Options& options, const ObjectArgs& a) {
  Session::open(options)->call("DELETE", object_path(a), {}, kJsonErrors);
  print_line(fmt::format("removed {}", s3_url(a)));
}

}  // namespace

void add_objects_commands(CLI::App& app, std::shared_ptr<Options> options) {
  auto args = std::make_shared<ObjectArgs>();
  auto run = [options, args](void (*fn)(const Options&, const ObjectArgs&)) {
    return [options, args, fn] { fn(*options, *args); };
  };

  CLI::App* mb = add_client_subcommand(app, "mb", "Create a bucket in the object store");
  mb->add_option("bucket", args->bucket, "Bucket name (3-63 of a-z 0-9 . -)")->required();
  mb->add_flag("--public-read", args->public_read,
               "Anyone, without a key, may GET and HEAD the bucket's objects (not list them)");
  mb->callback(run(make_bucket));

  CLI::App* put_cmd = add_client_subcommand(app, "put", "Upload a file (or stdin) as an object");
  put_cmd->add_option("bucket", args->bucket, "Bucket")->required();
  put_cmd->add_option("key", args->key, "Object key")->required();
  put_cmd->add_option("file", args->file, "File to upload; - or nothing for stdin");
  put_cmd->add_option("--content-type", args->content_type, "Content-Type to store");
  put_cmd->callback(run(put));

  CLI::App* get_cmd = add_client_subcommand(app, "get", "Download an object");
  get_cmd->add_option("bucket", args->bucket, "Bucket")->required();
  get_cmd->add_option("key", args->key, "Object key")->required();
  get_cmd->add_option("-o,--output", args->file, "Write to this file instead of stdout");
  get_cmd->callback(run(get));

  CLI::App* ls = add_client_subcommand(app, "ls-objects", "List the objects in a bucket");
  ls->add_option("bucket", args->bucket, "Bucket")->required();
  ls->add_option("--prefix", args->prefix, "Only keys that start with this");
  ls->add_flag("--json", args->json, "Print JSON");
  ls->callback(run(list));

  CLI::App* rm = add_client_subcommand(app, "rm-object", "Delete an object");
  rm->add_option("bucket", args->bucket, "Bucket")->required();
  rm->add_option("key", args->key, "Object key")->required();
  rm->callback(run(remove));
}

}  // namespace kumo::cli
