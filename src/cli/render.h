// Rendering of the server's JSON replies as the text a person reads: the `ls` and `usage`
// tables, the `describe` block and one-line confirmations.
//
// Pure functions of the reply (and of `now_us` for relative times), so they are
// unit-tested with sample replies. A reply of an unexpected shape gives kInternal with a
// message naming it; no JSON exception escapes. Thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/output.h"
#include "common/result.h"

namespace kumo::cli {

// {"total","busy","idle","starting","queued"} -> "2 (1 busy)", "0", "1 (1 starting, 3 queued)".
Result<std::string> render_instances(const nlohmann::json& instances);

// GET /api/v1/functions -> NAME VERSION RUNTIME MEMORY INSTANCES DEPLOYED table, or a line
// saying how to deploy when there is none.
Result<std::string> render_function_list(const nlohmann::json& reply, int64_t now_us,
                                         const Style& style);

// GET /api/v1/functions/NAME -> "key: value" lines, then the versions table.
Result<std::string> render_function(const nlohmann::json& reply, int64_t now_us,
                                    const Style& style);

// GET /api/v1/usage -> a "since ..." line, then FUNCTION INVOCATIONS ERRORS COLD P50 P99
// GB-S COST rows and a TOTAL row.
Result<std::string> render_usage(const nlohmann::json& reply, const Style& style);

// POST /api/v1/functions -> "deployed hello version 3 (12.4 kB, sha256 ab12cd34)\n", or
// "unchanged hello version 3 (...)" when the server kept the latest version (same package).
Result<std::string> render_deployed(const nlohmann::json& reply, uint64_t package_bytes,
                                    const Style& style);

// GET /api/v1/keys -> ID TENANT NAME SCOPES CREATED LAST-USED EXPIRES REVOKED rows
// (render_auth.cc). The operator's keys show "(operator)" as their tenant.
Result<std::string> render_key_list(const nlohmann::json& reply, int64_t now_us,
                                    const Style& style);

// POST /api/v1/keys -> what was made, its token (shown this once) and how to use it.
Result<std::string> render_new_key(const nlohmann::json& reply, int64_t now_us,
                                   const Style& style);

// GET /api/v1/audit -> TIME KEY TENANT ACTION TARGET FROM STATUS rows, a refusal's or
// failure's message under its row.
Result<std::string> render_audit(const nlohmann::json& reply, const Style& style);

// "30s", "250ms", "5m", "1h": a spec duration as kumo.yaml would write it.
std::string format_spec_duration(int64_t ms);

}  // namespace kumo::cli
