// The multipart planner: part size and count from the object size (pure).
#include "wharf/storage/multipart.hpp"

#include <algorithm>

namespace wharf::storage {

part_plan plan_parts(std::uint64_t object_size, std::uint64_t preferred, std::uint64_t minimum) {
    if (object_size > max_object_size)
        throw error(errc::permanent, "object of " + std::to_string(object_size) + " bytes exceeds the " +
                                         std::to_string(max_object_size) + "-byte limit of multipart uploads");
    std::uint64_t size = preferred == 0 ? default_part_size : preferred;
    size = std::clamp(size, std::clamp<std::uint64_t>(minimum, 1, max_part_size), max_part_size);
    // Grow (in whole MiB, so part boundaries stay aligned) until the object fits in max_parts.
    const std::uint64_t needed = (object_size + max_parts - 1) / max_parts;
    if (size < needed) size = (needed + (1u << 20) - 1) / (1u << 20) * (1u << 20);
    if (object_size <= size) return part_plan{object_size, 1};  // one part holding the whole object
    return part_plan{size, static_cast<std::uint32_t>((object_size + size - 1) / size)};
}

}  // namespace wharf::storage
