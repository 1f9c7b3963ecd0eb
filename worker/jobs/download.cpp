// The `download` job type (contract in download.hpp).
#include "download.hpp"

#include "partial_download.hpp"
#include "wharf/asio/offload.hpp"
#include "wharf/core/log.hpp"
#include "wharf/fetch/content_type.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/storage/sha256.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <system_error>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace wharf::worker {
namespace {

constexpr std::size_t max_video_id = 128;

std::vector<std::string> media_ranges(const std::vector<std::string>& texts, std::string_view origin) {
    if (texts.size() > fetch::max_media_ranges)
        throw std::invalid_argument(fmt::format("{}: at most {} media types", origin, fetch::max_media_ranges));
    std::vector<std::string> out;
    for (const auto& t : texts) {
        auto range = fetch::normalize_media_range(t);
        if (!range) throw std::invalid_argument(fmt::format("{}: \"{}\" is not a media type (type/subtype or type/*)", origin, t.substr(0, 64)));
        out.push_back(std::move(*range));
    }
    return out;
}

bool safe_id(std::string_view id) {
    return !id.empty() && id.size() <= max_video_id && id.front() != '.' &&
           std::all_of(id.begin(), id.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
           });
}

// An optional whole number of bytes, at least `min`.
std::optional<std::uint64_t> payload_byte_count(const nlohmann::json& p, const char* name, std::uint64_t min) {
    if (!p.contains(name) || p[name].is_null()) return std::nullopt;
    const auto& v = p[name];
    if (!v.is_number_integer() || (v.is_number_unsigned() ? v.get<std::uint64_t>() < min : v.get<std::int64_t>() < static_cast<std::int64_t>(min)))
        throw permanent_error(fmt::format("payload.{} must be a whole number of bytes, at least {}", name, min));
    return v.get<std::uint64_t>();
}

// A fetch failure at the job's boundary: retried or permanent as the fetch domain says, the URL
// named only in its redacted form.
[[noreturn]] void rethrow_fetch(const fetch::error& e, const fetch::checked_url& url) {
    const std::string message = fmt::format("downloading {}: {}", url.redacted, e.what());
    if (e.retryable()) throw std::runtime_error(message);
    throw permanent_error(message);
}

fetch::limits limits_for(const download_settings& settings, const download_request& req) {
    fetch::limits lim;
    lim.stall_window = settings.stall_window;
    lim.max_bytes = req.max_bytes;
    lim.content_types = req.content_types;
    return lim;
}

// Known sizes, refused before the body moves: the payload's `size`, the cap, the tenant's quota.
void refuse_size(const download_request& req, const std::optional<quota_headroom>& quota, std::uint64_t size,
                 std::string_view origin) {
    if (req.size && *req.size != size)
        throw permanent_error(fmt::format("{}: {} is {} bytes, payload.size says {}", origin, req.url.redacted, size, *req.size));
    if (size > req.max_bytes)
        throw permanent_error(fmt::format("{}: {} is {} bytes, over the cap of {} bytes", origin, req.url.redacted, size,
                                          req.max_bytes));
    if (quota)
        if (auto refusal = quota->refusal(size)) throw permanent_error(*refusal);
}

// The job's partial file and its sidecar: removed when the job ends, unless a retry on this host
// may continue them (keep()).
struct download_scratch {
    download_scratch(const storage_job_options& options, const job_context& ctx)
        : file(options, "download", ctx, ".part"), sidecar(options, "download", ctx, ".part.json") {}
    void keep() noexcept {
        file.keep();
        sidecar.keep();
    }
    scratch_path file, sidecar;
};

// Fetches the URL into the partial file, continuing what an earlier attempt left; a server answer
// that cannot continue it (restart_download) empties the file and asks once more without Range.
asio::awaitable<fetch::fetch_result> fetch_resuming(download_services& d, const download_request& req,
                                                    partial_download& partial, const job_context& ctx) {
    auto pool = d.storage->blocking_pool().get_executor();
    const fetch::limits lim = limits_for(d.settings, req);
    fetch::request r{.url = req.url, .range = std::nullopt, .ca_file = d.settings.ca_file};
    for (int round = 1; round <= 2; ++round) {
        auto open = offload(pool, [&partial, round]() -> std::optional<fetch::range_request> {
            if (round == 1) return partial.open();
            partial.start_over();
            return std::nullopt;
        });
        r.range = co_await std::move(open);
        if (r.range)
            spdlog::info("job {}: continuing {} from byte {}", ctx.id, req.url.redacted, r.range->from);
        std::string restart;
        try {
            auto get = d.client.fetch(r, lim, partial);
            co_return co_await std::move(get);
        } catch (const restart_download& e) {
            restart = e.what();
        } catch (const fetch::error& e) {
            rethrow_fetch(e, req.url);
        }
        spdlog::info("job {}: {}: starting over: {}", ctx.id, req.url.redacted, restart);
    }
    // Only a ranged request can be answered with a restart, and the second one has no Range.
    throw std::runtime_error("downloading " + req.url.redacted + ": the server's answer could not be continued");
}

