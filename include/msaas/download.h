// msaas/download.h: fetching the official models into a models folder (`msaas models pull`).
// Its own library (msaas_download, with libcurl), outside the engine: programs that only
// separate do not carry an HTTP client.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "msaas/models.h"

namespace msaas {

// Where official checkpoints are downloaded from ($MSAAS_MODELS_URL overrides it).
std::string default_models_url();

struct DownloadProgress {
  std::string file;
  int64_t received = 0;  // bytes of this file so far, resumed bytes included
  int64_t total = 0;     // 0 while unknown
};

// Downloads `model`'s files from `url_root` into `folder`, then writes <name>.yaml. Each file is
// fetched to <file>.part, resumed with an HTTP Range request when a previous try broke off,
// checked against the SHA-256 prefix in its name, and only then renamed to its final name.
// Files already present and valid are kept. Throws ModelError.
void pull_model(const NamedModel& model, const std::string& folder, const std::string& url_root,
                const std::function<void(const DownloadProgress&)>& progress = nullptr);

}  // namespace msaas
