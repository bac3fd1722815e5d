// api/openapi.h: the OpenAPI 3 document of a route table (served at /openapi.json).
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "api/route.h"

namespace msaas::api {

nlohmann::json openapi_document(const std::vector<Route>& routes);

}  // namespace msaas::api
