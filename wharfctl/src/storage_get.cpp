// storage get: one object's content into a file, as a reader gets it -- decoded when it is stored
// encoded (storage::get_content), its SHA-256 checked against the catalog's.
#include "commands.hpp"

#include "wharf/core/json.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/content.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace wharfctl {
namespace {

namespace s = wharf::storage;

constexpr std::string_view get_usage = "wharfctl storage get <key> --out FILE [--provider P] [--json]";

const wharf::option_spec get_specs[] = {database_url_option,
                                        s::storage_providers_option(),
                                        {"out", "the file to write (replaced when the object is complete)"},
                                        {"provider", "the object's provider, when the key is on more than one", false, ""},
                                        json_option,
                                        help_option};

}  // namespace

boost::asio::awaitable<int> run_storage_get(invocation inv) {
    const auto cfg = load_storage_config(inv.args, get_specs);
    if (cfg.enabled("help")) {
        print_help(get_usage,
                   "Writes a cataloged object's content to --out: the stored bytes, decoded when the object is\n"
                   "stored encoded (the compress job's gzip), written beside the file and renamed over it once\n"
                   "complete. The content's SHA-256 and size must be the catalog's (exit 1 otherwise, and the file\n"
                   "is removed). --json prints {provider, key, size, sha256, stored_size, content_encoding}.",
                   get_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 1, get_usage);
    const std::string key = cfg.positional().front();
    const std::string out = cfg.get_or("out", "");
    if (out.empty()) throw usage_error("--out is required; usage: " + std::string(get_usage));
    const std::string only = cfg.get_or("provider", "");
    const s::registry providers(s::provider_configs_from(cfg), inv.executor);
    auto db = open_database(inv.executor, cfg);
    std::exception_ptr failure;
    std::vector<s::stored_object> rows;
    try {
        auto fn = [key](pqxx::connection& c) { return s::find_objects_by_key(c, key); };
        rows = co_await db->run(std::move(fn));
    } catch (...) {
        failure = std::current_exception();
    }
    db->shutdown();
    if (failure) std::rethrow_exception(failure);
    std::erase_if(rows, [&](const s::stored_object& o) { return !only.empty() && o.record.provider != only; });
    if (rows.empty()) {
        std::cerr << fmt::format("wharfctl: no live object '{}'{} in the catalog\n", key,
                                 only.empty() ? "" : " on " + only);
        co_return exit_failed;
    }
    if (rows.size() > 1) throw usage_error(fmt::format("'{}' is on {} providers: name one with --provider", key, rows.size()));
    const auto& r = rows.front().record;
    auto* p = providers.find(r.provider);
    if (!p || p->bucket() != r.bucket)
        throw usage_error(fmt::format("provider '{}' (bucket '{}') is not configured here", r.provider, r.bucket));
    auto getting = s::get_content(*p, key, out);
    const s::object_info got = co_await std::move(getting);
    const std::uint64_t expected_size = r.content_size.value_or(r.size);
    if (!got.sha256 || *got.sha256 != r.sha256 || got.size != expected_size) {
        std::error_code ignored;
        std::filesystem::remove(out, ignored);
        std::cerr << fmt::format("wharfctl: '{}' read {} bytes with SHA-256 {}; the catalog has {} bytes, {}\n", key,
                                 got.size, got.sha256.value_or("?"), expected_size, r.sha256);
        co_return exit_failed;
    }
    if (cfg.enabled("json")) {
        nlohmann::json doc{{"provider", r.provider},
                           {"key", key},
                           {"size", got.size},
                           {"sha256", r.sha256},
                           {"stored_size", r.size},
                           {"content_encoding", r.content_encoding ? nlohmann::json(*r.content_encoding) : nlohmann::json(nullptr)}};
        std::cout << wharf::dump_json(doc, 2) << "\n";
    } else {
        std::cout << fmt::format("{} bytes, SHA-256 {}{}\n", got.size, r.sha256,
                                 r.content_encoding ? fmt::format(" (stored {} as {} bytes)", *r.content_encoding, r.size) : "");
    }
    co_return exit_ok;
}

}  // namespace wharfctl