// The payload's size and SHA-256, if it gave them, against what arrived.
void verify_download(const download_request& req, const partial_download& partial) {
    if (req.size && partial.size() != *req.size)
        throw permanent_error(fmt::format("{}: received {} bytes, payload.size says {}", req.url.redacted, partial.size(),
                                          *req.size));
    if (req.sha256 && partial.sha256() != *req.sha256)
        throw permanent_error(fmt::format("{}: sha256 is {}, payload.sha256 says {}", req.url.redacted, partial.sha256(),
                                          *req.sha256));
}

nlohmann::json progress_json(const download_progress& p) {
    nlohmann::json j{{"phase", "download"}, {"done", p.done}, {"bytes_per_second", p.bytes_per_second},
                     {"resumed", p.resumed}};
    j["total"] = p.total ? nlohmann::json(*p.total) : nlohmann::json(nullptr);
    return j;
}

// The steps, once the payload is known and the scratch paths are named.
asio::awaitable<nlohmann::json> download_steps(download_services& d, job_context& ctx, const download_request& req,
                                               download_scratch& scratch) {
    storage_services& s = *d.storage;
    progress_reporter progress(ctx.report_progress);

    // 1. Multipart uploads an earlier attempt of this job left open: aborted before anything else.
    auto cleanup = abort_uploads_left_open(s, ctx);
    co_await std::move(cleanup);

    // 2. Quota and cap, before the transfer, when the payload gives the size.
    auto load = load_quota_headroom(s, req.key, req.provider, req.api_key);
    const auto quota = co_await std::move(load);
    if (req.size) refuse_size(req, quota, *req.size, "payload.size");

    // 3. The bytes, into the partial file, hashed as they arrive.
    partial_download partial(scratch.file.path(), scratch.sidecar.path(), storage::sha256_hex(req.url.text));
    partial.check_total = [&req, &quota](std::uint64_t total) { refuse_size(req, quota, total, "the server"); };
    partial.on_progress = [&progress](const download_progress& p) { progress.report(progress_json(p), false); };
    auto transfer = fetch_resuming(d, req, partial, ctx);
    const fetch::fetch_result fetched = co_await std::move(transfer);
    verify_download(req, partial);
    progress.report(progress_json({partial.size(), partial.size(), 0, partial.resumed_bytes()}), true);
    spdlog::info("job {}: downloaded {} ({} bytes, {} kept from an earlier attempt, HTTP/{})", ctx.id,
                 req.url.redacted, partial.size(), partial.resumed_bytes(), fetched.head.http_version);

    // 4. Into storage, with the hash computed on the way in.
    const auto content_type = fetch::normalize_media_range(partial.content_type());
    store_request store{.file = scratch.file.path(),
                        .size = partial.size(),
                        .sha256 = partial.sha256(),
                        .key = req.key,
                        .provider = req.provider,
                        .api_key = req.api_key,
                        .content_type = content_type && !content_type->ends_with("/*") ? *content_type
                                                                                       : "application/octet-stream",
                        .presign_expires = req.presign_expires,
                        .progress = [&progress](std::uint64_t done, std::uint64_t total) {
                            progress("upload", done, total);
                        }};
    auto put = store_file(s, ctx, std::move(store));
    const stored_file stored = co_await std::move(put);

    auto result = to_json(stored);
    result["url"] = req.url.redacted;
    result["final_url"] = fetched.final_url;
    result["content_type"] = partial.content_type();
    result["bytes_resumed"] = partial.resumed_bytes();
    result["http_version"] = fetched.head.http_version;
    co_return result;
}

asio::awaitable<nlohmann::json> run_download(std::shared_ptr<download_services> services, job_context& ctx) {
    const download_request req = parse_download_request(ctx.payload, ctx.api_key, services->settings);
    download_scratch scratch(services->storage->options(), ctx);
    try {
        auto steps = download_steps(*services, ctx, req, scratch);
        co_return co_await std::move(steps);
    } catch (const permanent_error&) {
        throw;  // the scratch files go: nothing will continue them
    } catch (...) {
        if (ctx.attempt < ctx.max_attempts) scratch.keep();  // the next attempt continues the file
        throw;
    }
}

}  // namespace

std::vector<wharf::option_spec> download_option_specs() {
    return {
        {"download_allow",
         "download egress allow-list: CIDR[:port],... (e.g. 127.0.0.1/32:8080,10.1.0.0/16); default: only global "
         "unicast addresses on ports 80 and 443",
         false, ""},
        {"download_max_bytes", "largest file a download may fetch (a payload's max_bytes may lower it)", false, "10GiB"},
        {"download_content_types", "comma-separated media types downloads may fetch (video/*,audio/mp4); default: any",
         false, ""},
        {"download_stall_window", "a download slower than 1 KiB/s for this long is aborted (and retried)", false, "60s"},
        {"download_ca_file", "PEM file of extra CA certificates for https downloads (default: the system's)", false, ""},
    };
}

