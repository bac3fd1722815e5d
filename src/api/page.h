// api/page.h: the built-in page served at / when the real one (web/, built by web/build.mjs)
// is missing: a plain upload form over the /v1 API, so / never answers with a blank page.
#pragma once

#include <string>

namespace msaas::api {

const std::string& index_page();

}  // namespace msaas::api
