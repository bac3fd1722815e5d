// api/page.h: the page served at /. A plain form over the /v1 API until the full web page
// (upload progress, waveforms, mixing) lands.
#pragma once

#include <string>

namespace msaas::api {

const std::string& index_page();

}  // namespace msaas::api