download_settings download_settings_from(const wharf::config& cfg) {
    download_settings s;
    auto rules = fetch::parse_allow_list(cfg.get_or("download_allow", ""));
    if (!rules) throw wharf::config_error("download_allow: " + rules.error().message);
    s.allow = std::move(*rules);
    const auto max = storage::parse_byte_size(cfg.get_or("download_max_bytes", "10GiB"));
    if (!max || *max == 0) throw wharf::config_error("download_max_bytes: expected a size such as 10GiB");
    s.max_bytes = *max;
    std::vector<std::string> types;
    const std::string list = cfg.get_or("download_content_types", "");
    for (std::size_t at = 0; at < list.size();) {
        const auto comma = std::min(list.find(',', at), list.size());
        if (comma > at) types.push_back(list.substr(at, comma - at));
        at = comma + 1;
    }
    try {
        s.content_types = media_ranges(types, "download_content_types");
    } catch (const std::invalid_argument& e) {
        throw wharf::config_error(e.what());
    }
    const auto stall = cfg.duration("download_stall_window", std::chrono::seconds(60));
    if (stall < std::chrono::seconds(1)) throw wharf::config_error("download_stall_window: at least 1s");
    s.stall_window = std::chrono::duration_cast<std::chrono::seconds>(stall);
    if (const auto ca = cfg.get_or("download_ca_file", ""); !ca.empty()) {
        std::error_code ec;
        if (!fs::is_regular_file(ca, ec)) throw wharf::config_error("download_ca_file: " + ca + " is not a file");
        s.ca_file = ca;
    }
    return s;
}

download_request parse_download_request(const nlohmann::json& p, const std::optional<std::string>& envelope_api_key,
                                        const download_settings& settings) {
    if (!p.is_object()) throw permanent_error("payload must be a JSON object");
    download_request r;
    // The URL is never quoted back: it may carry a password or a signature.
    auto url = fetch::check_url(payload_string(p, "url"));
    if (!url) throw permanent_error("payload.url: " + url.error().message);
    r.url = std::move(*url);

    if (auto key = payload_optional_string(p, "key")) {
        r.key = std::move(*key);
    } else if (auto video = payload_optional_string(p, "video_id")) {
        if (!safe_id(*video))
            throw permanent_error("payload.video_id: 1 to 128 of [A-Za-z0-9._-], not starting with '.'");
        r.key = fmt::format("videos/{}/{}", *video, fetch::file_name_of(r.url));
    } else {
        throw permanent_error("payload.key or payload.video_id is required");
    }
    if (auto why = key_layout_violation(r.key)) throw permanent_error("payload.key: " + *why);

    if (auto sha = payload_optional_string(p, "sha256")) {
        std::transform(sha->begin(), sha->end(), sha->begin(), [](unsigned char c) { return std::tolower(c); });
        if (!storage::is_sha256_hex(*sha)) throw permanent_error("payload.sha256 must be 64 hex characters");
        r.sha256 = std::move(*sha);
    }
    r.size = payload_byte_count(p, "size", 0);
    r.max_bytes = std::min(settings.max_bytes, payload_byte_count(p, "max_bytes", 1).value_or(settings.max_bytes));
    r.content_types = settings.content_types;
    if (p.contains("content_types") && !p["content_types"].is_null()) {
        const auto& list = p["content_types"];
        if (!list.is_array() || !std::all_of(list.begin(), list.end(), [](const auto& t) { return t.is_string(); }))
            throw permanent_error("payload.content_types must be a list of media types");
        std::vector<std::string> ranges;
        try {
            ranges = media_ranges(list.get<std::vector<std::string>>(), "payload.content_types");
        } catch (const std::invalid_argument& e) {
            throw permanent_error(e.what());
        }
        if (!ranges.empty()) {  // [] narrows nothing
            if (!fetch::media_ranges_within(ranges, settings.content_types))
                throw permanent_error("payload.content_types allows more than this worker's download_content_types");
            r.content_types = std::move(ranges);
        }
    }
    r.provider = payload_optional_string(p, "provider");
    r.api_key = payload_api_key(p, envelope_api_key);
    r.presign_expires = payload_presign_expires(p);
    return r;
}

download_services::download_services(std::shared_ptr<storage_services> storage_, download_settings settings_)
    : storage(std::move(storage_)), settings(std::move(settings_)), client(fetch::egress_policy(settings.allow)) {}

job_type download_job_type(std::shared_ptr<download_services> services) {
    return job_type{.name = "download",
                    .handler = [services](job_context& ctx) { return run_download(services, ctx); },
                    .max_attempts = 5,
                    .timeout = std::chrono::hours(1),
                    .retry_base = std::chrono::seconds(2),
                    .retry_cap = std::chrono::minutes(5)};
}

void register_download_job(job_registry& registry, std::shared_ptr<storage_services> storage, const wharf::config& cfg) {
    registry.add(download_job_type(std::make_shared<download_services>(std::move(storage), download_settings_from(cfg))));
}

}  // namespace wharf::worker
