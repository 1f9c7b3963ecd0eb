// Storing a job's output (see storing.hpp): the storage services of a worker, and the one path a
// local file takes into storage.
#include "storing.hpp"

#include "wharf/asio/offload.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/core/scratch.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/quota.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <system_error>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace wharf::worker {
namespace {

using storage::errc;

constexpr std::string_view layout_prefixes[] = {"temp/", "videos/", "processed/", "transcripts/"};

}  // namespace

std::string payload_string(const nlohmann::json& p, const char* name) {
    if (!p.contains(name) || !p[name].is_string() || p[name].get<std::string>().empty())
        throw permanent_error(fmt::format("payload.{} must be a non-empty string", name));
    return p[name].get<std::string>();
}

std::optional<std::string> payload_optional_string(const nlohmann::json& p, const char* name) {
    if (!p.contains(name) || p[name].is_null()) return std::nullopt;
    return payload_string(p, name);
}

payload_source parse_payload_source(const nlohmann::json& p) {
    if (!p.contains("source")) throw permanent_error("payload.source is required: a local path or {provider, key}");
    const auto& source = p["source"];
    payload_source r;
    if (source.is_string()) {
        if (source.get<std::string>().empty()) throw permanent_error("payload.source must not be empty");
        r.path = fs::path(source.get<std::string>());
    } else if (source.is_object()) {
        r.provider = payload_string(source, "provider");
        r.key = payload_string(source, "key");
        if (auto why = storage::invalid_key_reason(*r.key)) throw permanent_error("payload.source.key: " + *why);
    } else {
        throw permanent_error("payload.source must be a local path or {\"provider\", \"key\"}");
    }
    return r;
}

std::optional<std::string> payload_api_key(const nlohmann::json& p, const std::optional<std::string>& envelope) {
    const auto payload_key = payload_optional_string(p, "api_key");
    if (payload_key && envelope && *payload_key != *envelope)
        throw permanent_error("payload.api_key differs from the envelope's api_key");
    return envelope ? envelope : payload_key;
}

std::chrono::seconds payload_presign_expires(const nlohmann::json& p) {
    if (!p.contains("presign_expires")) return storage::default_presign_expiry;
    if (!p["presign_expires"].is_number_integer()) throw permanent_error("payload.presign_expires must be an integer");
    auto expires = storage::checked_presign_expiry(p["presign_expires"].get<std::int64_t>());
    if (!expires) throw permanent_error(std::string("payload.presign_expires: ") + expires.error().message);
    return *expires;
}

[[noreturn]] void rethrow_storage(const storage::error& e, std::string_view doing) {
    const std::string message = fmt::format("{}: {}", doing, e.what());
    if (e.retryable()) throw std::runtime_error(message);
    throw permanent_error(message);
}

void progress_reporter::operator()(std::string_view phase, std::uint64_t done, std::uint64_t total) {
    report(nlohmann::json{{"phase", phase}, {"done", done}, {"total", total}}, done == total);
}

void progress_reporter::report(nlohmann::json progress, bool final) {
    if (!report_) return;
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    report_(std::move(progress));
}

scratch_path::scratch_path(const storage_job_options& options, std::string_view kind, const job_context& ctx,
                           std::string_view suffix) {
    std::error_code ec;
    fs::create_directories(options.scratch_dir, ec);
    std::string name = scratch_name(kind, ctx.queue, ctx.id);
    name += suffix;
    path_ = options.scratch_dir / name;
    // An earlier attempt of this job killed while the storage library downloaded into this name
    // left its temp file beside it; this attempt is the one to remove it.
    for (const auto& entry : fs::directory_iterator(options.scratch_dir, ec)) {
        if (storage::is_download_temp_of(entry.path().filename().native(), name)) fs::remove(entry.path(), ec);
    }
}

scratch_path::~scratch_path() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
}

