// The Azurite fixture (see azurite_server.hpp).
#include "wharf/test/azurite_server.hpp"

#include "wharf/http/client.hpp"
#include "wharf/storage/azure_auth.hpp"
#include "wharf/storage/sha256.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <stdexcept>

namespace wharf::test {

azurite_server::azurite_server() {
    const auto main_js = source_dir() / "tests/servers/node_modules/azurite/dist/src/blob/main.js";
    if (!std::filesystem::exists(main_js))
        throw std::runtime_error("Azurite is not installed (" + main_js.string() + "): run deploy/install-deps.sh");
    port_ = free_port();
    dir_ = std::make_unique<temp_dir>("wharf-azurite");
    process_options o;
    o.cwd = dir_->path();  // Azurite writes its debug/extent files into the working folder
    o.output = dir_->path() / "azurite.log";
    // --skipApiVersionCheck: Azurite 3.35 rejects versions newer than it knows; we send 2021-12-02
    // anyway, this only keeps the fixture usable with newer clients (curl with a SAS, SDKs).
    process_ = std::make_unique<process>(
        std::vector<std::string>{"node", main_js.string(), "--blobHost", "127.0.0.1", "--blobPort", std::to_string(port_),
                                 "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--silent"},
        o);
    wait_for_port(port_, std::chrono::seconds(60));
}

azurite_server::~azurite_server() = default;  // process kills its group; temp_dir removes the folder

std::string azurite_server::endpoint() const { return endpoint(port_); }
std::string azurite_server::endpoint(std::uint16_t via_port) const {
    return "http://127.0.0.1:" + std::to_string(via_port) + "/" + account;
}

http::response azurite_server::signed_request(http::verb method, const std::string& path,
                                              std::vector<std::pair<std::string, std::string>> query,
                                              http::header_list headers) const {
    namespace az = wharf::storage::azure;
    boost::asio::io_context io;
    http::client client(io.get_executor());
    http::request req;
    req.method = method;
    req.to = http::parse_endpoint("http://127.0.0.1:" + std::to_string(port_));
    req.target = path;
    for (std::size_t i = 0; i < query.size(); ++i) req.target += (i ? "&" : "?") + query[i].first + "=" + query[i].second;
    req.headers = std::move(headers);
    req.headers.emplace_back("x-ms-date", az::http_date(std::chrono::system_clock::now()));
    req.headers.emplace_back("x-ms-version", std::string(az::api_version));
    az::shared_key_request sk{std::string(http::to_string(method)), path, std::move(query), req.headers};
    req.headers.emplace_back("Authorization", az::shared_key_authorization(account, *storage::base64_decode(key), sk));
    http::request_options options;
    options.expect_no_body = method == http::verb::head;  // a HEAD's Content-Length has no body behind it
    auto fut = boost::asio::co_spawn(io, client.send(std::move(req), std::move(options)), boost::asio::use_future);
    // Not io.run(): the client's pool may keep an idle connection (and its timer) alive.
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
    return fut.get();
}

void azurite_server::acquire_lease(const std::string& container, const std::string& blob) const {
    namespace az = wharf::storage::azure;
    http::header_list headers{{"x-ms-lease-action", "acquire"}, {"x-ms-lease-duration", "-1"}};
    const auto r = signed_request(http::verb::put, std::string("/") + account + "/" + container + "/" + az::uri_encode(blob, true),
                                  {{"comp", "lease"}}, std::move(headers));
    if (!r.ok()) throw std::runtime_error("Lease Blob: HTTP " + std::to_string(r.status) + " " + r.body);
}

std::optional<std::string> azurite_server::access_tier(const std::string& container, const std::string& blob) const {
    namespace az = wharf::storage::azure;
    const auto r = signed_request(http::verb::head, std::string("/") + account + "/" + container + "/" + az::uri_encode(blob, true),
                                  {}, {});
    if (r.status == 404) return std::nullopt;
    if (!r.ok()) throw std::runtime_error("Get Blob Properties: HTTP " + std::to_string(r.status));
    return std::string(r.header("x-ms-access-tier").value_or(""));
}

azurite_server::block_list azurite_server::blocks(const std::string& container, const std::string& blob) const {
    namespace az = wharf::storage::azure;
    const auto r = signed_request(http::verb::get, std::string("/") + account + "/" + container + "/" + az::uri_encode(blob, true),
                                  {{"comp", "blocklist"}, {"blocklisttype", "all"}}, {});
    block_list out;
    if (r.status == 404) return out;
    if (!r.ok()) throw std::runtime_error("Get Block List: HTTP " + std::to_string(r.status) + " " + r.body);
    out.found = true;
    const auto count = [&](std::string_view section) {
        const auto open = r.body.find("<" + std::string(section) + ">");
        const auto close = r.body.find("</" + std::string(section) + ">");
        std::size_t n = 0;
        if (open == std::string::npos || close == std::string::npos) return n;
        for (auto pos = r.body.find("<Block>", open); pos != std::string::npos && pos < close; pos = r.body.find("<Block>", pos + 1)) ++n;
        return n;
    };
    out.committed = count("CommittedBlocks");
    out.uncommitted = count("UncommittedBlocks");
    return out;
}

}  // namespace wharf::test
