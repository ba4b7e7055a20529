#pragma once
// How a task's steps reach an executor: the sidecar over HTTP (the operator),
// the executor in-process (`arl sidecar exec-local`), or a scripted runner in
// tests. TaskRun only sees this interface.
#include "core/sidecar_protocol.h"

namespace arl::sidecar {

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  virtual core::ExecuteResponse execute(const core::ExecuteRequest& req) = 0;
  virtual void write_file(const core::FileWriteRequest& req) = 0;
};

}  // namespace arl::sidecar
