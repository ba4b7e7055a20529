#include "k8s/exec_stream_decoder.h"

#include <nlohmann/json.hpp>

namespace arl::k8s {

ExecStreamDecoder::ExecStreamDecoder(OnEvent on_event) : on_event_(std::move(on_event)) { result_.done = false; }

bool ExecStreamDecoder::feed(std::string_view chunk) {
  if (!error_.empty() && !finished_) return false;
  return lines_.feed(chunk, [this](std::string_view line) { return on_line(line); });
}

bool ExecStreamDecoder::on_line(std::string_view line) {
  if (finished_) return true;
  core::ExecEvent ev;
  try {
    from_json(nlohmann::json::parse(line), ev);
  } catch (const std::exception& e) {
    error_ = std::string("invalid event line: ") + e.what();
    return false;
  }
  started_ = true;
  using T = core::ExecEvent::Type;
  switch (ev.type) {
    case T::start: result_.pid = ev.pid; break;
    case T::stdout_data:
      if (!on_event_) result_.stdout_data += ev.data;
      break;
    case T::stderr_data:
      if (!on_event_) result_.stderr_data += ev.data;
      break;
    case T::exit:
      result_.exit_code = ev.exit_code;
      result_.timed_out = ev.timed_out;
      result_.duration_ms = ev.duration_ms;
      result_.done = true;
      finished_ = true;
      break;
    case T::error:
      error_ = ev.data.empty() ? "the executor reported an error" : ev.data;
      finished_ = true;
      break;
  }
  if (on_event_) on_event_(ev);
  return true;
}

}  // namespace arl::k8s
