#include <spdlog/spdlog.h>

#include "server/wiring.h"
#include "storage/s3_service.h"

namespace kumo::server {

Result<void> wire_storage(Wiring& w) {
  auto options = storage::parse_storage_options(w.config);
  if (!options) return options.error();
  auto store = storage::ObjectStore::open({w.data_dir});
  if (!store) return store.error();
  auto service = std::make_shared<storage::S3Service>(std::move(*store), w.events, *options);
  if (w.audit != nullptr) {
    service->set_bucket_hook([&access = w.access, audit = w.audit](
                                 const http::Request& req, std::string_view action,
                                 const std::string& bucket, int status, std::string_view detail) {
      audit->record(auth::claimed_caller(access, req), action, bucket, req.remote_address, status,
                    detail);
    });
  }
  storage::add_storage_routes(w.router, service, w.access);
  w.on_stop.push_back([service] { service->stop(); });
  spdlog::debug("storage: objects in {}/objects, S3 endpoint at /s3", w.data_dir);
  return {};
}

}  // namespace kumo::server
