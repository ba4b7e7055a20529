#pragma once
// A watch response is a stream of JSON objects, one per line, arriving in
// chunks that split lines anywhere. This turns chunks into whole lines.
#include <string>
#include <string_view>

namespace arl::k8s {

class LineSplitter {
 public:
  /// Calls on_line(line) for every complete line in buf+chunk (without the
  /// newline, empty lines skipped); stops early and returns false when
  /// on_line returns false.
  template <class F>
  bool feed(std::string_view chunk, F&& on_line) {
    size_t start = 0;
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (chunk[i] != '\n') continue;
      std::string_view piece = chunk.substr(start, i - start);
      start = i + 1;
      bool ok = true;
      if (buf_.empty()) {
        if (!piece.empty()) ok = on_line(piece);
      } else {
        buf_.append(piece);
        std::string line;
        line.swap(buf_);
        ok = on_line(std::string_view(line));
      }
      if (!ok) return false;
    }
    buf_.append(chunk.substr(start));
    return true;
  }
  /// Bytes of an unfinished line kept for the next chunk.
  const std::string& pending() const { return buf_; }

 private:
  std::string buf_;
};

}  // namespace arl::k8s
