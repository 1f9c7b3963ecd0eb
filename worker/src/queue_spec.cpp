// Parsing of --queues.
#include "wharf/worker/queue_spec.hpp"

#include "wharf/core/config.hpp"
#include "wharf/queue/keys.hpp"

#include <algorithm>
#include <charconv>

namespace wharf::worker {

std::vector<queue_spec> parse_queue_specs(std::string_view text) {
    std::vector<queue_spec> out;
    const auto fail = [&](const std::string& why) {
        return config_error("--queues '" + std::string{text} + "': " + why +
                            " (expected name=concurrency[,name=concurrency...], e.g. download=8,transcode=2)");
    };
    if (text.empty()) throw fail("no queue given");
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto comma = std::min(text.find(',', pos), text.size());
        const auto item = text.substr(pos, comma - pos);
        if (item.empty()) throw fail("empty entry (a stray comma?)");
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) throw fail("'" + std::string{item} + "' has no '=concurrency'");
        const auto name = item.substr(0, eq);
        const auto count = item.substr(eq + 1);
        if (!queue::valid_queue_name(name))
            throw fail("'" + std::string{name} + "' is not a queue name (1-64 chars of a-z 0-9 _ -)");
        std::size_t n = 0;
        const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
        if (ec != std::errc{} || end != count.data() + count.size() || n < 1 || n > max_concurrency)
            throw fail("concurrency of '" + std::string{name} + "' must be a whole number from 1 to " +
                       std::to_string(max_concurrency) + " (got '" + std::string{count} + "')");
        if (std::any_of(out.begin(), out.end(), [&](const queue_spec& q) { return q.name == name; }))
            throw fail("queue '" + std::string{name} + "' is named twice");
        out.push_back({std::string{name}, n});
        pos = comma + 1;
    }
    return out;
}

}  // namespace wharf::worker
