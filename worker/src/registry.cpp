// The job type registry.
#include "wharf/worker/registry.hpp"

#include "wharf/queue/keys.hpp"

#include <stdexcept>

namespace wharf::worker {

void job_registry::add(job_type type) {
    if (!queue::valid_queue_name(type.name))
        throw std::invalid_argument("job type '" + type.name + "' is not a valid queue name");
    if (!type.handler) throw std::invalid_argument("job type '" + type.name + "' has no handler");
    const auto name = type.name;
    if (!types_.emplace(name, std::move(type)).second)
        throw std::invalid_argument("job type '" + name + "' is registered twice");
}

const job_type* job_registry::find(std::string_view name) const noexcept {
    const auto it = types_.find(name);
    return it == types_.end() ? nullptr : &it->second;
}

std::vector<std::string> job_registry::names() const {
    std::vector<std::string> out;
    for (const auto& [name, type] : types_) out.push_back(name);
    return out;
}

}  // namespace wharf::worker
