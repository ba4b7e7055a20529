#pragma once
// The archive routes of the sidecar's checkpoints: GET
// /checkpoints/{ref}/archive and POST /checkpoints/import (both forms:
// an uploaded archive, or {"source_url": ...} fetched from another sidecar).
// Registered by server.cpp beside the other checkpoint routes.
#include <httplib.h>

#include "sidecar/checkpoint_store.h"

namespace arl::sidecar {

void add_checkpoint_archive_routes(httplib::Server& svr, CheckpointStore& store, bool log_requests);

}  // namespace arl::sidecar
