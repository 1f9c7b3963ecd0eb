// upload_bench: uploads one file with wharf's S3 provider (the production code path: multipart
// engine, x-amz-checksum-crc32 per part -- the generic profile's default, as the AWS SDKs send --
// and the SHA-256 of the whole object while streaming) and prints one JSON line with the wall
// time and throughput. bench/storage/run.sh runs it under /usr/bin/time -v beside `aws s3 cp` and
// `rclone copyto` against the same S3-shaped sink.
//
//   upload_bench --endpoint http://127.0.0.1:PORT --file PATH [--bucket bench] [--key KEY]
//                [--part-size-mib 16] [--in-flight 8] [--threads 1] [--access-key x --secret-key x]
//                [--part-checksum crc32|crc32c|md5|none]
#include "wharf/core/log.hpp"
#include "wharf/storage/s3/provider.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;

namespace {

struct options {
    std::string endpoint;
    std::string file;
    std::string bucket = "bench";
    std::string key = "wharf-upload-bench";
    std::uint64_t part_size_mib = 16;
    std::size_t in_flight = 8;
    unsigned threads = 1;
    std::string access_key = "x";
    std::string secret_key = "x";
    std::string region = "us-east-1";
    std::string part_checksum = "crc32";
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "upload_bench: " << why << "\n"
              << "usage: upload_bench --endpoint URL --file PATH [--bucket B] [--key K] [--part-size-mib 16]\n"
                 "                    [--in-flight 8] [--threads 1] [--access-key A] [--secret-key S] [--region R]\n"
                 "                    [--part-checksum crc32|crc32c|md5|none]\n";
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    std::map<std::string, std::string> kv;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0 || i + 1 >= argc) usage("bad argument " + a);
        kv[a.substr(2)] = argv[++i];
    }
    auto take = [&](const char* name, auto& into) {
        auto it = kv.find(name);
        if (it == kv.end()) return;
        if constexpr (std::is_same_v<std::decay_t<decltype(into)>, std::string>) {
            into = it->second;
        } else {
            into = static_cast<std::decay_t<decltype(into)>>(std::stoull(it->second));
        }
        kv.erase(it);
    };
    take("endpoint", o.endpoint);
    take("file", o.file);
    take("bucket", o.bucket);
    take("key", o.key);
    take("part-size-mib", o.part_size_mib);
    take("in-flight", o.in_flight);
    take("threads", o.threads);
    take("access-key", o.access_key);
    take("secret-key", o.secret_key);
    take("region", o.region);
    take("part-checksum", o.part_checksum);
    if (!kv.empty()) usage("unknown option --" + kv.begin()->first);
    if (o.endpoint.empty() || o.file.empty()) usage("--endpoint and --file are required");
    if (o.threads == 0 || o.in_flight == 0 || o.part_size_mib < 5) usage("bad --threads, --in-flight or --part-size-mib");
    if (!wharf::storage::parse_checksum_kind(o.part_checksum)) usage("bad --part-checksum " + o.part_checksum);
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    wharf::init_logging("warn");

    asio::io_context io;
    wharf::storage::s3::config cfg;
    cfg.name = "bench";
    cfg.profile = wharf::storage::s3::profile::generic;
    cfg.endpoint = o.endpoint;
    cfg.region = o.region;
    cfg.bucket = o.bucket;
    cfg.path_style = true;
    cfg.credentials = {o.access_key, o.secret_key, {}};
    // Every file of the benchmark goes multipart, as with the peers (threshold = part size).
    cfg.multipart_threshold = o.part_size_mib << 20;
    cfg.part_checksum = wharf::storage::parse_checksum_kind(o.part_checksum);
    auto provider = wharf::storage::s3::make_provider(io.get_executor(), cfg);

    wharf::storage::put_options put;
    put.part_size = o.part_size_mib << 20;
    put.parts_in_flight = o.in_flight;
    // put.sha256 stays empty: the SHA-256 is computed while streaming (integrity checks on).

    const auto t0 = std::chrono::steady_clock::now();
    auto fut = asio::co_spawn(io, provider->put_file(o.key, o.file, std::move(put)), asio::use_future);
    std::vector<std::thread> extra;
    for (unsigned i = 1; i < o.threads; ++i) extra.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : extra) t.join();
    wharf::storage::put_result r;
    try {
        r = fut.get();
    } catch (const std::exception& e) {
        std::cerr << "upload_bench: upload failed: " << e.what() << "\n";
        return 1;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const nlohmann::json line{{"client", "wharf"},
                              {"bytes", r.size},
                              {"seconds", secs},
                              {"MBps", static_cast<double>(r.size) / 1e6 / secs},
                              {"parts", r.parts},
                              {"part_checksum", o.part_checksum},
                              {"sha256", r.sha256},
                              {"etag", r.etag}};
    std::cout << line.dump() << std::endl;
    return 0;
}
