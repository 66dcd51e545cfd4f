// The Open Inference Protocol (KServe v2) routes of model functions.
#include "api/routes.h"

namespace kumo::api {

void add_model_routes(http::Router&, ApiDeps&, FunctionCache&) {}

}  // namespace kumo::api
