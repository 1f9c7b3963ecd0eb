#include "wharf/core/scratch.hpp"

#include <cctype>

namespace wharf {

std::string scratch_owner(std::string_view queue, std::string_view id) {
    std::string name;
    name.reserve(queue.size() + id.size() + 1);
    for (const auto part : {queue, std::string_view{"-"}, id})
        for (const char c : part) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
    return name;
}

std::string scratch_name(std::string_view kind, std::string_view queue, std::string_view id) {
    return std::string{kind} + '-' + scratch_owner(queue, id);
}

}  // namespace wharf
