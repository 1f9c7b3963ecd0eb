// stream: construction and closing of the three transports.
#include "stream.hpp"

namespace wharf::redis::detail {

stream::stream(executor_type ex, kind k, boost::asio::ssl::context* tls_context) : ex_(ex), kind_(k) {
    switch (kind_) {
    case kind::tcp: tcp_.emplace(ex_); break;
    case kind::tls: tls_.emplace(ex_, *tls_context); break;
    case kind::unix_socket: unix_.emplace(ex_); break;
    }
}

boost::asio::ip::tcp::socket& stream::tcp_socket() { return kind_ == kind::tls ? tls_->next_layer() : *tcp_; }

void stream::close() noexcept {
    boost::system::error_code ignored;  // closing an already closed socket is not an error here
    if (kind_ == kind::unix_socket) {
        unix_->close(ignored);
    } else {
        tcp_socket().close(ignored);
    }
}

}  // namespace wharf::redis::detail
