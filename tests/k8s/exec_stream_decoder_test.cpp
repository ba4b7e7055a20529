#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "k8s/exec_stream_decoder.h"

using namespace arl;
using arl::k8s::ExecStreamDecoder;
using T = core::ExecEvent::Type;

namespace {

const std::string kStream =
    "{\"type\":\"start\",\"pid\":42}\n{\"type\":\"stdout\",\"data\":\"hel\"}\n"
    "{\"type\":\"stderr\",\"data\":\"oops\\n\"}\n{\"type\":\"stdout\",\"data\":\"lo\\n\"}\n"
    "{\"type\":\"exit\",\"exit_code\":3,\"timed_out\":false,\"duration_ms\":1.5}\n";

// What a caller printing as it goes sees: "[type]data" per event.
std::string printed(const std::vector<std::string_view>& chunks) {
  std::string seen;
  ExecStreamDecoder d([&](const core::ExecEvent& ev) {
    seen += "[" + std::string(core::event_type_name(ev.type)) + "]" + ev.data;
  });
  for (auto c : chunks) REQUIRE(d.feed(c));
  CHECK(d.finished());
  CHECK(d.result().done);
  CHECK(d.result().exit_code == 3);
  CHECK(d.result().stdout_data.empty());
  return seen;
}

}  // namespace

TEST_CASE("exec stream: the same events whatever the chunking") {
  const std::string expected = "[start][stdout]hel[stderr]oops\n[stdout]lo\n[exit]";
  std::string_view s(kStream);
  CHECK(printed({s}) == expected);  // several events in one chunk
  for (size_t cut = 0; cut <= s.size(); ++cut) CHECK(printed({s.substr(0, cut), s.substr(cut)}) == expected);
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
  CHECK(printed(bytes) == expected);
}

TEST_CASE("exec stream: without a callback the output is collected with the exit") {
  ExecStreamDecoder d;
  for (size_t i = 0; i < kStream.size(); i += 7) CHECK(d.feed(std::string_view(kStream).substr(i, 7)));
  const auto& r = d.result();
  CHECK(r.stdout_data == "hello\n");
  CHECK(r.stderr_data == "oops\n");
  CHECK(r.exit_code == 3);
  CHECK(r.duration_ms == 1.5);
  CHECK_FALSE(r.timed_out);
  CHECK(r.done);
  CHECK(r.pid == 42);
  CHECK(d.error().empty());
}

TEST_CASE("exec stream: an error event ends the stream with its message") {
  ExecStreamDecoder d;
  CHECK(d.feed("{\"type\":\"start\",\"pid\":7}\n{\"type\":\"stdout\",\"data\":\"a\"}\n{\"type\":\"err"));
  CHECK_FALSE(d.finished());
  CHECK(d.feed("or\",\"message\":\"spawn failed\"}\n"));
  CHECK(d.finished());
  CHECK(d.error() == "spawn failed");
  CHECK_FALSE(d.result().done);
  CHECK(d.result().stdout_data == "a");
  CHECK(d.feed("{\"type\":\"stdout\",\"data\":\"late\"}\n"));  // after the last event: ignored
  CHECK(d.result().stdout_data == "a");
}

TEST_CASE("exec stream: a line that is not an event breaks the stream") {
  ExecStreamDecoder d;
  CHECK_FALSE(d.feed("{\"type\":\"start\",\"pid\":7}\nnot json\n{\"type\":\"exit\",\"exit_code\":0}\n"));
  CHECK(d.started());
  CHECK_FALSE(d.finished());
  CHECK(d.error().rfind("invalid event line: ", 0) == 0);
  CHECK_FALSE(d.feed("{\"type\":\"exit\",\"exit_code\":0}\n"));

  // A refusal's JSON error is not an event either, and nothing started.
  ExecStreamDecoder refused;
  CHECK_FALSE(refused.feed("{\"error\":\"command: must not be empty\"}\n"));
  CHECK_FALSE(refused.started());
  CHECK(refused.error() == "invalid event line: type: required");
}