std::optional<std::string> local_source_refusal(const fs::path& source, const std::vector<fs::path>& roots,
                                                fs::path* resolved) {
    if (roots.empty())
        return "local files may not be read by this worker (set local_source_roots to the directories "
               "that hold them)";
    if (!source.is_absolute()) return "a local source must be an absolute path";
    std::error_code ec;
    const fs::path real = fs::canonical(source, ec);  // every symlink and .. resolved
    if (ec) return "cannot read it: " + ec.message();
    if (!fs::is_regular_file(real, ec)) return "not a regular file";
    for (const auto& root : roots) {
        const fs::path real_root = fs::canonical(root, ec);
        if (ec) continue;
        // Component-wise: /srv/in must not admit /srv/inbox/x.
        auto [r, s] = std::mismatch(real_root.begin(), real_root.end(), real.begin(), real.end());
        if (r == real_root.end() && s != real.end()) {
            if (resolved) *resolved = real;
            return std::nullopt;
        }
    }
    return "outside local_source_roots";
}

std::optional<std::string> key_layout_violation(std::string_view key) {
    if (auto reason = storage::invalid_key_reason(key)) return reason;
    for (auto prefix : layout_prefixes) {
        if (!key.starts_with(prefix)) continue;
        const auto rest = key.substr(prefix.size());
        const auto slash = rest.find('/');
        if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size())
            return fmt::format("keys under {} follow {}<id>/<name>", prefix, prefix);
    }
    return std::nullopt;
}

storage::prefix_class prefix_class_of(std::string_view key) {
    return key.starts_with("temp/") ? storage::prefix_class::temp : storage::prefix_class::permanent;
}

struct storage_services::state {
    asio::thread_pool blocking{2};  // hashing runs near 2 GB/s per core: worth both cores
    std::mutex prepare_mutex;
    bool prepared = false;
    std::mutex rng_mutex;
    std::mt19937_64 rng{std::random_device{}()};
};

storage_services::storage_services(std::unique_ptr<storage::registry> providers, pg::pool& db,
                                   storage::smtp_settings smtp, storage_job_options options)
    : providers_(std::move(providers)),
      db_(db),
      catalog_(db),
      journal_(db),
      alerts_(std::make_unique<storage::alert_dispatcher>(catalog_, std::move(smtp))),
      options_(std::move(options)),
      state_(std::make_unique<state>()) {}

storage_services::~storage_services() { state_->blocking.join(); }

asio::thread_pool& storage_services::blocking_pool() noexcept { return state_->blocking; }

boost::system::result<std::size_t, storage::refusal> storage_services::place(
    std::span<const storage::provider_capacity> capacity, std::uint64_t size, std::optional<std::string_view> wanted) {
    std::lock_guard lock(state_->rng_mutex);
    return storage::choose_provider(capacity, size, wanted, state_->rng);
}

asio::awaitable<void> storage_services::prepare() {
    {
        std::lock_guard lock(state_->prepare_mutex);
        if (state_->prepared) co_return;
    }
    // Two jobs preparing at once both write the same limits: harmless, so no lock across awaits.
    for (const auto& pc : providers_->configs()) {
        // Awaitables are built in statements of their own: GCC 12 relocates class-type
        // temporaries of a co_await full-expression bitwise (invalid frees).
        auto ensure = catalog_.ensure_provider(pc.name, pc.limit_bytes);
        if (auto crossing = co_await std::move(ensure)) {
            auto send = alerts_->dispatch(std::move(*crossing));
            co_await std::move(send);
        }
    }
    std::lock_guard lock(state_->prepare_mutex);
    state_->prepared = true;
}

asio::awaitable<void> storage_services::run_alert_sweeper() {
    auto loop = alerts_->run(options_.alert_sweep_interval);
    co_await std::move(loop);
}

