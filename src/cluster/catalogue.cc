#include "cluster/catalogue.h"

#include <charconv>

#include <fmt/format.h>

#include "common/json.h"

namespace kumo::cluster {
namespace {

using nlohmann::json;

// Compare-and-swap rounds lost to other nodes' deploys of the same name before giving up.
constexpr int kMaxPublishRounds = 20;

int parse_counter(const std::string& value) {
  int n = 0;
  std::from_chars(value.data(), value.data() + value.size(), n);
  return n;
}

}  // namespace

std::string entry_json(const CatalogueEntry& e) {
  return json{{"name", e.name},
              {"version", e.version},
              {"spec", e.spec_json},
              {"sha256", e.sha256},
              {"package_bytes", e.package_bytes},
              {"created_at_us", e.created_at_us}}
      .dump();
}

std::optional<CatalogueEntry> parse_entry(const std::string& value) {
  auto parsed = parse_json(value);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  const json& j = *parsed;
  auto is = [&j](const char* key, auto check) { return j.contains(key) && (j[key].*check)(); };
  if (!is("name", &json::is_string) || !is("version", &json::is_number_integer) ||
      !is("spec", &json::is_string) || !is("sha256", &json::is_string) ||
      !is("package_bytes", &json::is_number_integer) ||
      !is("created_at_us", &json::is_number_integer)) {
    return std::nullopt;
  }
  return CatalogueEntry{j["name"], j["version"], j["spec"], j["sha256"], j["package_bytes"],
                        j["created_at_us"]};
}

FunctionCatalogue::FunctionCatalogue(const Etcd& etcd, std::string prefix)
    : etcd_(etcd), prefix_(std::move(prefix)) {}

std::string FunctionCatalogue::function_key(const std::string& name) const {
  return prefix_ + "functions/" + name;
}

std::string FunctionCatalogue::counter_key(const std::string& name) const {
  return prefix_ + "versions/" + name;
}

Result<CatalogueEntry> FunctionCatalogue::publish(CatalogueEntry entry) {
  for (int round = 0; round < kMaxPublishRounds; ++round) {
    auto counter = etcd_.get(counter_key(entry.name));
    if (!counter) return counter.error();
    auto latest = find(entry.name);
    if (!latest) return latest.error();
    if (*latest && (*latest)->sha256 == entry.sha256 && (*latest)->spec_json == entry.spec_json) {
      return **latest;  // already the latest version
    }
    int last = counter->kvs.empty() ? 0 : parse_counter(counter->kvs[0].value);
    int64_t seen = counter->kvs.empty() ? 0 : counter->kvs[0].mod_revision;
    entry.version = last + 1;
    auto written = etcd_.put_all_if(counter_key(entry.name), seen,
                                    {{counter_key(entry.name), std::to_string(entry.version)},
                                     {function_key(entry.name), entry_json(entry)}});
    if (!written) return written.error();
    if (*written) return entry;
  }
  return make_error(ErrorCode::kUnavailable,
                    fmt::format("cluster: {} deploys of '{}' raced this one; deploy again",
                                kMaxPublishRounds, entry.name));
}

Result<void> FunctionCatalogue::remove(const std::string& name) {
  auto erased = etcd_.erase(function_key(name));
  if (!erased) return erased.error();
  if (*erased == 0) {
    return make_error(ErrorCode::kNotFound, fmt::format("function '{}' not found", name));
  }
  return {};
}

Result<std::optional<CatalogueEntry>> FunctionCatalogue::find(const std::string& name) const {
  auto got = etcd_.get(function_key(name));
  if (!got) return got.error();
  if (got->kvs.empty()) return std::optional<CatalogueEntry>();
  return parse_entry(got->kvs[0].value);
}

Result<CatalogueListing> FunctionCatalogue::list() const {
  auto listed = etcd_.list(prefix_ + "functions/");
  if (!listed) return listed.error();
  CatalogueListing out;
  out.revision = listed->revision;
  for (const auto& kv : listed->kvs) {
    if (auto entry = parse_entry(kv.value)) out.entries.push_back(std::move(*entry));
  }
  return out;
}

std::unique_ptr<Watch> FunctionCatalogue::watch(
    int64_t after_revision, std::function<void(const CatalogueChange&)> on_change,
    std::function<void()> on_compacted) const {
  size_t skip = prefix_.size() + std::string_view("functions/").size();
  return etcd_.watch(prefix_ + "functions/", after_revision,
                     [skip, on_change, on_compacted](const WatchUpdate& update) {
                       if (update.compacted) on_compacted();
                       for (const auto& e : update.events) {
                         CatalogueChange change{e.kv.key.substr(skip), std::nullopt};
                         if (e.type == WatchEvent::Type::kPut) change.entry = parse_entry(e.kv.value);
                         on_change(change);
                       }
                     });
}

}  // namespace kumo::cluster
