// One Redis byte stream: TCP, TLS over TCP, or a unix socket, behind one Asio stream interface.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <optional>

namespace wharf::redis::detail {

// A runtime choice of transport that still models AsyncReadStream/AsyncWriteStream, so the
// connection's read and write loops (and asio::async_write) are written once. Each connection
// attempt gets a fresh stream; the old one lives until the operations still holding it finish.
class stream {
public:
    using executor_type = boost::asio::any_io_executor;
    enum class kind { tcp, tls, unix_socket };

    // tls_context must outlive the stream (the connection owns both).
    stream(executor_type ex, kind k, boost::asio::ssl::context* tls_context);

    executor_type get_executor() { return ex_; }
    kind which() const noexcept { return kind_; }

    // The TCP socket under tcp and tls (to connect and set options on).
    boost::asio::ip::tcp::socket& tcp_socket();
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& tls_stream() { return *tls_; }
    boost::asio::local::stream_protocol::socket& unix_socket() { return *unix_; }

    // Closes the socket; every pending operation completes with operation_aborted.
    void close() noexcept;

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                switch (kind_) {
                case kind::tcp: tcp_->async_read_some(b, std::move(handler)); break;
                case kind::tls: tls_->async_read_some(b, std::move(handler)); break;
                case kind::unix_socket: unix_->async_read_some(b, std::move(handler)); break;
                }
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                switch (kind_) {
                case kind::tcp: tcp_->async_write_some(b, std::move(handler)); break;
                case kind::tls: tls_->async_write_some(b, std::move(handler)); break;
                case kind::unix_socket: unix_->async_write_some(b, std::move(handler)); break;
                }
            },
            token, buffers);
    }

private:
    executor_type ex_;
    kind kind_;
    std::optional<boost::asio::ip::tcp::socket> tcp_;
    std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
    std::optional<boost::asio::local::stream_protocol::socket> unix_;
};

}  // namespace wharf::redis::detail
