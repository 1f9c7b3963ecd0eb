// Awaitable operators (a && b, a || b) end with boost::asio::multiple_exceptions when more than
// one side failed (as every side does when the caller is cancelled): first_failure_of gives the
// caller the first one instead, unwrapped however deeply the operators nested.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/multiple_exceptions.hpp>

#include <exception>

namespace wharf {

template <class T>
boost::asio::awaitable<T> first_failure_of(boost::asio::awaitable<T> race) {
    std::exception_ptr first;
    try {
        co_return co_await std::move(race);
    } catch (const boost::asio::multiple_exceptions& e) {
        first = e.first_exception();
    }
    for (;;) {
        try {
            std::rethrow_exception(first);
        } catch (const boost::asio::multiple_exceptions& e) {
            first = e.first_exception();
        }
    }
}

}  // namespace wharf