namespace {

// Removes a journal row; a failure is only logged (see the callers for why that is harmless).
asio::awaitable<void> forget_row(storage_services& s, storage::open_upload row, std::string job_id) {
    std::string failure;
    try {
        auto forget = s.journal().forget(row);
        co_await std::move(forget);
    } catch (const std::exception& e) {
        failure = e.what();
    }
    if (!failure.empty())
        spdlog::warn("job {}: removing the journal row of {} {}:{} failed: {}", job_id, row.upload_id, row.provider,
                     row.key, redact(failure));
}

// An intent an earlier attempt left: the uploads of its key that the provider lists and no row
// records were created by that attempt after it wrote the intent (a kill in between left them
// unrecorded) -- unless another job also writes this key, whose upload that could be.
asio::awaitable<void> abort_left_by_intent(storage_services& s, storage::provider& p, const storage::open_upload& u,
                                           const std::string& job_id) {
    auto rows_op = s.journal().for_key(u);
    const auto rows = co_await std::move(rows_op);
    if (rows.other_jobs) {
        spdlog::info("job {}: attempt {} may have left an upload of {}:{} open, but another job writes that key "
                     "too; left for `wharfctl storage orphans`",
                     job_id, u.attempt, u.provider, u.key);
        co_return;
    }
    auto list_op = p.list_incomplete(u.key);
    const auto listed = co_await std::move(list_op);
    for (const auto& up : storage::uploads_left_by_intent(u, listed, rows.upload_ids)) {
        auto abort = p.abort_incomplete(up.key, up.upload_id);
        co_await std::move(abort);
        spdlog::info("job {}: aborted upload {} of {}:{} that attempt {} opened but did not record", job_id,
                     up.upload_id, u.provider, u.key, u.attempt);
    }
}

// The object a store under this key would replace: the key's row on the named provider, or on
// any provider when none is named.
const storage::stored_object* replaced_object(const std::vector<storage::stored_object>& existing,
                                              const std::optional<std::string>& provider) {
    for (const auto& row : existing)
        if (!provider || row.record.provider == *provider) return &row;
    return nullptr;
}

quota_headroom headroom_of(const storage::api_key_usage& usage, const storage::stored_object* replaced,
                           const std::string& api_key) {
    const bool own = replaced && replaced->record.api_key == api_key;
    return {usage.used_bytes, usage.quota_bytes, own ? replaced->record.size : 0};
}

}  // namespace

asio::awaitable<void> abort_uploads_left_open(storage_services& s, const job_context& ctx) {
    const std::string& job_id = ctx.id;
    auto load = s.journal().of_job(ctx.queue, ctx.id);
    auto left_open = co_await std::move(load);
    // Intents first, while the real rows still tell their uploads apart from the unrecorded ones.
    std::stable_partition(left_open.begin(), left_open.end(), [](const auto& u) { return storage::is_intent(u); });
    for (const auto& u : left_open) {
        auto* p = s.providers().find(u.provider);
        if (!p || p->bucket() != u.bucket) {
            spdlog::warn("job {}: upload {} of {}/{}:{} left open by attempt {} is on a provider no longer "
                         "configured; left for `wharfctl storage orphans`",
                         job_id, u.upload_id, u.provider, u.bucket, u.key, u.attempt);
            continue;
        }
        try {
            if (storage::is_intent(u)) {
                auto by_intent = abort_left_by_intent(s, *p, u, job_id);
                co_await std::move(by_intent);
                auto forget = s.journal().forget(u);
                co_await std::move(forget);
                continue;
            }
            auto check = s.journal().shared_with_other_jobs(u);
            if (co_await std::move(check)) {
                // Azure: the blocks belong to the key, and another job writes that key too; its
                // Put Block List discards ours, and discarding them now could take its blocks.
                spdlog::info("job {}: blocks of {}:{} left open by attempt {} are shared with another job's upload; "
                             "not discarded",
                             job_id, u.provider, u.key, u.attempt);
            } else {
                auto abort = p->abort_incomplete(u.key, u.upload_id);
                co_await std::move(abort);
                spdlog::info("job {}: aborted upload {} of {}:{} left open by attempt {}", job_id, u.upload_id,
                             u.provider, u.key, u.attempt);
            }
            auto forget = s.journal().forget(u);
            co_await std::move(forget);
        } catch (const storage::error& e) {
            spdlog::warn("job {}: aborting upload {} of {}:{} left open by attempt {} failed: {}; kept for a later try",
                         job_id, u.upload_id, u.provider, u.key, u.attempt, e.what());
        }
    }
}

