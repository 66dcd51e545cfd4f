#include <memory>

#include "server/wiring.h"
#include "tables/tables.h"

namespace kumo::server {

Result<void> wire_tables(Wiring& w, events::TableCatalog*& catalog) {
  tables::TablesOptions options;
  options.db_path = w.data_dir + "/kumo.db";
  options.config = w.config;
  auto opened = tables::Tables::open(options, w.events);
  if (!opened) return opened.error();
  // Shared by the routes' owner and the stop function, so it lives until both are gone.
  std::shared_ptr<tables::Tables> tables = std::move(*opened);
  tables->add_routes(w.router, w.access, w.audit);
  tables->start();
  w.on_stop.push_back([tables] { tables->stop(); });
  catalog = tables.get();
  return {};
}

}  // namespace kumo::server
