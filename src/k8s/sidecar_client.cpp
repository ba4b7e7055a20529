#include "k8s/sidecar_client.h"

#include <optional>

#include "core/error.h"
#include "k8s/direct_transport.h"
#include "k8s/exec_stream_decoder.h"

namespace arl::k8s {
namespace {

using nlohmann::json;

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::optional<std::string> sidecar_error_text(const std::string& body) {
  try {
    auto j = json::parse(body);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  } catch (const json::exception&) {
  }
  return std::nullopt;
}

ErrorCode code_for_refusal(int status) {
  switch (status) {
    case 401: return ErrorCode::unauthorized;
    case 403: return ErrorCode::forbidden;
    case 404: return ErrorCode::not_found;
    case 409: return ErrorCode::conflict;
    default: return status < 500 ? ErrorCode::invalid : ErrorCode::unavailable;
  }
}

bool is_2xx(int status) { return status >= 200 && status < 300; }

// A refused stream's body is its error text; once an event arrived the
// reply is a stream and keeping it would copy all the output.
constexpr size_t kMaxErrorBody = 64 * 1024;

}  // namespace

SidecarClient::SidecarClient(std::unique_ptr<SidecarTransport> transport, ClientOptions options)
    : transport_(std::move(transport)), opts_(options) {}
SidecarClient::SidecarClient(const std::string& address, const std::string& token)
    : SidecarClient(std::make_unique<DirectTransport>(DirectOptions{address, token})) {}
SidecarClient::~SidecarClient() = default;
SidecarClient::SidecarClient(SidecarClient&&) noexcept = default;
SidecarClient& SidecarClient::operator=(SidecarClient&&) noexcept = default;

void SidecarClient::throw_refused(std::string_view what, int status, const std::string& body) const {
  auto text = sidecar_error_text(body);
  throw Error(code_for_refusal(status), transport_->refusal_message(what, status, text ? &*text : nullptr, body));
}

json SidecarClient::call(std::string_view method, std::string_view endpoint, const json* body, double timeout_seconds) {
  const std::string what = std::string(method) + " " + std::string(endpoint);
  std::string dumped;
  if (body) dumped = body->dump();
  auto reply = transport_->request(method, endpoint, body ? &dumped : nullptr, millis(timeout_seconds));
  if (!is_2xx(reply.status)) throw_refused(what, reply.status, reply.body);
  try {
    return json::parse(reply.body);
  } catch (const json::parse_error&) {
    throw Error(ErrorCode::unavailable, transport_->name() + ": " + what + ": the sidecar sent invalid JSON");
  }
}

double SidecarClient::execute_timeout(const core::ExecuteRequest& request) const {
  if (request.background) return opts_.read_timeout_seconds;
  return request.timeout_seconds.value_or(core::kSidecarDefaultTimeoutSeconds) + opts_.execute_grace_seconds;
}

core::HealthResponse SidecarClient::health() {
  return call("GET", "/health", nullptr, opts_.read_timeout_seconds).get<core::HealthResponse>();
}

core::FileWriteResponse SidecarClient::write_file(const core::FileWriteRequest& request) {
  json body = request;
  return call("POST", "/files", &body, opts_.read_timeout_seconds).get<core::FileWriteResponse>();
}

core::ExecuteResponse SidecarClient::execute(const core::ExecuteRequest& request) {
  core::ExecuteRequest r = request;
  r.stream = false;
  json body = r;
  return call("POST", "/execute", &body, execute_timeout(r)).get<core::ExecuteResponse>();
}

core::ExecuteResponse SidecarClient::execute_stream(const core::ExecuteRequest& request,
                                                    const std::function<void(const core::ExecEvent&)>& on_event,
                                                    std::stop_token stop) {
  if (request.background) return execute(request);
  core::ExecuteRequest r = request;
  r.stream = true;
  ExecStreamDecoder decoder(on_event);
  std::string head;  // the reply until its first event: a refusal's error text
  const int status = transport_->post_stream(
      "/execute", json(r).dump(),
      [&](std::string_view chunk) {
        if (!decoder.started() && head.size() < kMaxErrorBody)
          head.append(chunk.substr(0, kMaxErrorBody - head.size()));
        return decoder.feed(chunk);
      },
      millis(execute_timeout(r)), stop);
  if (status != 0 && !is_2xx(status)) throw_refused("POST /execute", status, head);
  if (!decoder.error().empty()) throw Error(ErrorCode::unavailable, transport_->name() + ": " + decoder.error());
  auto& result = decoder.result();
  if (result.done) {
    result.pid.reset();  // reported for background starts only, as in the buffered form
    return std::move(result);
  }
  if (stop.stop_requested()) return std::move(result);
  throw Error(ErrorCode::unavailable,
              transport_->name() + ": the connection to the executor ended before the command finished");
}

core::SignalResponse SidecarClient::signal(const core::SignalRequest& request) {
  json body = request;
  return call("POST", "/signal", &body, opts_.read_timeout_seconds).get<core::SignalResponse>();
}

core::SignalResponse SidecarClient::signal(int pid, const std::string& signal_name) {
  return signal(core::SignalRequest{pid, signal_name});
}

core::ResetResponse SidecarClient::reset(const core::ResetRequest& request) {
  json body = request;
  return call("POST", "/reset", &body, opts_.read_timeout_seconds).get<core::ResetResponse>();
}

std::vector<core::ProcessInfo> SidecarClient::processes() {
  return call("GET", "/processes", nullptr, opts_.read_timeout_seconds).get<core::ProcessesResponse>().processes;
}

core::BindResponse SidecarClient::bind(const core::BindRequest& request, const core::BindSettings& settings) {
  json body = request;
  core::add_bind_settings(body, settings);
  return call("POST", "/bind", &body, opts_.read_timeout_seconds).get<core::BindResponse>();
}

}  // namespace arl::k8s

namespace arl::k8s {

core::CheckpointInfo SidecarClient::checkpoint(const std::string& name) {
  json body = core::CheckpointRequest{name};
  return call("POST", "/checkpoints", &body, opts_.read_timeout_seconds).get<core::CheckpointInfo>();
}

core::CheckpointList SidecarClient::checkpoints() {
  return call("GET", "/checkpoints", nullptr, opts_.read_timeout_seconds).get<core::CheckpointList>();
}

core::RestoreResponse SidecarClient::restore(const std::string& ref, bool kill_processes) {
  json body = core::RestoreRequest{kill_processes};
  return call("POST", "/checkpoints/" + ref + "/restore", &body, opts_.read_timeout_seconds).get<core::RestoreResponse>();
}

core::CheckpointDeleted SidecarClient::delete_checkpoint(const std::string& ref) {
  return call("DELETE", "/checkpoints/" + ref, nullptr, opts_.read_timeout_seconds).get<core::CheckpointDeleted>();
}

core::CheckpointInfo SidecarClient::import_checkpoint(const core::CheckpointImportRequest& request) {
  json body = request;
  return call("POST", "/checkpoints/import", &body, opts_.read_timeout_seconds).get<core::CheckpointInfo>();
}

}  // namespace arl::k8s
