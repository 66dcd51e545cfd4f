// The part of Kumo's API a function reaches from inside its box (at KUMO_URL, through the
// listener Kumo makes in the box's network namespace): the data plane (S3, tables, topics,
// events, invoke and HTTP triggers, models, /healthz). The control plane (deploying, listing,
// describing and deleting functions, logs, usage, /metrics, storage notifications) answers
// 403 there, so a function cannot deploy code or remove another function.
#pragma once

#include <string_view>

#include "http/router.h"

namespace kumo::api {

bool reachable_from_a_box(std::string_view method, std::string_view pattern);

// `full` with every other route answering 403 (type "forbidden").
http::Router box_router(const http::Router& full);

}  // namespace kumo::api
