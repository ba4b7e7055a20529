#include "k8s/rest_client.h"
#include "k8s/server_url.h"

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <csignal>
#include <fstream>
#include <cstdlib>
#include <unistd.h>
#include <cstring>
#include <cerrno>
#include <mutex>
#include <random>
#include <thread>

#include "k8s/status_error.h"
#include "k8s/watch_decoder.h"

namespace arl::k8s {
namespace {

using Clock = std::chrono::steady_clock;

std::string query_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct Query {
  std::string s;
  void add(const std::string& k, const std::string& v) {
    if (v.empty()) return;
    s += (s.empty() ? "?" : "&") + k + "=" + query_escape(v);
  }
};

std::string meta(const json& obj, const char* field) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const auto& m = obj["metadata"];
  return m.contains(field) && m[field].is_string() ? m[field].get<std::string>() : "";
}

std::string ns_for(const Resource& r, const std::string& ns, const json& obj) {
  if (!r.namespaced) return "";
  return ns.empty() ? meta(obj, "namespace") : ns;
}

bool is_2xx(int s) { return s >= 200 && s < 300; }

json parse_body(const std::string& body, const std::string& what) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) throw Error(ErrorCode::internal, what + ": API server sent a body that is not JSON");
  return j;
}

struct X509Deleter { void operator()(X509* x) const { X509_free(x); } };
struct PKeyDeleter { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };

}  // namespace

// Free list of keep-alive clients plus the TLS material they share.
struct RestClient::Pool {
  std::mutex mu;
  std::vector<std::unique_ptr<httplib::ClientImpl>> idle;
  std::unique_ptr<X509, X509Deleter> cert;
  std::unique_ptr<EVP_PKEY, PKeyDeleter> key;
  // The CA bundle as a file, so each connection's SSL_CTX loads just these
  // certificates (see make_client): the kubeconfig's own file when it has
  // one, else a private copy of the inline data that the pool removes.
  std::string ca_file;
  bool ca_file_owned = false;
  ~Pool() {
    if (ca_file_owned) ::unlink(ca_file.c_str());
  }
};

RestClient::RestClient(ClusterConfig cfg, RestOptions opts)
    : cfg_(std::move(cfg)), opts_(std::move(opts)), pool_(std::make_unique<Pool>()) {
  // TLS writes go through write(2): a peer that closed a kept-alive
  // connection would otherwise kill the process with SIGPIPE instead of
  // failing the request (which is then retried on a new connection).
  static std::once_flag sigpipe_once;
  std::call_once(sigpipe_once, [] { std::signal(SIGPIPE, SIG_IGN); });
  ServerUrl url = parse_server_url(cfg_.server, cfg_.source);
  tls_ = url.tls;
  host_ = std::move(url.host);
  port_ = url.port;
  base_path_ = std::move(url.base_path);

  if (!cfg_.client_cert_pem.empty()) {
    std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new_mem_buf(cfg_.client_cert_pem.data(), static_cast<int>(cfg_.client_cert_pem.size())), BIO_free);
    pool_->cert.reset(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
    if (!pool_->cert) throw Error(ErrorCode::invalid, cfg_.source + ": client-certificate is not a PEM certificate");
    std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new_mem_buf(cfg_.client_key_pem.data(), static_cast<int>(cfg_.client_key_pem.size())), BIO_free);
    pool_->key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    if (!pool_->key) throw Error(ErrorCode::invalid, cfg_.source + ": client-key is not a PEM private key");
  }
  if (!cfg_.ca_pem.empty()) {
    std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new_mem_buf(cfg_.ca_pem.data(), static_cast<int>(cfg_.ca_pem.size())), BIO_free);
    int n = 0;
    while (X509* x = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)) {
      X509_free(x);
      ++n;
    }
    if (n == 0) throw Error(ErrorCode::invalid, cfg_.source + ": certificate-authority holds no PEM certificate");
    if (!cfg_.ca_file.empty()) {
      pool_->ca_file = cfg_.ca_file;
    } else {
      const char* tmp = std::getenv("TMPDIR");
      std::string dir = tmp && *tmp ? tmp : "/tmp";
      std::string tmpl = dir + "/arl-ca-XXXXXX";
      int fd = ::mkstemp(tmpl.data());
      if (fd < 0)
        throw Error(ErrorCode::internal, fmt::format("cannot write the CA bundle to {}: {} (set TMPDIR to a writable directory)",
                                                     dir, std::strerror(errno)));
      bool written = ::write(fd, cfg_.ca_pem.data(), cfg_.ca_pem.size()) == static_cast<ssize_t>(cfg_.ca_pem.size());
      ::close(fd);
      pool_->ca_file = tmpl;
      pool_->ca_file_owned = true;
      if (!written) throw Error(ErrorCode::internal, "cannot write the CA bundle to " + pool_->ca_file);
    }
  }
  token_ = cfg_.token;
  token_read_ = Clock::now();
}

