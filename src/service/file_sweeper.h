// service/file_sweeper.h: deletes from storage the files listed in the trash (queue/trash.h).
// Workers sweep on their housekeeping thread; the API sweeps right after a DELETE so a user's
// files go at once when storage answers. A file whose deletion fails stays listed and is tried
// again later: no job's file is orphaned by a storage error.
#pragma once

#include "queue/trash.h"
#include "service/config.h"

namespace msaas::service {

// Deletes up to `limit` due files, each under a deadline of `call_limit_s`; returns how many
// were deleted. Stops at the first storage error: the rest waits for the storage to come back.
int sweep_trash(queue::Trash& trash, storage::Storage& storage, const ServiceConfig& config,
                int limit = 100, double call_limit_s = 20);

// Deletes the listed files (trash members, e.g. those of a job just removed) at once; what
// fails stays listed for the sweeps. Returns how many were deleted.
int delete_files(queue::Trash& trash, storage::Storage& storage, const ServiceConfig& config,
                 const std::vector<queue::TrashItem>& items, double call_limit_s = 5);

}  // namespace msaas::service
