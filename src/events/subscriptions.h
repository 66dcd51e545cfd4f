// Subscriptions: the deployed functions' parsed triggers and async settings, as Events'
// configure() and remove() leave them. The intake reads them to match incoming events; the
// dispatcher copies them once per step.
//
// Threading: thread-safe (one mutex); readers get copies, so none holds the lock for long.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "events/sink.h"
#include "events/triggers.h"
#include "registry/spec.h"

namespace kumo::events {

// What the events part keeps of a deployed function.
struct FunctionInfo {
  FunctionTriggers triggers;
  std::chrono::milliseconds timeout{30'000};
  int capacity = 1;  // invocations handed to the scheduler at once

  int max_attempts() const { return triggers.async.retries + 1; }
};

// Its info from a spec whose triggers parsed as `triggers`. The capacity keeps every instance
// busy plus one sent ahead each; the rest waits durably.
FunctionInfo function_info(const registry::FunctionSpec& spec, FunctionTriggers triggers);

// A function an event matched, and how many attempts its invocation gets.
struct Match {
  std::string function;
  int max_attempts = 3;
};

class Subscriptions {
 public:
  void put(const std::string& function, FunctionInfo info);
  void erase(const std::string& function);
  bool contains(const std::string& function) const;
  std::map<std::string, FunctionInfo> snapshot() const;

  // Functions with a queue trigger on `topic`.
  std::vector<std::string> subscribers(const std::string& topic) const;
  // retries + 1 of a deployed function; 3 (the default policy's) for one that is not.
  int max_attempts(const std::string& function) const;
  // Functions whose storage (table) trigger matches the event, each at most once.
  std::vector<Match> storage_matches(const ObjectEvent& event) const;
  std::vector<Match> table_matches(const TableChange& change) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, FunctionInfo> functions_;  // Guarded by mu_.
};

}  // namespace kumo::events