RestClient::~RestClient() = default;

std::unique_ptr<httplib::ClientImpl> RestClient::make_client(std::chrono::milliseconds read_timeout) const {
  std::unique_ptr<httplib::ClientImpl> cli;
  if (tls_) {
    auto ssl = std::make_unique<httplib::SSLClient>(host_, port_, pool_->cert.get(), pool_->key.get());
    // A CA path, never a shared X509_STORE: with no path, httplib's first
    // connect calls SSL_CTX_set_default_verify_paths, which loads the whole
    // system bundle into the store and adds lookups to it without a lock
    // (a shared store is corrupted by concurrent connects). With the path,
    // each connection trusts exactly the kubeconfig's CA, as kubectl does.
    if (!pool_->ca_file.empty()) ssl->set_ca_cert_path(pool_->ca_file.c_str());
    ssl->enable_server_certificate_verification(!cfg_.insecure_skip_tls_verify);
    cli = std::move(ssl);
  } else {
    cli = std::make_unique<httplib::ClientImpl>(host_, port_);
  }
  cli->set_keep_alive(true);
  cli->set_tcp_nodelay(true);
  cli->set_url_encode(false);  // we escape query values ourselves
  cli->set_connection_timeout(opts_.connect_timeout);
  cli->set_read_timeout(read_timeout);
  cli->set_write_timeout(opts_.request_timeout);
  return cli;
}

std::string RestClient::bearer_token() {
  if (cfg_.token_file.empty()) return cfg_.token;
  std::lock_guard lk(token_mu_);
  // Service-account tokens are rotated on disk; re-read once a minute.
  if (Clock::now() - token_read_ > std::chrono::minutes(1)) {
    std::ifstream f(cfg_.token_file);
    std::string t((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (!t.empty()) token_ = t;
    token_read_ = Clock::now();
  }
  return token_;
}

RawResponse RestClient::execute(const Call& c, const Resource* r, const std::string& name) {
  httplib::Request req;
  req.method = c.method;
  req.path = base_path_ + c.path;
  req.headers.emplace("Accept", "application/json");
  req.headers.emplace("User-Agent", opts_.user_agent);
  if (auto t = bearer_token(); !t.empty()) req.headers.emplace("Authorization", "Bearer " + t);
  for (const auto& [k, v] : c.headers) req.headers.emplace(k, v);
  if (!c.body.empty() || c.method == "POST" || c.method == "PUT" || c.method == "PATCH") {
    req.body = c.body;
    req.headers.emplace("Content-Type", c.content_type.empty() ? "application/json" : c.content_type);
  }
  const bool is_post = c.method == "POST";
  static thread_local std::mt19937 rng(std::random_device{}());

  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<httplib::ClientImpl> cli;
    {
      std::lock_guard lk(pool_->mu);
      if (!pool_->idle.empty()) {
        cli = std::move(pool_->idle.back());
        pool_->idle.pop_back();
      }
    }
    if (!cli) cli = make_client(opts_.request_timeout);

    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    auto started = Clock::now();
    httplib::Request attempt_req = req;
    bool ok = cli->send(attempt_req, res, err);
    ++requests_;
    bool last = attempt >= opts_.max_retries;
    std::chrono::milliseconds wait = std::min(opts_.backoff_max, opts_.backoff_base * (1 << std::min(attempt, 16)));
    wait = std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(wait.count() / 2, wait.count())(rng));

    if (!ok) {
      // A failed connection is not reused.
      std::string what = c.method + " " + cfg_.server + c.path.substr(0, c.path.find('?')) + ": " + httplib::to_string(err);
      if (err == httplib::Error::SSLServerVerification)
        throw Error(ErrorCode::unavailable, what + " (the server certificate is not trusted: check certificate-authority in " + cfg_.source + ")");
      if (err == httplib::Error::SSLLoadingCerts)
        throw Error(ErrorCode::invalid, what + " (check the certificates in " + cfg_.source + ")");
      bool never_sent = err == httplib::Error::Connection || err == httplib::Error::ConnectionTimeout ||
                        err == httplib::Error::SSLConnection;
      bool timed_out = (err == httplib::Error::Read || err == httplib::Error::ConnectionTimeout) &&
                       Clock::now() - started >= std::min(opts_.request_timeout, opts_.connect_timeout) - std::chrono::milliseconds(50);
      if (!last && (never_sent || !is_post)) {
        std::this_thread::sleep_for(wait);
        continue;
      }
      throw Error(timed_out ? ErrorCode::timeout : ErrorCode::unavailable,
                  what + (timed_out ? " (timed out)" : "") + "; is the API server at " + cfg_.server + " reachable?");
    }
    {
      std::lock_guard lk(pool_->mu);
      if (pool_->idle.size() < opts_.max_idle_connections) pool_->idle.push_back(std::move(cli));
    }
    bool retryable = res.status == 429 || (res.status >= 500 && res.status != 501 && !is_post);
    if (retryable && !last) {
      if (res.has_header("Retry-After")) {
        try {
          auto secs = std::stoi(res.get_header_value("Retry-After"));
          wait = std::max(wait, std::min(std::chrono::milliseconds(secs * 1000), std::chrono::milliseconds(10000)));
        } catch (const std::exception&) {
        }
      }
      std::this_thread::sleep_for(wait);
      continue;
    }
    (void)r;
    (void)name;
    return RawResponse{res.status, std::move(res.body), res.get_header_value("Content-Type")};
  }
}