std::optional<std::string> quota_headroom::refusal(std::uint64_t size) const {
    return storage::quota_violation(used_bytes, quota_bytes, size > credit_bytes ? size - credit_bytes : 0);
}

asio::awaitable<std::optional<quota_headroom>> load_quota_headroom(storage_services& s, std::string key,
                                                                   std::optional<std::string> provider,
                                                                   std::optional<std::string> api_key) {
    if (!api_key) co_return std::nullopt;
    auto load = s.catalog().api_key(*api_key);
    const auto usage = co_await std::move(load);
    if (!usage) co_return std::nullopt;
    auto find = s.catalog().find_by_key(key);
    const auto existing = co_await std::move(find);
    co_return headroom_of(*usage, replaced_object(existing, provider), *api_key);
}

nlohmann::json to_json(const stored_file& f) {
    const auto& r = f.record;
    return nlohmann::json{{"provider", r.provider}, {"bucket", r.bucket},        {"key", r.key},
                          {"size", r.size},         {"sha256", r.sha256},        {"etag", r.etag},
                          {"presigned_url", f.presigned_url}, {"expires_in", f.expires_in.count()},
                          {"duplicate", f.duplicate}};
}

namespace {

storage::provider& provider_of(storage_services& s, const storage::object_record& r) {
    auto* p = s.providers().find(r.provider);
    if (!p || p->bucket() != r.bucket)
        throw permanent_error("stored object " + r.provider + ":" + r.key + " is on a provider (or bucket) " +
                              "no longer configured");
    return *p;
}

}  // namespace

// Where `size` new bytes go (see place_object in storing.hpp).
asio::awaitable<storage::provider*> place_object(storage_services& s, std::uint64_t size,
                                                 std::optional<std::string> wanted,
                                                 const storage::stored_object* replaced,
                                                 std::function<bool(const storage::provider&)> eligible) {
    auto load_stats = s.catalog().stats();
    const auto stats = co_await std::move(load_stats);
    std::vector<storage::provider_capacity> capacity;
    for (const auto& pc : s.providers().configs()) {
        if (eligible && !eligible(s.providers().at(pc.name))) continue;
        storage::provider_capacity c{pc.name, 0, pc.limit_bytes};
        for (const auto& st : stats)
            if (st.provider == pc.name) c.used_bytes = st.total_bytes;
        if (replaced && replaced->record.provider == pc.name)
            c.used_bytes -= std::min(c.used_bytes, replaced->record.size);
        capacity.push_back(std::move(c));
    }
    if (capacity.empty()) throw permanent_error("no configured storage provider can take this object");
    std::optional<std::string_view> chosen;
    if (wanted) chosen = *wanted;
    else if (replaced) chosen = replaced->record.provider;
    auto placed = s.place(capacity, size, chosen);
    if (!placed) throw permanent_error(placed.error().message);
    co_return &s.providers().at(capacity[*placed].name);
}

