#pragma once
// Readiness probes against a pod IP. Tiny and blocking with a short
// timeout: the targets are local sockets that answer in microseconds.
#include <chrono>
#include <string>

#include "localnode/pod_plan.h"

namespace arl::localnode {

/// true when the probe passes (http: status 200-399; tcp: connect succeeds;
/// none: always).
bool probe_once(const Probe& probe, const std::string& ip, std::chrono::milliseconds timeout);

/// Parses an HTTP status line ("HTTP/1.1 200 OK") into its code, 0 if malformed.
int parse_status_line(const std::string& head);

}  // namespace arl::localnode
