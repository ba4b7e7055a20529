#pragma once
// GET /trajectory?since=N: the lines with seq > N as application/x-ndjson,
// streamed from the file (never read whole into memory), at most
// kTrajectoryPageLines lines and about kTrajectoryPageBytes per request:
// a client asks again with since = the last seq it got until a reply is
// empty. Headers tell the last seq recorded so far and whether recording
// stopped at the cap (X-Arl-Trajectory-Last-Seq, X-Arl-Trajectory-Full).
#include <cstdint>

#include <httplib.h>

#include "sidecar/trajectory.h"

namespace arl::sidecar {

inline constexpr std::uint64_t kTrajectoryPageLines = 1000;
inline constexpr std::uint64_t kTrajectoryPageBytes = 4ull << 20;

/// Throws Error{invalid} naming `since` for a value that is not a whole number.
void serve_trajectory(Trajectory& trajectory, const httplib::Request& req, httplib::Response& res);

}  // namespace arl::sidecar