// The object is at `target` under record.key: record it (see record_stored in storing.hpp).
asio::awaitable<stored_file> record_uploaded(storage_services& s, const job_context& ctx, storage::provider& target,
                                             storage::object_record record, const storage::stored_object* replaced,
                                             std::chrono::seconds presign_expires) {
    // Usage, quota re-check and the "full" decision in one transaction.
    storage::record_result recorded;
    std::optional<std::string> quota_refusal;
    try {
        auto write = s.catalog().record(record);
        recorded = co_await std::move(write);
    } catch (const storage::error& e) {
        if (e.code() != errc::quota_exceeded) throw;
        quota_refusal = e.what();
    }
    if (quota_refusal) {
        // Another upload of the same tenant won the race for the last bytes. What this upload
        // stored is removed again: the tenant does not keep what it is not charged for. If it
        // overwrote an object at the same place, that object's bytes are gone as well, so its row
        // goes too: usage then counts exactly what is stored.
        const bool overwrote =
            replaced && replaced->record.provider == record.provider && replaced->record.bucket == record.bucket;
        try {
            auto remove = target.remove(record.key);
            co_await std::move(remove);
        } catch (const std::exception& cleanup) {
            spdlog::warn("job {}: could not remove {}:{} after the quota refusal: {}", ctx.id, record.provider,
                         record.key, cleanup.what());
        }
        if (overwrote) {
            try {
                auto forget = s.catalog().remove(record.provider, record.bucket, record.key);
                co_await std::move(forget);
            } catch (const std::exception& e) {
                spdlog::error("job {}: the object at {}:{} was overwritten before the quota refusal, and its row "
                              "could not be removed: {}",
                              ctx.id, record.provider, record.key, redact(e.what()));
            }
            throw permanent_error(*quota_refusal + "; the object it was replacing at " + record.key +
                                  " had already been overwritten and is removed");
        }
        throw permanent_error(*quota_refusal);
    }
    if (recorded.crossing) {
        try {
            auto send = s.alerts().dispatch(std::move(*recorded.crossing));
            co_await std::move(send);
        } catch (const std::exception& e) {
            // The claim expires and the sweeper retries; the upload itself succeeded.
            spdlog::warn("job {}: alert for full provider {} deferred: {}", ctx.id, record.provider, e.what());
        }
    }
    const auto url = s.presigns().get(target, storage::http_method::get, record.key, presign_expires);
    co_return stored_file{std::move(record), url, presign_expires, false};
}

asio::awaitable<stored_file> record_stored(storage_services& s, const job_context& ctx, storage::object_record record,
                                           std::chrono::seconds presign_expires) {
    auto prepare = s.prepare();
    co_await std::move(prepare);
    auto& target = provider_of(s, record);
    auto find = s.catalog().find_by_key(record.key);
    const auto existing = co_await std::move(find);
    const storage::stored_object* replaced = replaced_object(existing, record.provider);
    auto recording = record_uploaded(s, ctx, target, std::move(record), replaced, presign_expires);
    co_return co_await std::move(recording);
}

std::string content_type_for_key(std::string_view key) {
    static constexpr std::pair<std::string_view, std::string_view> types[] = {
        {".mp4", "video/mp4"},   {".m4s", "video/iso.segment"},  {".ts", "video/mp2t"},
        {".m3u8", "application/vnd.apple.mpegurl"},             {".mp3", "audio/mpeg"},
        {".jpg", "image/jpeg"},  {".vtt", "text/vtt"},           {".json", "application/json"},
        {".srt", "application/x-subrip"}, {".png", "image/png"}, {".webp", "image/webp"},
        {".mov", "video/quicktime"}, {".mkv", "video/x-matroska"}, {".webm", "video/webm"},
        {".txt", "text/plain"},  {".gz", "application/gzip"},    {".zst", "application/zstd"},
    };
    for (auto [ext, type] : types)
        if (key.ends_with(ext)) return std::string(type);
    return "application/octet-stream";
}

asio::awaitable<storage::put_result> journal_upload(storage_services& s, storage::open_upload opened,
                                                    storage::provider& target, storage::put_options options,
                                                    journaled_put put) {
    // A multipart upload is recorded before its first part and forgotten once it is gone, so
    // one left open by a kill -9 is aborted by the next attempt (abort_uploads_left_open).
    opened.provider = target.name();
    opened.bucket = target.bucket();
    opened.upload_id.clear();
    bool recorded_open = false;
    // The intent covers the gap between the provider creating the upload and the row above
    // being written: a kill there leaves an upload only the intent can lead back to. (The
    // local provider writes a temp file, not an upload a later attempt could abort.)
    storage::open_upload intent = opened;
    intent.upload_id = std::string{storage::creating_upload_id};
    const bool with_intent = target.kind() != "local";
    if (with_intent) {
        auto write = s.journal().record(intent);
        co_await std::move(write);
    }
    options.on_upload_created = [&s, &opened, &recorded_open](std::string upload_id) {
        opened.upload_id = std::move(upload_id);
        recorded_open = true;
        return s.journal().record(opened);
    };
    options.on_upload_aborted = [&s, &opened, &recorded_open](std::string) {
        recorded_open = false;
        return s.journal().forget(opened);
    };
    std::optional<storage::put_result> done;
    std::exception_ptr failed;
    try {
        auto upload = put(std::move(options));
        done = co_await std::move(upload);
    } catch (...) {
        failed = std::current_exception();
    }
    // After a complete its row has nothing left to say; after a failure the engine aborted
    // the upload and removed the row (a failed abort keeps it, for the next attempt). Either
    // way the intent is done. A removal that fails is harmless: aborting a completed or
    // aborted upload is a no-op, so whoever finds the row later just removes it.
    if (done && recorded_open) {
        auto forget = forget_row(s, opened, opened.job_id);
        co_await std::move(forget);
    }
    if (with_intent) {
        auto forget = forget_row(s, intent, opened.job_id);
        co_await std::move(forget);
    }
    if (failed) std::rethrow_exception(failed);
    co_return std::move(*done);
}

