#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mcp/server.h"
#include "core/error.h"

using nlohmann::json;
using namespace arl::mcp;

namespace {

// Two tools: `echo` returns its text (with a progress report per word),
// `fail` throws as a cluster call does.
class FakeTools : public ToolBox {
 public:
  std::vector<ToolSpec> tools() const override {
    return {{"echo", "Echo", "Returns its text",
             json::parse(R"({"type":"object","properties":{"text":{"type":"string"}},"required":["text"],
                             "additionalProperties":false})"),
             json::parse(R"({"type":"object","properties":{"text":{"type":"string"}},"required":["text"]})")},
            {"fail", "Fail", "Always fails", json::parse(R"({"type":"object"})"), json()}};
  }
  ToolResult call(const std::string& name, const json& args, const Progress& progress,
                  std::stop_token stop) override {
    calls.push_back(name);
    if (name == "echo" && args["text"] == "cancel-me") {
      stopped = stop.stop_requested();
      return {{{"text", "late"}}, "late", false};
    }
    if (name == "fail") throw arl::Error(arl::ErrorCode::not_found, "sandbox s1 not found: call sandbox_create");
    std::string text = args["text"];
    for (const char* w : {"one", "two"}) progress(w);
    return {{{"text", text}}, text, false};
  }
  std::vector<std::string> calls;
  bool stopped = false;
};

struct Session {
  FakeTools tools;
  std::vector<json> out;
  Server server{tools, {"arl", "ARL sandboxes", "1.2.3", "Use the tools."}, [this](const json& m) { out.push_back(m); }};

  /// The messages one line produced.
  std::vector<json> send(const std::string& line, std::stop_token stop = {}) {
    out.clear();
    server.handle_line(line, stop);
    return out;
  }
  json one(const std::string& line) {
    auto msgs = send(line);
    REQUIRE(msgs.size() == 1);
    return msgs[0];
  }
  void init(const std::string& version = "2025-06-18") {
    one(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")" + version +
        R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
    send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  }
};

json error(const json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

}  // namespace

TEST_CASE("initialize answers the client's version when supported, else 2025-06-18") {
  struct Row {
    std::string asked, answered;
  };
  for (const auto& row : std::vector<Row>{{"2025-06-18", "2025-06-18"},
                                          {"2025-11-25", "2025-11-25"},
                                          {"2025-03-26", "2025-03-26"},
                                          {"2024-11-05", "2025-06-18"},
                                          {"2099-01-01", "2025-06-18"}}) {
    CAPTURE(row.asked);
    Session s;
    auto r = s.one(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")" + row.asked +
                   R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
    CHECK(r["id"] == 1);
    CHECK(r["result"]["protocolVersion"] == row.answered);
    CHECK(r["result"]["capabilities"] == json::parse(R"({"tools":{"listChanged":false}})"));
    CHECK(r["result"]["serverInfo"]["name"] == "arl");
    CHECK(r["result"]["serverInfo"]["version"] == "1.2.3");
    CHECK(r["result"]["instructions"] == "Use the tools.");
    CHECK(s.server.protocol_version() == row.answered);
  }
}

TEST_CASE("malformed input gets its JSON-RPC error and the server goes on") {
  struct Row {
    std::string line;
    json reply;
  };
  const std::vector<Row> rows = {
      {"this is not json",
       error(nullptr, -32700, "Parse error: the line is not JSON; send one JSON-RPC 2.0 message per line")},
      {R"({"jsonrpc":"2.0","id":1,"method":"ping")",
       error(nullptr, -32700, "Parse error: the line is not JSON; send one JSON-RPC 2.0 message per line")},
      {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])",
       error(nullptr, -32600, "Invalid Request: batches (JSON arrays) are not supported; send one message per line")},
      {"42", error(nullptr, -32600, "Invalid Request: a message must be a JSON object")},
      {R"({"jsonrpc":"1.0","id":3,"method":"ping"})", error(3, -32600, "Invalid Request: jsonrpc must be \"2.0\"")},
      {R"({"id":4,"method":"ping"})", error(4, -32600, "Invalid Request: jsonrpc must be \"2.0\"")},
      {R"({"jsonrpc":"2.0","id":null,"method":"ping"})",
       error(nullptr, -32600, "Invalid Request: id must be a string or an integer")},
      {R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})",
       error(nullptr, -32600, "Invalid Request: id must be a string or an integer")},
      {R"({"jsonrpc":"2.0","id":5})", error(5, -32600, "Invalid Request: method is missing")},
      {R"({"jsonrpc":"2.0","id":6,"method":7})", error(6, -32600, "Invalid Request: method must be a string")},
      {R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":[1]})",
       error(7, -32602, "Invalid params: params of tools/list must be an object")},
      {R"({"jsonrpc":"2.0","method":"tools/list"})",
       error(nullptr, -32600, "Invalid Request: tools/list is a request and needs an id (a string or an integer)")},
      {R"({"jsonrpc":"2.0","id":"x","method":"resources/list"})",
       error("x", -32601,
             "Method not found: resources/list (this server answers initialize, ping, tools/list, tools/call)")},
      {R"({"jsonrpc":"2.0","id":8,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})",
       error(8, -32600, "Invalid Request: already initialized")},
      {R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{}})",
       error(9, -32602, "Invalid params: tools/call needs params.name (a string)")},
      {R"({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"nope"}})",
       error(10, -32602, "Unknown tool: nope (tools: echo, fail)")},
      {R"({"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"echo","arguments":"hi"}})",
       error(11, -32602, "Invalid params: params.arguments of tools/call must be an object")},
  };
  Session s;
  s.init();
  for (const auto& row : rows) {
    CAPTURE(row.line);
    CHECK(s.one(row.line) == row.reply);
    // Still serving after each one.
    CHECK(s.one(R"({"jsonrpc":"2.0","id":"p","method":"ping"})") ==
          json::parse(R"({"jsonrpc":"2.0","id":"p","result":{}})"));
  }
  CHECK(s.tools.calls.empty());
}

