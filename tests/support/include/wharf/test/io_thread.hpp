// An io_context running on its own thread for the length of a test, and a blocking helper to
// run one coroutine on it: for clients (like http::client) that live on one executor.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <thread>

namespace wharf::test {

class io_thread {
public:
    io_thread() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
    ~io_thread() {
        guard_.reset();
        io_.stop();
        thread_.join();
    }
    boost::asio::any_io_executor executor() { return io_.get_executor(); }

    // Runs `op` on the thread and waits for its result (or rethrows its exception).
    template <typename T>
    T run(boost::asio::awaitable<T> op) {
        return boost::asio::co_spawn(io_, std::move(op), boost::asio::use_future).get();
    }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
};

}  // namespace wharf::test