asio::awaitable<storage::put_result> put_journaled(storage_services& s, const job_context& ctx,
                                                   storage::provider& target, std::string key,
                                                   std::filesystem::path source, storage::put_options options) {
    journaled_put put = [&target, &key, &source](storage::put_options o) { return target.put_file(key, source, std::move(o)); };
    storage::open_upload opened{{}, {}, key, {}, ctx.id, ctx.attempt, {}, ctx.queue};
    auto upload = journal_upload(s, std::move(opened), target, std::move(options), std::move(put));
    co_return co_await std::move(upload);
}

asio::awaitable<stored_file> store_file(storage_services& s, const job_context& ctx, store_request req) {
    if (auto why = key_layout_violation(req.key)) throw permanent_error("key " + req.key + ": " + *why);
    auto prepare = s.prepare();
    co_await std::move(prepare);
    const fs::path& source = req.file;
    const std::uint64_t size = req.size;
    const std::string& sha256 = req.sha256;
    const auto progress = [&req](std::string_view, std::uint64_t done, std::uint64_t total) {
        if (req.progress) req.progress(done, total);
    };

    storage::object_record record;
    record.key = req.key;
    record.size = size;
    record.sha256 = sha256;
    record.api_key = req.api_key;
    record.job_id = ctx.id;
    record.job_queue = ctx.queue;
    record.prefix_class = prefix_class_of(req.key);

    // 2. The same bytes already stored under the key: nothing to upload.
    auto find = s.catalog().find_by_key(req.key);
    const auto existing = co_await std::move(find);
    for (const auto& row : existing) {
        if (req.provider && row.record.provider != *req.provider) continue;
        if (row.record.size != size || row.record.sha256 != sha256) continue;
        auto* p = s.providers().find(row.record.provider);
        if (!p) continue;  // a provider no longer configured
        const auto url = s.presigns().get(*p, storage::http_method::get, req.key, req.presign_expires);
        co_return stored_file{row.record, url, req.presign_expires, true};
    }

    // 3. Quota, before a byte moves. Replacing one's own object is charged the difference.
    const storage::stored_object* replaced = replaced_object(existing, req.provider);
    if (req.api_key) {
        auto load = s.catalog().api_key(*req.api_key);
        if (auto usage = co_await std::move(load)) {
            if (auto refusal = headroom_of(*usage, replaced, *req.api_key).refusal(size)) throw permanent_error(*refusal);
        }
    }

    // 4. A retry (or take-over) of a job that died between upload and record finds its object
    // already stored (same size and SHA-256) on one of the providers, and records that instead of
    // placing the object again (which could leave an uncounted copy behind).
    storage::provider* target = nullptr;
    bool adopted = false;
    if ((ctx.attempt > 1 || ctx.delivery > 1) && !replaced) {
        for (const auto& pc : s.providers().configs()) {
            if (req.provider && pc.name != *req.provider) continue;
            auto& candidate = s.providers().at(pc.name);
            try {
                auto probe = candidate.head(req.key);
                if (auto head = co_await std::move(probe);
                    head && head->size == size && head->sha256 && *head->sha256 == sha256) {
                    target = &candidate;
                    record.etag = head->etag;
                    adopted = true;
                    break;
                }
            } catch (const storage::error& e) {
                rethrow_storage(e, "checking " + pc.name + ":" + req.key);
            }
        }
    }

    // 5. Placement: the named provider, or where the key already lives (a replace stays put and
    // needs only the difference), or a weighted random choice by free capacity.
    if (!target) {
        auto placing = place_object(s, size, req.provider, replaced, {});
        target = co_await std::move(placing);
    }
    record.provider = target->name();
    record.bucket = target->bucket();

    // 6. Upload.
    if (!adopted) {
        storage::put_options options;
        options.content_type = req.content_type;
        options.sha256 = sha256;
        options.progress = [&progress](std::uint64_t done, std::uint64_t total) { progress("upload", done, total); };
        std::optional<storage::put_result> put;
        try {
            auto upload = put_journaled(s, ctx, *target, req.key, source, std::move(options));
            put = co_await std::move(upload);
        } catch (const storage::error& e) {
            rethrow_storage(e, "uploading to " + record.provider + ":" + req.key);
        }
        if (put->size != size || (!put->sha256.empty() && put->sha256 != sha256))
            throw std::runtime_error(fmt::format("{}:{} stored {} bytes (sha256 {}), expected {} ({})", record.provider,
                                                 req.key, put->size, put->sha256, size, sha256));
        record.etag = put->etag;
    }
    progress("upload", size, size);

    // 7. Record.
    auto recording = record_uploaded(s, ctx, *target, std::move(record), replaced, req.presign_expires);
    co_return co_await std::move(recording);
}



