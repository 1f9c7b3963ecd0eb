// The process's own figures under Prometheus's standard names: process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds and process_start_time_seconds, read from /proc at every render.
#pragma once

#include "wharf/metrics/registry.hpp"

namespace wharf::metrics {

// Registers the collector once per registry (later calls do nothing).
void register_process_metrics(registry& r = default_registry());

}  // namespace wharf::metrics
