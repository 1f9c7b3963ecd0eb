// The `upload` job type (contract in upload.hpp).
#include "upload.hpp"

#include "wharf/asio/offload.hpp"
#include "wharf/storage/content.hpp"
#include "wharf/storage/sha256.hpp"

#include <fmt/format.h>

#include <system_error>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace wharf::worker {

upload_request parse_upload_request(const nlohmann::json& p, const std::optional<std::string>& envelope_api_key) {
    if (!p.is_object()) throw permanent_error("payload must be a JSON object");
    upload_request r;
    auto source = parse_payload_source(p);
    r.source_path = std::move(source.path);
    r.source_provider = std::move(source.provider);
    r.source_key = std::move(source.key);

    r.key = payload_string(p, "key");
    if (auto why = key_layout_violation(r.key)) throw permanent_error("payload.key: " + *why);
    r.provider = payload_optional_string(p, "provider");
    r.api_key = payload_api_key(p, envelope_api_key);

    r.prefix_class = prefix_class_of(r.key);
    const bool temp_key = r.prefix_class == storage::prefix_class::temp;
    if (auto cls = payload_optional_string(p, "class")) {
        const auto parsed = storage::prefix_class_from_string(*cls);
        if (!parsed) throw permanent_error("payload.class must be \"temp\" or \"permanent\"");
        if (*parsed != r.prefix_class)
            throw permanent_error(temp_key ? "keys under temp/ are class temp"
                                           : "class temp keys live under temp/<owner>/");
    }
    if (auto ct = payload_optional_string(p, "content_type")) r.content_type = *ct;
    r.presign_expires = payload_presign_expires(p);
    return r;
}

namespace {

asio::awaitable<nlohmann::json> run_upload(std::shared_ptr<storage_services> services, job_context& ctx) {
    storage_services& s = *services;
    const upload_request req = parse_upload_request(ctx.payload, ctx.api_key);
    progress_reporter progress(ctx.report_progress);

    // 0. Multipart uploads an earlier attempt of this job left open: aborted before anything else.
    auto cleanup = abort_uploads_left_open(s, ctx);
    co_await std::move(cleanup);

    // 1. The bytes to upload, as a local file, with its size and SHA-256 (computed once).
    fs::path source;
    std::optional<std::string> sha256;
    std::optional<scratch_path> scratch;  // a stored source is downloaded here, removed at the end
    if (req.source_path) {
        // Read the file the check resolved, not the given path again: a symlink swapped in after
        // the check must not lead elsewhere (a directory swapped for a link still could).
        if (auto why = local_source_refusal(*req.source_path, s.options().source_roots, &source))
            throw permanent_error("payload.source " + req.source_path->string() + ": " + *why);
    } else {
        auto* from = s.providers().find(*req.source_provider);
        if (!from) throw permanent_error("payload.source.provider: unknown storage provider \"" + *req.source_provider + "\"");
        scratch.emplace(s.options(), "upload", ctx, ".part");
        progress("download", 0, 0);
        try {
            // get_to_file verifies the SHA-256 the object carries, so we can carry it on (of the
            // decoded bytes, for an object the compress job encoded).
            auto fetch = storage::get_content(*from, *req.source_key, scratch->path());
            const auto info = co_await std::move(fetch);
            sha256 = info.sha256;
        } catch (const storage::error& e) {
            rethrow_storage(e, "downloading the source " + *req.source_provider + ":" + *req.source_key);
        }
        source = scratch->path();
    }
    std::error_code ec;
    const std::uint64_t size = fs::file_size(source, ec);
    if (ec) throw permanent_error("source " + source.string() + ": " + ec.message());
    if (!sha256) {
        progress("hash", 0, size);
        auto hash = offload(s.blocking_pool().get_executor(), [source] { return storage::sha256_file_hex(source); });
        sha256 = co_await std::move(hash);
    }

    store_request store{.file = source,
                        .size = size,
                        .sha256 = *sha256,
                        .key = req.key,
                        .provider = req.provider,
                        .api_key = req.api_key,
                        .content_type = req.content_type,
                        .presign_expires = req.presign_expires,
                        .progress = [&progress](std::uint64_t done, std::uint64_t total) {
                            progress("upload", done, total);
                        }};
    auto put = store_file(s, ctx, std::move(store));
    const stored_file stored = co_await std::move(put);
    progress("upload", size, size);
    co_return to_json(stored);
}

}  // namespace

job_type upload_job_type(std::shared_ptr<storage_services> services) {
    return job_type{.name = "upload",
                    .handler = [services](job_context& ctx) { return run_upload(services, ctx); },
                    .max_attempts = 5,
                    .timeout = std::chrono::hours(1),
                    .retry_base = std::chrono::seconds(2),
                    .retry_cap = std::chrono::minutes(5)};
}

void register_upload_job(job_registry& registry, std::shared_ptr<storage_services> services) {
    registry.add(upload_job_type(std::move(services)));
}

}  // namespace wharf::worker
