// The runtimes' source files, embedded into the binary at build time (see CMakeLists.txt).
// The executor writes them to disk before launching instances. Pure, thread-safe.
#pragma once

#include <string_view>

namespace kumo::runtimes {

// src/runtimes/python/kumo_runtime.py: the shim that serves python3 functions.
std::string_view python_shim();

// The file name the shim is written under.
inline constexpr std::string_view kPythonShimFile = "kumo_runtime.py";

// src/runtimes/python/kumo_aws.py: what the shim installs in an instance with an identity,
// so that an unchanged AWS SDK handler reaches Kumo with it. Written beside the shim.
std::string_view python_aws_hook();
inline constexpr std::string_view kPythonAwsHookFile = "kumo_aws.py";

}  // namespace kumo::runtimes
