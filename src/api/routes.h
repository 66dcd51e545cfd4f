// Internal to api: each file adds one group of routes. Not for use outside src/api.
#pragma once

#include "api/api.h"
#include "common/work_pool.h"
#include "api/function_cache.h"

namespace kumo::api {

void add_function_routes(http::Router& router, ApiDeps& deps, FunctionCache& cache,
                         WorkPool& background);
void add_invoke_routes(http::Router& router, ApiDeps& deps, FunctionCache& cache);
void add_ops_routes(http::Router& router, ApiDeps& deps, FunctionCache& cache);
void add_event_routes(http::Router& router, ApiDeps& deps);
void add_model_routes(http::Router& router, ApiDeps& deps, FunctionCache& cache);
void add_tenant_routes(http::Router& router, ApiDeps& deps);  // none when deps.tenants is null

// The function's log file under the data directory.
std::string log_path(const std::string& data_dir, const std::string& function);

}  // namespace kumo::api