json RestClient::json_call(const Call& c, const Resource* r, const std::string& name) {
  RawResponse res = execute(c, r, name);
  if (!is_2xx(res.status)) throw status_error(res.status, res.body, r, name);
  return parse_body(res.body, c.method + " " + c.path);
}

std::optional<json> RestClient::get(const Resource& r, const std::string& ns, const std::string& name) {
  RawResponse res = execute({"GET", r.object_path(ns, name), "", "", {}}, &r, name);
  if (res.status == 404) {
    auto e = status_error(res.status, res.body, &r, name);
    if (e.code() == ErrorCode::not_found) return std::nullopt;
    throw e;
  }
  if (!is_2xx(res.status)) throw status_error(res.status, res.body, &r, name);
  return parse_body(res.body, "GET " + r.object_path(ns, name));
}

ListResult RestClient::list(const Resource& r, const std::string& ns, const ListOptions& opts) {
  Query q;
  q.add("labelSelector", opts.label_selector);
  q.add("fieldSelector", opts.field_selector);
  if (opts.limit > 0) q.add("limit", std::to_string(opts.limit));
  q.add("continue", opts.continue_token);
  q.add("resourceVersion", opts.resource_version);
  json body = json_call({"GET", r.collection_path(ns) + q.s, "", "", {}}, &r, "");
  ListResult out;
  if (body.contains("metadata") && body["metadata"].is_object()) {
    out.resource_version = body["metadata"].value("resourceVersion", "");
    out.continue_token = body["metadata"].value("continue", "");
  }
  if (body.contains("items") && body["items"].is_array()) {
    out.items.reserve(body["items"].size());
    for (auto& item : body["items"]) {
      // List items come without apiVersion/kind; fill them so every object a
      // caller holds looks the same wherever it came from.
      item["apiVersion"] = r.api_version();
      item["kind"] = r.kind;
      out.items.push_back(std::move(item));
    }
  }
  return out;
}

json RestClient::create(const Resource& r, const std::string& ns, const json& obj) {
  std::string n = ns_for(r, ns, obj);
  std::string name = meta(obj, "name");
  return json_call({"POST", r.collection_path(n), obj.dump(), "application/json", {}}, &r,
                   name.empty() ? meta(obj, "generateName") : name);
}

json RestClient::update(const Resource& r, const std::string& ns, const json& obj) {
  std::string name = meta(obj, "name");
  if (name.empty()) throw Error(ErrorCode::invalid, "update " + qualified_plural(r) + ": metadata.name is required");
  return json_call({"PUT", r.object_path(ns_for(r, ns, obj), name), obj.dump(), "application/json", {}}, &r, name);
}