asio::awaitable<stored_file> move_stored(storage_services& s, const job_context& ctx,
                                         const storage::stored_object& from, std::string to_key,
                                         std::chrono::seconds presign_expires) {
    if (auto why = key_layout_violation(to_key)) throw permanent_error("key " + to_key + ": " + *why);
    storage::provider& p = provider_of(s, from.record);
    const auto& f = from.record;
    try {
        // The copy may be there already (a run that died after copying): its bytes are checked by
        // the rename below (same size and SHA-256 keep it), so copying again is only wasted work.
        auto copy = p.copy(f.key, to_key);
        co_await std::move(copy);
    } catch (const storage::error& e) {
        // Gone at the source: a run that died after the rename and before the removal moved it.
        if (e.code() != errc::not_found) rethrow_storage(e, "copying " + f.provider + ":" + f.key + " to " + to_key);
    }
    auto rename = s.catalog().rename(f.provider, f.bucket, f.key, to_key, prefix_class_of(to_key), ctx.id, ctx.queue);
    co_await std::move(rename);
    try {
        auto remove = p.remove(f.key);
        co_await std::move(remove);
    } catch (const storage::error& e) {
        rethrow_storage(e, "removing " + f.provider + ":" + f.key + " after moving it");
    }
    storage::object_record moved = f;
    moved.key = to_key;
    moved.prefix_class = prefix_class_of(to_key);
    moved.job_id = ctx.id;
    moved.job_queue = ctx.queue;
    const auto url = s.presigns().get(p, storage::http_method::get, to_key, presign_expires);
    co_return stored_file{std::move(moved), url, presign_expires, false};
}

