// Which queues a worker process consumes and how many jobs of each it runs at once
// (`--queues download=8,transcode=2`).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::worker {

struct queue_spec {
    std::string name;         // the queue, which is also the job type
    std::size_t concurrency;  // jobs of this queue running at once in this process
};

inline constexpr std::size_t max_concurrency = 10'000;

// Parses "name=N[,name=N...]". Throws wharf::config_error with one readable line on bad syntax,
// an invalid queue name, a concurrency outside 1..max_concurrency, or a queue named twice.
std::vector<queue_spec> parse_queue_specs(std::string_view text);

}  // namespace wharf::worker
