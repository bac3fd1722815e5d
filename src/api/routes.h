// api/routes.h: the route tables of msaas-api, one per part of the API.
#pragma once

#include <vector>

#include "api/api_context.h"
#include "api/route.h"

namespace msaas::api {

// /v1: jobs, their events and stems, the queue, the models (routes_v1.cpp).
std::vector<Route> v1_routes(ApiContext& context);
// /apiv1: the original service's API, kept for its clients (routes_original_api.cpp).
std::vector<Route> original_api_routes(ApiContext& context);
// The page, health, metrics, scaling, and the OpenAPI document of `all` plus these
// (routes_ops.cpp).
std::vector<Route> ops_routes(ApiContext& context, const std::vector<Route>& all);

}  // namespace msaas::api