asio::awaitable<stored_file> copy_stored(storage_services& s, const job_context& ctx,
                                         const storage::object_record& from, std::string to_key,
                                         std::optional<std::string> api_key, std::chrono::seconds presign_expires) {
    if (auto why = key_layout_violation(to_key)) throw permanent_error("key " + to_key + ": " + *why);
    storage::provider& p = provider_of(s, from);
    try {
        auto copy = p.copy(from.key, to_key);
        co_await std::move(copy);
    } catch (const storage::error& e) {
        rethrow_storage(e, "copying " + from.provider + ":" + from.key + " to " + to_key);
    }
    storage::object_record record = from;
    record.key = to_key;
    record.api_key = std::move(api_key);
    record.job_id = ctx.id;
    record.job_queue = ctx.queue;
    record.prefix_class = prefix_class_of(to_key);
    record.tier = storage::tier::hot;
    std::optional<std::string> refusal;
    try {
        auto write = s.catalog().record(record);
        co_await std::move(write);
    } catch (const storage::error& e) {
        if (e.code() != errc::quota_exceeded) throw;
        refusal = e.what();
    }
    if (refusal) {
        // The tenant does not keep what it is not charged for.
        try {
            auto remove = p.remove(to_key);
            co_await std::move(remove);
        } catch (const std::exception& cleanup) {
            spdlog::warn("job {}: could not remove {}:{} after the quota refusal: {}", ctx.id, from.provider, to_key,
                         cleanup.what());
        }
        throw permanent_error(*refusal);
    }
    const auto url = s.presigns().get(p, storage::http_method::get, to_key, presign_expires);
    co_return stored_file{std::move(record), url, presign_expires, false};
}

asio::awaitable<removed_objects> remove_stored_prefix(storage_services& s, const job_context& ctx, std::string prefix,
                                                      std::optional<std::string> only_api_key) {
    removed_objects out;
    for (;;) {
        auto find = s.catalog().find_by_prefix(prefix);
        auto objects = co_await std::move(find);
        if (only_api_key)
            std::erase_if(objects, [&](const storage::stored_object& o) { return o.record.api_key != only_api_key; });
        if (objects.empty()) break;
        for (const auto& o : objects) {
            auto* p = s.providers().find(o.record.provider);
            if (p && p->bucket() == o.record.bucket) {
                try {
                    auto remove = p->remove(o.record.key);
                    co_await std::move(remove);
                } catch (const storage::error& e) {
                    rethrow_storage(e, "removing " + o.record.provider + ":" + o.record.key);
                }
            } else {
                spdlog::warn("job {}: {}:{} is on a provider no longer configured; only its row is removed", ctx.id,
                             o.record.provider, o.record.key);
            }
            auto forget = s.catalog().remove(o.record.provider, o.record.bucket, o.record.key);
            const auto gone = co_await std::move(forget);
            if (gone.removed) {
                ++out.objects;
                out.bytes += o.record.size;
            }
        }
    }
    co_return out;
}

std::vector<wharf::option_spec> storage_job_option_specs() {
    auto specs = storage::alert_option_specs();
    specs.push_back(storage::storage_providers_option());
    specs.push_back({"scratch_dir", "where jobs keep their scratch files (downloads, transcodes)", false, "./.data/tmp"});
    specs.push_back({"local_source_roots",
                     "comma-separated directories whose files jobs may read as a local source (default: none)", false,
                     ""});
    return specs;
}

std::shared_ptr<storage_services> make_storage_services(const wharf::config& cfg, asio::any_io_executor executor,
                                                        pg::pool& db) {
    auto providers = std::make_unique<storage::registry>(storage::provider_configs_from(cfg), executor);
    storage_job_options options;
    // Absolute from here on: child processes (ffmpeg) run in folders of their own.
    std::error_code absolute_ec;
    options.scratch_dir = fs::absolute(cfg.get_or("scratch_dir", "./.data/tmp"), absolute_ec).lexically_normal();
    if (absolute_ec) throw wharf::config_error("scratch_dir: " + absolute_ec.message());
    const std::string roots = cfg.get_or("local_source_roots", "");
    for (std::size_t at = 0; at <= roots.size();) {
        auto comma = roots.find(',', at);
        if (comma == std::string::npos) comma = roots.size();
        const std::string root = roots.substr(at, comma - at);
        at = comma + 1;
        if (root.empty()) continue;
        std::error_code ec;
        if (!fs::path(root).is_absolute() || !fs::is_directory(root, ec))
            throw wharf::config_error("local_source_roots: \"" + root + "\" is not an absolute path of a directory");
        options.source_roots.emplace_back(root);
    }
    return std::make_shared<storage_services>(std::move(providers), db, storage::smtp_settings_from(cfg),
                                             std::move(options));
}


}  // namespace wharf::worker
