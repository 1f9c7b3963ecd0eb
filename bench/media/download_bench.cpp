// download_bench: one download through the `download` job's own transfer path -- the fetch client
// (libcurl on its transfer thread, egress policy, limits) into the job's partial file
// (worker/jobs/partial_download: 1 MiB blocks written with pwrite, SHA-256 on a second thread) --
// and one JSON line with the wall time, the throughput and the SHA-256. Storing the file
// (store_file: catalog, provider) is not part of it: bench/media/download.sh compares it with
// `curl -o`, `curl -o && sha256sum` and aria2c, which write the file too and store nothing.
//
//   download_bench --url http://127.0.0.1:PORT/f1g.bin --out PATH [--allow 127.0.0.1/32:PORT]
#include "jobs/partial_download.hpp"
#include "wharf/fetch/client.hpp"
#include "wharf/storage/sha256.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

namespace asio = boost::asio;
namespace fetch = wharf::fetch;

namespace {

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "download_bench: " << why << "\n"
              << "usage: download_bench --url URL --out PATH [--allow CIDR:PORT,...]\n";
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> kv;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (!a.starts_with("--") || i + 1 >= argc) usage("bad argument " + a);
        kv[a.substr(2)] = argv[++i];
    }
    if (!kv.contains("url") || !kv.contains("out")) usage("--url and --out are required");
    auto url = fetch::check_url(kv["url"]);
    if (!url) usage("--url: " + url.error().message);
    auto rules = fetch::parse_allow_list(kv.contains("allow") ? kv["allow"] : "");
    if (!rules) usage("--allow: " + rules.error().message);

    const std::filesystem::path out = kv["out"];
    std::filesystem::remove(out);
    std::filesystem::remove(std::filesystem::path(out).concat(".json"));
    wharf::worker::partial_download partial(out, std::filesystem::path(out).concat(".json"),
                                            wharf::storage::sha256_hex(url->text));
    const fetch::client client{fetch::egress_policy(std::move(*rules))};
    asio::io_context io;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        fetch::request req{.url = *url, .range = partial.open(), .ca_file = std::nullopt};
        auto done = asio::co_spawn(io, client.fetch(std::move(req), fetch::limits{}, partial), asio::use_future);
        io.run();
        done.get();
    } catch (const std::exception& e) {
        std::cerr << "download_bench: " << e.what() << "\n";
        return 1;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << nlohmann::json{{"bytes", partial.size()},
                                {"seconds", seconds},
                                {"MBps", static_cast<double>(partial.size()) / 1e6 / seconds},
                                {"sha256", partial.sha256()}}
                     .dump()
              << "\n";
    return 0;
}
