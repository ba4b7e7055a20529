#pragma once
// Turns an API server answer that is not 2xx into arl::Error, with a message
// that names the object the way kubectl does.
#include <string>

#include "core/error.h"
#include "k8s/kube_api.h"

namespace arl::k8s {

/// `body` is usually a metav1.Status; when it is not (a proxy error, plain
/// text), the message is built from `r`/`name`. `r` may be null.
Error status_error(int http_status, const std::string& body, const Resource* r = nullptr,
                   const std::string& name = "");

/// The code for an HTTP status plus Status.reason (409 splits into
/// conflict and already_exists by reason).
ErrorCode code_for_status(int http_status, const std::string& reason);

/// `warmpools.arl.infra.io` / `pods`, as kubectl prints a resource.
std::string qualified_plural(const Resource& r);

}  // namespace arl::k8s
