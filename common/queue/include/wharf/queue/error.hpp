// The queue's error domain: infrastructure-level surprises from Redis that are not the client's
// own io/timeout errors (those stay redis::error, so callers can retry them).
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <type_traits>

namespace wharf::queue {

enum class errc {
    error_reply = 1,   // Redis answered "-ERR ..." to a queue command or script
    unexpected_reply,  // a reply of a shape the queue code does not know (version mismatch?)
    invalid_queue_name,
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

// Thrown by queue::operations; what() names the operation and carries Redis's text.
class error : public boost::system::system_error {
public:
    error(errc e, const std::string& what) : boost::system::system_error(make_error_code(e), what) {}
};

}  // namespace wharf::queue

template <>
struct boost::system::is_error_code_enum<wharf::queue::errc> : std::true_type {};
