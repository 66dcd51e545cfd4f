// S3Service::handle_notification (POST /api/v1/storage/events) and the `storage:` config.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "storage/s3_service.h"

namespace kumo::storage {
namespace {

// 536870912, "512MiB", "64MB", "1GiB", "100k".
std::optional<int64_t> parse_bytes(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (!v.is_string()) return std::nullopt;
  std::string text = v.get<std::string>();
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.empty() || unit == "b") return n;
  if (unit == "k" || unit == "kb" || unit == "kib") return n << 10;
  if (unit == "m" || unit == "mb" || unit == "mib") return n << 20;
  if (unit == "g" || unit == "gb" || unit == "gib") return n << 30;
  return std::nullopt;
}

Error bad_config(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "storage: " + std::move(message));
}

}  // namespace

Result<StorageOptions> parse_storage_options(const nlohmann::json& section) {
  StorageOptions o;
  if (section.is_null()) return o;
  if (!section.is_object()) return bad_config("expected a map");
  for (const auto& [name, value] : section.items()) {
    if (name == "max_object_bytes") {
      auto bytes = parse_bytes(value);
      if (!bytes || *bytes < 1 || *bytes > (int64_t{5} << 30)) {
        return bad_config(fmt::format("max_object_bytes must be 1 byte..5GiB, like 512MiB; got {}",
                                      value.dump()));
      }
      o.max_object_bytes = *bytes;
    } else if (name == "workers") {
      if (!value.is_number_integer() || value.get<int>() < 1 || value.get<int>() > 64) {
        return bad_config(fmt::format("workers must be 1..64, got {}", value.dump()));
      }
      o.workers = value.get<int>();
    } else {
      return bad_config(fmt::format("unknown key '{}' (known: max_object_bytes, workers)", name));
    }
  }
  return o;
}

http::Response S3Service::handle_notification(const http::Request& req,
                                              const auth::Caller& caller) {
  auto parsed = parse_notification(req.body);
  if (!parsed) {
    return http::error_response(400, error_code_name(parsed.error().code), parsed.error().message);
  }
  for (auto& event : parsed->events) {
    if (auto ok = auth::Access::permit(caller, auth::Action::kWrite,
                                       auth::Resource::bucket(event.bucket));
        !ok) {
      return auth::refusal(ok.error());
    }
    event.bucket = auth::qualify(caller, event.bucket);
  }
  int invocations = 0;
  for (const auto& event : parsed->events) {
    auto queued = events_.object_changed(event);
    if (!queued) {
      spdlog::warn("storage: a posted event for {}/{} was not accepted: {}", event.bucket,
                   event.key, queued.error().message);
      // Not acknowledged, so the sender retries the whole notification.
      return http::error_response(
          503, "unavailable",
          fmt::format("the event for {}/{} was not accepted: {}; send the notification again",
                      event.bucket, event.key, queued.error().message));
    }
    invocations += *queued;
  }
  return http::json_response(200, {{"accepted", parsed->events.size()},
                                   {"ignored", parsed->ignored},
                                   {"invocations", invocations}});
}

}  // namespace kumo::storage
