#include "k8s/label_selector.h"

#include <algorithm>

#include "core/error.h"

namespace arl::k8s {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Commas inside parentheses belong to a value set, not to the selector.
std::vector<std::string> split_top(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

Error bad(const std::string& sel, const std::string& why) {
  return Error(ErrorCode::invalid, "label selector \"" + sel + "\": " + why);
}

bool valid_key(const std::string& k) {
  if (k.empty()) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

}  // namespace

LabelSelector LabelSelector::parse(const std::string& text) {
  LabelSelector sel;
  if (trim(text).empty()) return sel;
  for (const std::string& part : split_top(text)) {
    if (part.empty()) throw bad(text, "empty requirement");
    LabelRequirement req;
    size_t sp = part.find(' ');
    size_t paren = part.find('(');
    if (paren != std::string::npos) {
      // key in (a,b) / key notin (a,b)
      if (part.back() != ')') throw bad(text, "missing ')' in \"" + part + "\"");
      std::string head = trim(part.substr(0, paren));
      size_t ws = head.find_last_of(" \t");
      if (ws == std::string::npos) throw bad(text, "expected 'in' or 'notin' in \"" + part + "\"");
      std::string op = trim(head.substr(ws + 1));
      req.key = trim(head.substr(0, ws));
      if (op == "in") req.op = LabelRequirement::Op::in;
      else if (op == "notin") req.op = LabelRequirement::Op::notin;
      else throw bad(text, "unknown operator \"" + op + "\"");
      std::string inner = part.substr(paren + 1, part.size() - paren - 2);
      for (const auto& v : split_top(inner))
        if (!v.empty()) req.values.push_back(v);
      if (req.values.empty()) throw bad(text, "empty value set in \"" + part + "\"");
    } else if (auto ne = part.find("!="); ne != std::string::npos) {
      req.key = trim(part.substr(0, ne));
      req.op = LabelRequirement::Op::neq;
      req.values.push_back(trim(part.substr(ne + 2)));
    } else if (auto eq = part.find('='); eq != std::string::npos) {
      req.key = trim(part.substr(0, eq));
      size_t vstart = (eq + 1 < part.size() && part[eq + 1] == '=') ? eq + 2 : eq + 1;
      req.op = LabelRequirement::Op::eq;
      req.values.push_back(trim(part.substr(vstart)));
    } else if (part[0] == '!') {
      req.key = trim(part.substr(1));
      req.op = LabelRequirement::Op::not_exists;
    } else {
      if (sp != std::string::npos) throw bad(text, "unexpected \"" + part + "\"");
      req.key = part;
      req.op = LabelRequirement::Op::exists;
    }
    if (!valid_key(req.key)) throw bad(text, "invalid label key \"" + req.key + "\"");
    sel.reqs_.push_back(std::move(req));
  }
  return sel;
}

bool LabelSelector::matches(const nlohmann::json& labels) const {
  for (const auto& r : reqs_) {
    bool has = labels.is_object() && labels.contains(r.key) && labels[r.key].is_string();
    std::string v = has ? labels[r.key].get<std::string>() : "";
    bool in_set = has && std::find(r.values.begin(), r.values.end(), v) != r.values.end();
    switch (r.op) {
      case LabelRequirement::Op::eq: case LabelRequirement::Op::in: if (!in_set) return false; break;
      case LabelRequirement::Op::neq: case LabelRequirement::Op::notin: if (in_set) return false; break;
      case LabelRequirement::Op::exists: if (!has) return false; break;
      case LabelRequirement::Op::not_exists: if (has) return false; break;
    }
  }
  return true;
}

FieldSelector FieldSelector::parse(const std::string& text) {
  FieldSelector fs;
  if (trim(text).empty()) return fs;
  for (const auto& part : split_top(text)) {
    Req r;
    if (auto ne = part.find("!="); ne != std::string::npos) {
      r = {trim(part.substr(0, ne)), false, trim(part.substr(ne + 2))};
    } else if (auto eq = part.find('='); eq != std::string::npos) {
      size_t vs = (eq + 1 < part.size() && part[eq + 1] == '=') ? eq + 2 : eq + 1;
      r = {trim(part.substr(0, eq)), true, trim(part.substr(vs))};
    } else {
      throw Error(ErrorCode::invalid, "field selector \"" + text + "\": expected field=value in \"" + part + "\"");
    }
    fs.reqs_.push_back(std::move(r));
  }
  return fs;
}

bool FieldSelector::matches(const nlohmann::json& obj) const {
  for (const auto& r : reqs_) {
    const nlohmann::json* cur = &obj;
    size_t start = 0;
    while (cur && start <= r.path.size()) {
      size_t dot = r.path.find('.', start);
      std::string seg = r.path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      cur = (cur->is_object() && cur->contains(seg)) ? &(*cur)[seg] : nullptr;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    std::string v;
    if (cur && cur->is_string()) v = cur->get<std::string>();
    else if (cur && !cur->is_null()) v = cur->dump();
    if ((v == r.value) != r.eq) return false;
  }
  return true;
}

}  // namespace arl::k8s