json RestClient::update_status(const Resource& r, const std::string& ns, const json& obj) {
  std::string name = meta(obj, "name");
  if (name.empty()) throw Error(ErrorCode::invalid, "update status of " + qualified_plural(r) + ": metadata.name is required");
  return json_call({"PUT", r.object_path(ns_for(r, ns, obj), name) + "/status", obj.dump(), "application/json", {}},
                   &r, name);
}

json RestClient::patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                       const json& patch, bool status_subresource) {
  const char* ct = type == PatchType::merge        ? "application/merge-patch+json"
                   : type == PatchType::json_patch ? "application/json-patch+json"
                                                   : "application/strategic-merge-patch+json";
  std::string path = r.object_path(r.namespaced ? ns : "", name) + (status_subresource ? "/status" : "");
  return json_call({"PATCH", path, patch.dump(), ct, {}}, &r, name);
}

bool RestClient::remove(const Resource& r, const std::string& ns, const std::string& name, const DeleteOptions& opts) {
  json body = json::object();
  if (opts.grace_period_seconds) body["gracePeriodSeconds"] = *opts.grace_period_seconds;
  if (opts.precondition_uid) body["preconditions"]["uid"] = *opts.precondition_uid;
  if (opts.precondition_resource_version) body["preconditions"]["resourceVersion"] = *opts.precondition_resource_version;
  if (!opts.propagation_policy.empty()) body["propagationPolicy"] = opts.propagation_policy;
  std::string payload;
  if (!body.empty()) {
    body["apiVersion"] = "v1";
    body["kind"] = "DeleteOptions";
    payload = body.dump();
  }
  RawResponse res = execute({"DELETE", r.object_path(r.namespaced ? ns : "", name), payload, "application/json", {}}, &r, name);
  if (res.status == 404) {
    auto e = status_error(res.status, res.body, &r, name);
    if (e.code() == ErrorCode::not_found) return false;
    throw e;
  }
  if (!is_2xx(res.status)) throw status_error(res.status, res.body, &r, name);
  return true;
}

