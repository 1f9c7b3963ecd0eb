#include "wharf/test/http_call.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace wharf::test {

http_reply http_call(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::map<std::string, std::string>& headers, const std::string& body) {
    namespace beast = boost::beast;
    namespace bhttp = boost::beast::http;
    http_reply out;
    try {
        boost::asio::io_context io;
        beast::tcp_stream stream{io};
        stream.expires_after(std::chrono::seconds(30));
        stream.connect(boost::asio::ip::tcp::endpoint{boost::asio::ip::make_address("127.0.0.1"), port});
        bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
        req.set(bhttp::field::host, "127.0.0.1");
        for (const auto& [name, value] : headers) req.set(name, value);
        req.body() = body;
        req.prepare_payload();
        bhttp::write(stream, req);
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(64 << 20);
        bhttp::read(stream, buffer, parser);
        out.status = static_cast<int>(parser.get().result_int());
        out.body = parser.get().body();
        for (const auto& f : parser.get()) out.headers[std::string(f.name_string())] = std::string(f.value());
    } catch (const std::exception&) {
        out.status = 0;
    }
    return out;
}

}  // namespace wharf::test
