#pragma once
// The one decoder of a streamed /execute reply (core/sidecar_protocol.h):
// NDJSON arriving in chunks that split lines anywhere, turned into ExecEvents
// and the outcome of the command. Used by SidecarClient::execute_stream over
// every transport.
#include <functional>
#include <string>
#include <string_view>

#include "core/sidecar_protocol.h"
#include "k8s/watch_decoder.h"

namespace arl::k8s {

class ExecStreamDecoder {
 public:
  using OnEvent = std::function<void(const core::ExecEvent&)>;

  /// Without on_event the output is collected into result() instead: a
  /// caller that prints as it goes does not hold a long stream in memory.
  explicit ExecStreamDecoder(OnEvent on_event = {});

  /// False once a line is not an event (error() says why): the stream is
  /// broken and reading on is pointless. Lines after the last event are ignored.
  bool feed(std::string_view chunk);

  /// At least one event arrived: the reply is a stream, not an error body.
  bool started() const { return started_; }
  /// The last event (exit or error) arrived.
  bool finished() const { return finished_; }
  /// The error event's message, or what was wrong with a line.
  const std::string& error() const { return error_; }
  /// exit_code, timed_out and duration_ms of the exit event (done = it
  /// arrived), pid of the start event, and the output when collected.
  const core::ExecuteResponse& result() const { return result_; }
  core::ExecuteResponse& result() { return result_; }

 private:
  bool on_line(std::string_view line);

  OnEvent on_event_;
  LineSplitter lines_;
  core::ExecuteResponse result_;
  std::string error_;
  bool started_ = false;
  bool finished_ = false;
};

}  // namespace arl::k8s
