#include "sidecar/http_json.h"

#include <string>
#include <vector>

#include "core/error.h"

namespace arl::sidecar {
namespace {

using nlohmann::json;

// nlohmann's own DOM builder, counted and bounded on the way in.
class LimitedSax {
 public:
  explicit LimitedSax(json& out) : dom_(out, true) {}

  bool null() { return value() && dom_.null(); }
  bool boolean(bool v) { return value() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return value() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return value() && dom_.number_float(v, s); }
  bool string(json::string_t& v) {
    argument_bytes(v.size());
    return value() && dom_.string(v);
  }
  bool binary(json::binary_t& v) { return value() && dom_.binary(v); }
  bool start_object(std::size_t n) { return open(false) && dom_.start_object(n); }
  bool key(json::string_t& k) {
    Frame& f = frames_.back();
    f.key = k;
    count(f);
    argument_bytes(k.size());
    return dom_.key(k);
  }
  bool end_object() {
    frames_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return open(true) && dom_.start_array(n); }
  bool end_array() {
    frames_.pop_back();
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t byte, const std::string& token, const Exception& ex) {
    if (ex.id == 406)  // out_of_range: "number overflow" (1e999)
      throw Error(ErrorCode::invalid, where() + ": number " + token + " is out of range");
    throw Error(ErrorCode::invalid, "body: invalid JSON at byte " + std::to_string(byte) + ": send a JSON object");
  }

 private:
  struct Frame {
    bool array;
    std::string name;  // the field this container is
    std::string key;   // objects: the member being read
    size_t count = 0;
  };

  // The field the next value is: "timeout_seconds", "env.A", "command[3]".
  std::string where() const {
    if (frames_.empty()) return "body";
    const Frame& f = frames_.back();
    if (f.array) return f.name + "[" + std::to_string(f.count) + "]";
    return f.name.empty() ? f.key : f.name + "." + f.key;
  }

  void count(Frame& f) {
    if (++f.count > kMaxJsonElements)
      throw Error(ErrorCode::invalid, f.name + ": more than " + std::to_string(kMaxJsonElements) +
                                          (f.name == "command" ? " arguments" : " elements"));
  }

  bool value() {
    if (!frames_.empty() && frames_.back().array) count(frames_.back());
    return true;
  }

  bool open(bool array) {
    std::string name = where();
    value();
    if (frames_.size() >= kMaxJsonDepth)
      throw Error(ErrorCode::invalid, "body: JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    frames_.push_back({array, frames_.empty() ? std::string() : name, {}, 0});
    return true;
  }

  // What execve copies: the command's words and the environment.
  void argument_bytes(size_t n) {
    if (frames_.size() < 2) return;
    const std::string& top = frames_[1].name;
    if (top != "command" && top != "env") return;
    arg_bytes_ += n;
    if (arg_bytes_ > kMaxArgumentBytes)
      throw Error(ErrorCode::invalid, top + ": command and env strings larger than " +
                                          std::to_string(kMaxArgumentBytes >> 20) + " MiB in total");
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<Frame> frames_;
  size_t arg_bytes_ = 0;
};

}  // namespace

json parse_request_json(std::string_view body) {
  size_t i = body.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos) return json::object();  // empty body = all defaults
  json j;
  LimitedSax sax(j);
  json::sax_parse(body.begin(), body.end(), &sax);
  if (!j.is_object()) throw Error(ErrorCode::invalid, std::string("body: must be a JSON object, got ") + j.type_name());
  return j;
}

}  // namespace arl::sidecar
