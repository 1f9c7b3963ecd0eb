// The Redis key names of a queue.
#include "wharf/queue/keys.hpp"

namespace wharf::queue {

keys::keys(std::string_view q) : queue(q) {
    const std::string prefix = "wharf:{" + queue + "}:";
    stream = prefix + "stream";
    delayed = prefix + "delayed";
    dead = prefix + "dead";
    stats = prefix + "stats";
    cancel = prefix + "cancel";
}

std::string keys::id_key(std::string_view job_id) const {
    std::string k = "wharf:{" + queue + "}:id:";
    k.append(job_id);
    return k;
}

bool valid_queue_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace wharf::queue
