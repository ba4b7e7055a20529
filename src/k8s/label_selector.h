#pragma once
// Kubernetes label selectors (`a=b,c,!d,e in (x,y),f notin (z),g!=h`) and
// field selectors on dotted paths (`spec.nodeName=n1,status.phase!=Failed`).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::k8s {

struct LabelRequirement {
  enum class Op { eq, neq, in, notin, exists, not_exists };
  std::string key;
  Op op;
  std::vector<std::string> values;
};

class LabelSelector {
 public:
  LabelSelector() = default;
  /// Throws arl::Error{invalid} naming the selector on a syntax error.
  static LabelSelector parse(const std::string& text);
  bool matches(const nlohmann::json& labels) const;  // labels: object or null
  bool empty() const { return reqs_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return reqs_; }

 private:
  std::vector<LabelRequirement> reqs_;
};

/// Field selector over an object: equality/inequality on dotted paths;
/// a missing field compares as "".
class FieldSelector {
 public:
  static FieldSelector parse(const std::string& text);
  bool matches(const nlohmann::json& obj) const;

 private:
  struct Req {
    std::string path;
    bool eq;
    std::string value;
  };
  std::vector<Req> reqs_;
};

}  // namespace arl::k8s
