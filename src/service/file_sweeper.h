// service/file_sweeper.h: deletes from storage the files listed in the trash (queue/trash.h).
// Workers sweep on their housekeeping thread; the API sweeps right after a DELETE so a user's
// files go at once when storage answers. A file whose deletion fails stays listed and is tried
// again later: no job's file is orphaned by a storage error.
#pragma once

#include "queue/trash.h"
#include "service/config.h"

namespace msaas::service {

// Deletes up to `limit` due files, each under a deadline of `call_limit_s`; returns how many
// were deleted.
int sweep_trash(queue::Trash& trash, storage::Storage& storage, const ServiceConfig& config,
                int limit = 100, double call_limit_s = 20);

}  // namespace msaas::service