void RestClient::bind_pod(const std::string& ns, const std::string& pod, const std::string& node) {
  json b = {{"apiVersion", "v1"},
            {"kind", "Binding"},
            {"metadata", {{"name", pod}, {"namespace", ns}}},
            {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  json_call({"POST", resources::pods.object_path(ns, pod) + "/binding", b.dump(), "application/json", {}},
            &resources::pods, pod);
}

RawResponse RestClient::raw(const std::string& method, const std::string& path, const std::string& body,
                            const std::string& content_type,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
  return execute({method, path, body, content_type, headers}, nullptr, "");
}

std::string RestClient::raw_request(const std::string& method, const std::string& path, const std::string& body,
                                    const std::string& content_type,
                                    const std::vector<std::pair<std::string, std::string>>& headers) {
  RawResponse res = raw(method, path, body, content_type, headers);
  if (!is_2xx(res.status)) {
    Error e = status_error(res.status, res.body);
    throw Error(e.code(), method + " " + path + ": " + e.what());
  }
  return std::move(res.body);
}

int RestClient::stream_request(const std::string& method, const std::string& path, const std::string& body,
                               const std::string& content_type,
                               const std::function<bool(std::string_view)>& on_chunk, std::stop_token stop,
                               std::chrono::milliseconds timeout,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
  return stream_impl(method, path, body, content_type, on_chunk, stop, timeout, headers, nullptr);
}

int RestClient::stream_impl(const std::string& method, const std::string& path, const std::string& body,
                            const std::string& content_type, const std::function<bool(std::string_view)>& on_chunk,
                            std::stop_token stop, std::chrono::milliseconds timeout,
                            const std::vector<std::pair<std::string, std::string>>& headers, int* status_out) {
  if (stop.stop_requested()) return 0;
  // A connection of its own: stopping it from another thread shuts its
  // socket down, which must not hit a pooled connection.
  auto cli = make_client(timeout.count() > 0 ? timeout : opts_.request_timeout);
  cli->set_keep_alive(false);
  httplib::Request req;
  req.method = method;
  req.path = base_path_ + path;
  req.headers.emplace("Accept", "application/json");
  req.headers.emplace("User-Agent", opts_.user_agent);
  if (auto t = bearer_token(); !t.empty()) req.headers.emplace("Authorization", "Bearer " + t);
  for (const auto& [k, v] : headers) req.headers.emplace(k, v);
  if (method != "GET") {
    // Chunked, never with a Content-Length: through the API server's pod proxy, a streamed
    // reply whose first bytes come back before the proxy's final read of our body (its check
    // for bytes past the length) finds that body closed by Go's HTTP server, and the proxy
    // drops the stream. A chunked body is read to its end before the pod can answer. httplib
    // has no public call that takes both a body provider and a response receiver, so the
    // provider goes into the request's own (public, "private by convention") fields.
    req.headers.emplace("Content-Type", content_type.empty() ? "application/json" : content_type);
    req.headers.emplace("Transfer-Encoding", "chunked");
    req.is_chunked_content_provider_ = true;
    req.content_provider_ = [body](size_t, size_t, httplib::DataSink& sink) {
      if (!body.empty() && !sink.write(body.data(), body.size())) return false;
      sink.done();
      return true;
    };
  }
  int status = 0;
  bool consumer_stopped = false;
  // If stop comes before the socket exists, response_handler sees it when
  // the headers arrive; after that, shutting the socket down wakes the read.
  std::stop_callback on_stop(stop, [&] { cli->stop(); });
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    if (status_out) *status_out = r.status;
    return !stop.stop_requested();
  };
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    if (stop.stop_requested()) return false;
    if (!on_chunk(std::string_view(d, n))) {
      consumer_stopped = true;
      return false;
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool ok = cli->send(req, res, err);
  ++requests_;
  if (ok) return res.status;
  if (stop.stop_requested() || consumer_stopped) return status;
  // The body had started: a cut stream ends like a closed one.
  if (status != 0) return status;
  throw Error(err == httplib::Error::ConnectionTimeout ? ErrorCode::timeout : ErrorCode::unavailable,
              method + " " + cfg_.server + path.substr(0, path.find('?')) + ": " + httplib::to_string(err) +
                  "; is the API server at " + cfg_.server + " reachable?");
}

void RestClient::watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
                       const std::function<bool(const WatchEvent&)>& on_event, std::stop_token stop) {
  Query q;
  q.add("watch", "1");
  q.add("labelSelector", opts.label_selector);
  q.add("fieldSelector", opts.field_selector);
  q.add("resourceVersion", opts.resource_version);
  if (opts.allow_bookmarks) q.add("allowWatchBookmarks", "true");
  if (opts.timeout.count() > 0) q.add("timeoutSeconds", std::to_string(opts.timeout.count()));
  std::string path = r.collection_path(ns) + q.s;

  LineSplitter lines;
  std::string error_body;
  std::optional<Error> failure;
  int http_status = 0;
  auto on_line = [&](std::string_view line) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      failure = Error(ErrorCode::internal, "watch " + qualified_plural(r) + ": undecodable event: " + std::string(line.substr(0, 200)));
      return false;
    }
    std::string type = j.value("type", "");
    WatchEvent ev{WatchEvent::Type::error, std::move(j["object"])};
    if (type == "ADDED") ev.type = WatchEvent::Type::added;
    else if (type == "MODIFIED") ev.type = WatchEvent::Type::modified;
    else if (type == "DELETED") ev.type = WatchEvent::Type::deleted;
    else if (type == "BOOKMARK") ev.type = WatchEvent::Type::bookmark;
    else {
      Error e = status_error(ev.object.is_object() ? ev.object.value("code", 500) : 500, ev.object.dump(), &r);
      if (e.code() == ErrorCode::gone) {
        failure = e;
        return false;
      }
      on_event(ev);
      return false;
    }
    if (ev.type != WatchEvent::Type::bookmark && ev.object.is_object()) {
      if (!ev.object.contains("apiVersion")) ev.object["apiVersion"] = r.api_version();
      if (!ev.object.contains("kind")) ev.object["kind"] = r.kind;
    }
    return on_event(ev);
  };
  // The server closes the stream after timeoutSeconds; allow it some slack.
  auto read_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(opts.timeout) + std::chrono::seconds(30);
  int status = stream_impl(
      "GET", path, "", "",
      [&](std::string_view chunk) {
        // Non-2xx answers are collected whole to be parsed as a Status.
        if (!is_2xx(http_status)) {
          error_body.append(chunk);
          return true;
        }
        return lines.feed(chunk, on_line);
      },
      stop, read_timeout, {}, &http_status);
  if (status != 0 && !is_2xx(status)) throw status_error(status, error_body, &r);
  if (failure) throw *failure;
}

}  // namespace arl::k8s
