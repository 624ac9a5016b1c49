#pragma once
// Runs a program for a test and collects its stdout and stderr together.

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace faregate::update::testing {

struct ProcessResult {
  int status = -1;  // exit code, or 128 + signal
  std::string output;
};

// Runs `argv` to completion. `on_line` (optional) sees each output line as it arrives, with the
// child's pid, so that a test can react to an event (e.g. signal the process once it says
// something) instead of sleeping.
ProcessResult run_process(
    const std::vector<std::string>& argv,
    const std::function<void(const std::string& line, pid_t pid)>& on_line = {});

}  // namespace faregate::update::testing