TEST_CASE("initialize needs a protocolVersion, and tools wait for initialize") {
  Session s;
  CHECK(s.one(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})") ==
        error(1, -32600, "Invalid Request: send initialize before tools/list"));
  CHECK(s.one(R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"capabilities":{}}})") ==
        error(2, -32602, "Invalid params: initialize needs params.protocolVersion (a string)"));
  CHECK(s.one(R"({"jsonrpc":"2.0","id":3,"method":"ping"})") == json::parse(R"({"jsonrpc":"2.0","id":3,"result":{}})"));
  s.init();
  CHECK(s.one(R"({"jsonrpc":"2.0","id":4,"method":"tools/list"})")["result"]["tools"].size() == 2);
}

TEST_CASE("notifications get no reply, known or not; replies from the client are ignored") {
  Session s;
  s.init();
  CHECK(s.send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").empty());
  CHECK(s.send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}})").empty());
  CHECK(s.send(R"({"jsonrpc":"2.0","method":"notifications/whatever"})").empty());
  CHECK(s.send(R"({"jsonrpc":"2.0","id":12,"result":{}})").empty());
  CHECK(s.send("").empty());
  CHECK(s.send("\r").empty());
}

TEST_CASE("tools/list carries titles and output schemas from 2025-06-18 on") {
  Session s;
  s.init("2025-06-18");
  auto tools = s.one(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})")["result"]["tools"];
  CHECK(tools[0] == json::parse(R"({"name":"echo","title":"Echo","description":"Returns its text",
      "inputSchema":{"type":"object","properties":{"text":{"type":"string"}},"required":["text"],"additionalProperties":false},
      "outputSchema":{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}})"));
  CHECK_FALSE(tools[1].contains("outputSchema"));

  Session old;
  old.init("2025-03-26");
  auto t = old.one(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})")["result"]["tools"][0];
  CHECK(t == json::parse(R"({"name":"echo","description":"Returns its text",
      "inputSchema":{"type":"object","properties":{"text":{"type":"string"}},"required":["text"],"additionalProperties":false}})"));
}

TEST_CASE("tools/call returns text and structured content, with numbered progress when asked") {
  Session s;
  s.init();
  auto msgs = s.send(
      R"({"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"progressToken":"tok"}}})");
  REQUIRE(msgs.size() == 3);
  CHECK(msgs[0] == json::parse(R"({"jsonrpc":"2.0","method":"notifications/progress",
                                  "params":{"progressToken":"tok","progress":1,"message":"one"}})"));
  CHECK(msgs[1]["params"]["progress"] == 2);
  CHECK(msgs[2] == json::parse(R"({"jsonrpc":"2.0","id":"c1","result":{"content":[{"type":"text","text":"hi"}],
                                  "isError":false,"structuredContent":{"text":"hi"}}})"));

  // No progressToken: no notifications.
  msgs = s.send(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}})");
  CHECK(msgs.size() == 1);
  // An integer token is echoed as an integer.
  msgs = s.send(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"},"_meta":{"progressToken":7}}})");
  CHECK(msgs[0]["params"]["progressToken"] == 7);
}

TEST_CASE("a tool's failure and bad arguments are tool errors, not protocol errors") {
  Session s;
  s.init();
  CHECK(s.one(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fail"}})") ==
        json::parse(R"({"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text",
            "text":"sandbox s1 not found: call sandbox_create"}],"isError":true}})"));
  CHECK(s.one(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"txt":1}}})") ==
        json::parse(R"({"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text",
            "text":"echo: bad arguments: text: required (a string); txt: unknown argument (known: text). Fix them as the tool's inputSchema says and call again."}],
            "isError":true}})"));
  CHECK(s.tools.calls == std::vector<std::string>{"fail"});
}

TEST_CASE("a cancelled call tells the tool and gets no reply") {
  Session s;
  s.init();
  std::stop_source cancelled;
  cancelled.request_stop();
  CHECK(s.send(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"cancel-me"}}})",
               cancelled.get_token())
            .empty());
  CHECK(s.tools.stopped);
  CHECK(s.one(R"({"jsonrpc":"2.0","id":6,"method":"ping"})")["id"] == 6);
}

TEST_CASE("the reader matches cancellations to requests by id") {
  CHECK(request_id(R"({"jsonrpc":"2.0","id":"a","method":"tools/call"})") == json("a"));
  CHECK(request_id(R"({"jsonrpc":"2.0","id":7,"method":"ping"})") == json(7));
  CHECK_FALSE(request_id(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  CHECK_FALSE(request_id("garbage"));
  CHECK(cancelled_request(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}})") ==
        json(7));
  CHECK_FALSE(cancelled_request(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{}})"));
  CHECK_FALSE(cancelled_request(R"({"jsonrpc":"2.0","id":1,"method":"notifications/cancelled","params":{"requestId":7}})"));
  CHECK_FALSE(cancelled_request(R"({"jsonrpc":"2.0","method":"ping","params":{"requestId":7}})"));
}

TEST_CASE("2025-03-26 sessions get text results without structured content") {
  Session s;
  s.init("2025-03-26");
  CHECK(s.one(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}})") ==
        json::parse(R"({"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}],"isError":false}})"));
}

TEST_CASE("serialize keeps one message on one line and survives invalid UTF-8") {
  CHECK(serialize(json{{"t", "a\nb"}}) == R"({"t":"a\nb"})");
  CHECK(serialize(json{{"t", std::string("ok\xff")}}) == "{\"t\":\"ok\xEF\xBF\xBD\"}");
}
