#pragma once
// What a task must do next, decided from what the cache shows and `now`
// alone; task_controller.cpp applies it, task_execution.cpp runs the steps.
#include <chrono>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"
#include "operator/cache.h"
#include "operator/events.h"

namespace arl::op {

/// How often a task waiting for its sandbox looks again without being woken.
inline constexpr std::chrono::milliseconds kWaitingTaskRecheck{5000};

/// What the cache (and this process) shows about one task.
struct TaskView {
  nlohmann::json object;                  // the Task
  bool sandbox_busy = false;              // a task of its sandbox is executing in this process
  std::optional<nlohmann::json> sandbox;  // spec.sandboxRef's Sandbox, if cached
  bool self_running = false;              // the task executing on its sandbox is this one
};

struct TaskPlan {
  std::optional<core::TaskStatus> status;  // unset: no write
  std::optional<EventSpec> event;          // failures only
  bool delete_task = false;                // its TTL after finishing passed
  bool run = false;                        // execute now, if first in line on its sandbox
  std::chrono::milliseconds requeue_after{0};
};

TaskPlan plan_task(const TaskView& view, std::chrono::seconds missing_sandbox_grace, core::TimePoint now);

/// A task that has to wait says why in reason/message, state Pending; the
/// write happens only when the reason changes, never on the path of a task
/// whose sandbox is Ready and free. nullopt: already says so.
std::optional<core::TaskStatus> waiting_status(const core::Task& t, const std::string& reason, const std::string& message);

/// The status of `t` failed now with `reason` (the Complete condition's too).
core::TaskStatus failed_status(const core::Task& t, const std::string& reason, const std::string& message, core::TimePoint now);

/// Tasks of one sandbox run one at a time in creation order: is `t` first
/// among the unfinished tasks of its sandbox?
bool first_in_line(const core::Task& t, const std::vector<Cache::Obj>& tasks);

}  // namespace arl::op
