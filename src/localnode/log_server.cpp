#include "localnode/log_server.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "core/error.h"
#include "core/log.h"

namespace arl::localnode {

namespace {

using namespace std::chrono_literals;

std::string read_from(const std::string& path, std::streamoff offset) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  f.seekg(offset);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::optional<long> long_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  try {
    return std::stol(req.get_param_value(name));
  } catch (...) {
    throw Error(ErrorCode::invalid, std::string(name) + ": must be an integer");
  }
}

struct KeyAndCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~KeyAndCert() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

// A fresh P-256 key and a self-signed certificate for `ip`, valid a year.
void make_self_signed(const std::string& ip, KeyAndCert& kc) {
  kc.key = EVP_EC_gen("P-256");
  kc.cert = X509_new();
  if (!kc.key || !kc.cert) throw Error(ErrorCode::internal, "localnode log server: cannot create a key");
  unsigned char serial[8];
  RAND_bytes(serial, sizeof serial);
  uint64_t s = 0;
  for (auto b : serial) s = (s << 8) | b;
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(kc.cert), s >> 1);
  X509_set_version(kc.cert, 2);
  X509_gmtime_adj(X509_getm_notBefore(kc.cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(kc.cert), 365L * 24 * 3600);
  X509_set_pubkey(kc.cert, kc.key);
  X509_NAME* name = X509_get_subject_name(kc.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("arl-localnode"), -1,
                             -1, 0);
  X509_set_issuer_name(kc.cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, kc.cert, kc.cert, nullptr, nullptr, 0);
  const std::string san = "IP:" + ip;
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(kc.cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(kc.cert, kc.key, EVP_sha256()) == 0) {
    throw Error(ErrorCode::internal, "localnode log server: cannot sign its certificate");
  }
}

}  // namespace

std::string select_log(const std::string& content, std::optional<long> tail_lines, std::optional<long> limit_bytes) {
  size_t start = 0;
  if (tail_lines && *tail_lines >= 0) {
    // Walk back over `tail_lines` line ends; the last line may lack its newline.
    size_t end = content.size();
    if (end > 0 && content[end - 1] == '\n') --end;
    long lines = *tail_lines;
    start = end;
    if (lines == 0) {
      start = content.size();
    } else {
      while (start > 0) {
        if (content[start - 1] == '\n' && --lines == 0) break;
        --start;
      }
    }
  }
  std::string out = content.substr(start);
  if (limit_bytes && *limit_bytes >= 0 && out.size() > static_cast<size_t>(*limit_bytes)) {
    out.resize(static_cast<size_t>(*limit_bytes));
  }
  return out;
}

struct LogServer::Impl {
  std::string address;
  FindLog find;
  KeyAndCert kc;
  std::unique_ptr<httplib::SSLServer> server;
  std::thread thread;

  void serve(const httplib::Request& req, httplib::Response& res) {
    const std::string ns = req.matches[1], pod = req.matches[2], container = req.matches[3];
    auto log = find(ns + "/" + pod);
    if (!log) {
      res.status = 404;
      res.set_content("pod " + ns + "/" + pod + " has no process on this local node", "text/plain");
      return;
    }
    if (container != log->container) {
      res.status = 404;
      res.set_content("pod " + ns + "/" + pod + ": only container " + log->container +
                          " runs on the local node, which keeps no log for " + container,
                      "text/plain");
      return;
    }
    if (req.get_param_value("previous") == "true") {
      res.status = 400;
      res.set_content("previous terminated container " + container + " in pod " + ns + "/" + pod +
                          " not found: the local node never restarts containers",
                      "text/plain");
      return;
    }
    std::optional<long> tail, limit;
    try {
      tail = long_param(req, "tailLines");
      limit = long_param(req, "limitBytes");
    } catch (const Error& e) {
      res.status = 400;
      res.set_content(e.what(), "text/plain");
      return;
    }
    const std::string whole = read_from(log->path, 0);
    std::string first = select_log(whole, tail, limit);
    if (req.get_param_value("follow") != "true") {
      res.set_content(first, "text/plain");
      return;
    }
    // follow: what is there, then what the process appends, until it exits.
    auto offset = std::make_shared<std::streamoff>(static_cast<std::streamoff>(whole.size()));
    auto pending = std::make_shared<std::string>(std::move(first));
    auto running = log->running;
    auto path = log->path;
    res.set_chunked_content_provider("text/plain", [=](size_t, httplib::DataSink& sink) {
      if (!pending->empty()) {
        std::string out;
        out.swap(*pending);
        return sink.write(out.data(), out.size());
      }
      const bool alive = running();
      auto more = read_from(path, *offset);
      if (!more.empty()) {
        *offset += static_cast<std::streamoff>(more.size());
        return sink.write(more.data(), more.size());
      }
      if (!alive) {
        sink.done();
        return true;
      }
      std::this_thread::sleep_for(100ms);
      return sink.is_writable();
    });
  }
};

LogServer::LogServer(std::string address, FindLog find) : impl_(std::make_unique<Impl>()) {
  impl_->address = std::move(address);
  impl_->find = std::move(find);
}

LogServer::~LogServer() { stop(); }

int LogServer::start() {
  auto& im = *impl_;
  make_self_signed(im.address, im.kc);
  im.server = std::make_unique<httplib::SSLServer>(im.kc.cert, im.kc.key);
  if (!im.server->is_valid()) throw Error(ErrorCode::internal, "localnode log server: TLS setup failed");
  im.server->Get(R"(/containerLogs/([^/]+)/([^/]+)/([^/]+))",
                 [&im](const httplib::Request& req, httplib::Response& res) { im.serve(req, res); });
  const int port = im.server->bind_to_any_port(im.address);
  if (port <= 0) {
    throw Error(ErrorCode::internal, "localnode log server: cannot listen on " + im.address +
                                         " (is the node network up?)");
  }
  im.thread = std::thread([&im] { im.server->listen_after_bind(); });
  log::info("Serving pod logs", {{"address", im.address}, {"port", std::to_string(port)}});
  return port;
}

void LogServer::stop() {
  auto& im = *impl_;
  if (im.server) im.server->stop();
  if (im.thread.joinable()) im.thread.join();
}

}  // namespace arl::localnode
