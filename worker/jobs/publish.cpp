// The `publish` job type (contract in publish.hpp).
#include "publish.hpp"

#include "wharf/asio/bounded_parallel.hpp"
#include "wharf/core/log.hpp"
#include "wharf/media/hls.hpp"
#include "wharf/storage/content.hpp"
#include "wharf/storage/sha256.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <map>
#include <optional>

namespace asio = boost::asio;

namespace wharf::worker {
namespace {

using json = nlohmann::json;

std::string text_field(const json& p, const char* name) {
    if (!p.contains(name) || !p[name].is_string() || p[name].get_ref<const std::string&>().empty())
        throw permanent_error(fmt::format("payload.{} must be a non-empty string", name));
    return p[name].get<std::string>();
}

// A prefix the pipeline owns: temp/<pipeline>/... or processed/<video>/..., never a bare "temp/".
std::string prefix_field(const json& p, const char* name) {
    std::string prefix = text_field(p, name);
    if (prefix.back() != '/') throw permanent_error(fmt::format("payload.{} must end with '/'", name));
    if (auto why = key_layout_violation(prefix + "x"))
        throw permanent_error(fmt::format("payload.{}: {}", name, *why));
    return prefix;
}

struct publish_request {
    std::string pipeline;
    bool discard = false;
    std::string remove_prefix;
    std::string video_id, from_prefix, to_prefix;
    storage::object_record original;  // provider, key, size, sha256 when known
    bool original_sha_known = false;
    std::string original_to;
    bool write_master = false;
    json transcodes = json::array();  // the transcode steps' results (fan-out: one per rendition)
    std::chrono::seconds presign_expires = storage::default_presign_expiry;
};

publish_request parse(const json& p) {
    if (!p.is_object()) throw permanent_error("payload must be a JSON object");
    publish_request r;
    r.pipeline = text_field(p, "pipeline");
    r.remove_prefix = prefix_field(p, "remove_prefix");
    if (!r.remove_prefix.starts_with("temp/")) throw permanent_error("payload.remove_prefix must be under temp/");
    if (p.contains("presign_expires") && !p["presign_expires"].is_null()) {
        if (!p["presign_expires"].is_number_integer()) throw permanent_error("payload.presign_expires must be an integer");
        auto expires = storage::checked_presign_expiry(p["presign_expires"].get<std::int64_t>());
        if (!expires) throw permanent_error(std::string("payload.presign_expires: ") + expires.error().message);
        r.presign_expires = *expires;
    }
    if (p.contains("discard") && !p["discard"].is_null()) {
        if (!p["discard"].is_boolean()) throw permanent_error("payload.discard must be true or false");
        r.discard = p["discard"].get<bool>();
    }
    if (r.discard) return r;
    r.video_id = text_field(p, "video_id");
    r.from_prefix = prefix_field(p, "from_prefix");
    r.to_prefix = prefix_field(p, "to_prefix");
    if (!p.contains("original") || !p["original"].is_object()) throw permanent_error("payload.original must be an object");
    const json& o = p["original"];
    r.original.provider = text_field(o, "provider");
    r.original.key = text_field(o, "key");
    r.original_to = text_field(o, "to");
    if (auto why = key_layout_violation(r.original_to)) throw permanent_error("payload.original.to: " + *why);
    if (o.contains("sha256") && o["sha256"].is_string()) {
        r.original.sha256 = o["sha256"].get<std::string>();
        r.original_sha_known = true;
    }
    if (o.contains("size") && o["size"].is_number_unsigned()) r.original.size = o["size"].get<std::uint64_t>();
    if (p.contains("write_master") && !p["write_master"].is_null()) {
        if (!p["write_master"].is_boolean()) throw permanent_error("payload.write_master must be true or false");
        r.write_master = p["write_master"].get<bool>();
    }
    if (p.contains("transcodes") && !p["transcodes"].is_null()) {
        if (!p["transcodes"].is_array()) throw permanent_error("payload.transcodes must be a list of results");
        r.transcodes = p["transcodes"];
    }
    return r;
}

// Stores `text` under `key` (a small index file: a playlist), through the one storing path.
asio::awaitable<stored_file> store_text(storage_services& s, const job_context& ctx, const publish_request& r,
                                        std::string key, const std::string& text, const char* content_type) {
    scratch_path file(s.options(), "publish", ctx, ".txt");
    {
        std::ofstream out(file.path(), std::ios::binary | std::ios::trunc);
        out << text;
        out.close();
        if (!out) throw std::runtime_error("cannot write " + file.path().string());
    }
    store_request store{.file = file.path(),
                        .size = text.size(),
                        .sha256 = storage::sha256_hex(text),
                        .key = std::move(key),
                        .provider = std::nullopt,
                        .api_key = ctx.api_key,
                        .content_type = content_type,
                        .presign_expires = r.presign_expires,
                        .progress = {}};
    auto put = store_file(s, ctx, std::move(store));
    co_return co_await std::move(put);
}

// A fan-out's parts each wrote their renditions; the master playlist lists them all. Its URIs are
// relative, so written against the temp keys they hold once moved too.
asio::awaitable<stored_file> write_master(storage_services& s, const job_context& ctx, const publish_request& r) {
    const std::string master_key = r.to_prefix + "hls/master.m3u8";
    std::vector<media::variant> variants;
    for (const auto& result : r.transcodes) {
        if (!result.is_object() || !result.contains("renditions") || !result["renditions"].is_array()) continue;
        for (const auto& d : result["renditions"]) {
            auto v = media::variant_from_result(d, r.from_prefix + "hls/master.m3u8");
            if (!v) throw permanent_error("a transcode result's rendition: " + v.error().message);
            variants.push_back(std::move(*v));
        }
    }
    if (variants.empty()) throw permanent_error("payload.transcodes hold no renditions to list in a master playlist");
    std::string text;
    try {
        text = media::master_playlist(std::move(variants));
    } catch (const std::invalid_argument& e) {
        throw permanent_error(std::string{"master playlist: "} + e.what());
    }
    auto put = store_text(s, ctx, r, master_key, text, "application/vnd.apple.mpegurl");
    co_return co_await std::move(put);
}

constexpr std::size_t publish_parallel_moves = 8;

asio::awaitable<void> move_one(storage_services& s, const job_context& ctx, const storage::stored_object& from,
                               std::string to, std::chrono::seconds presign_expires, std::optional<stored_file>& moved) {
    auto move = move_stored(s, ctx, from, std::move(to), presign_expires);
    moved = co_await std::move(move);
}

// Moves every object under from_prefix to the same relative key under to_prefix.
asio::awaitable<std::vector<stored_file>> move_outputs(storage_services& s, const job_context& ctx,
                                                       const publish_request& r) {
    auto find = s.catalog().find_by_prefix(r.from_prefix);
    const auto objects = co_await std::move(find);
    // Server-side copies: each waits on the store, not on this worker, so several at once.
    std::vector<std::optional<stored_file>> moved(objects.size());
    auto moving = for_each_bounded(objects.size(), publish_parallel_moves, [&](std::size_t i) {
        return move_one(s, ctx, objects[i], r.to_prefix + objects[i].record.key.substr(r.from_prefix.size()),
                        r.presign_expires, moved[i]);
    });
    co_await std::move(moving);
    std::vector<stored_file> out;
    for (auto& m : moved) out.push_back(std::move(*m));
    // A run that died midway moved some already: they are at their new keys.
    auto again = s.catalog().find_by_prefix(r.to_prefix);
    const auto published = co_await std::move(again);
    for (const auto& o : published) {
        const bool listed = std::any_of(out.begin(), out.end(), [&](const stored_file& f) { return f.record.key == o.record.key; });
        if (listed || o.record.key == r.original_to) continue;
        auto* p = s.providers().find(o.record.provider);
        if (!p) continue;
        out.push_back(stored_file{o.record, s.presigns().get(*p, storage::http_method::get, o.record.key, r.presign_expires),
                                  r.presign_expires, false});
    }
    co_return out;
}

// The original goes to raw/video_original.<ext>: moved when the pipeline ingested it into its
// temp/ prefix, copied when it is the tenant's own stored object (which stays where it is).
asio::awaitable<stored_file> publish_original(storage_services& s, const job_context& ctx, const publish_request& r) {
    auto find = s.catalog().find_by_key(r.original.key);
    const auto rows = co_await std::move(find);
    const storage::stored_object* row = nullptr;
    for (const auto& o : rows)
        if (o.record.provider == r.original.provider) row = &o;
    if (r.original.key.starts_with(r.remove_prefix)) {
        if (row) {
            auto move = move_stored(s, ctx, *row, r.original_to, r.presign_expires);
            co_return co_await std::move(move);
        }
        // Moved by an earlier run of this job.
        auto find_done = s.catalog().find_by_key(r.original_to);
        const auto done = co_await std::move(find_done);
        for (const auto& o : done) {
            auto* p = s.providers().find(o.record.provider);
            if (!p) continue;
            co_return stored_file{o.record, s.presigns().get(*p, storage::http_method::get, o.record.key, r.presign_expires),
                                  r.presign_expires, false};
        }
        throw permanent_error("the pipeline's source " + r.original.provider + ":" + r.original.key + " is gone");
    }
    storage::object_record from = row ? row->record : r.original;
    if (!row) {
        // A stored source that wharf did not store: its size from the provider; its SHA-256 is the
        // one the submission (or the transcode, which verified it) gave.
        auto* p = s.providers().find(r.original.provider);
        if (!p) throw permanent_error("payload.original.provider: unknown storage provider " + r.original.provider);
        from.bucket = p->bucket();
        auto head = p->head(r.original.key);
        const auto info = co_await std::move(head);
        if (!info) throw permanent_error("the pipeline's source " + r.original.provider + ":" + r.original.key + " is gone");
        from.size = info->size;
        if (!r.original_sha_known && info->sha256) from.sha256 = *info->sha256;
        if (from.sha256.empty()) throw permanent_error("the SHA-256 of the source " + r.original.key + " is not known");
    }
    auto copy = copy_stored(s, ctx, from, r.original_to, ctx.api_key, r.presign_expires);
    co_return co_await std::move(copy);
}

// A stored index file's bytes (at most 8 MiB: a playlist, never media).
asio::awaitable<std::string> read_small(storage_services& s, const job_context& ctx, const storage::object_record& o) {
    if (o.size > (8u << 20)) throw permanent_error(o.key + " is too large to be a playlist");
    auto* p = s.providers().find(o.provider);
    if (!p) throw permanent_error("provider " + o.provider + " is no longer configured");
    scratch_path file(s.options(), "publish-read", ctx, ".txt");
    try {
        auto get = storage::get_content(*p, o.key, file.path());
        co_await std::move(get);
    } catch (const storage::error& e) {
        rethrow_storage(e, "reading " + o.provider + ":" + o.key);
    }
    std::ifstream in(file.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    co_return text;
}

// Playlists that play out of a private bucket: a player follows a relative URI unsigned, so each
// rendition gets playlist.presigned.m3u8 whose segments are presigned URLs, and hls/
// master.presigned.m3u8 lists those. They are good for as long as their URLs (presign_expires);
// the plain playlists, with relative URIs, are for a CDN or a public bucket.
asio::awaitable<std::vector<stored_file>> presigned_playlists(storage_services& s, const job_context& ctx,
                                                              const publish_request& r) {
    std::vector<stored_file> out;
    std::vector<media::variant> variants;
    for (const auto& result : r.transcodes) {
        if (!result.is_object() || !result.contains("renditions") || !result["renditions"].is_array()) continue;
        for (const auto& d : result["renditions"]) {
            if (!d.is_object() || !d.contains("playlist_key") || !d["playlist_key"].is_string()) continue;
            const std::string& temp_key = d["playlist_key"].get_ref<const std::string&>();
            if (!temp_key.starts_with(r.from_prefix)) throw permanent_error("a rendition playlist outside from_prefix");
            const std::string key = r.to_prefix + temp_key.substr(r.from_prefix.size());
            const std::string folder = key.substr(0, key.rfind('/') + 1);
            auto find = s.catalog().find_by_prefix(folder);
            const auto objects = co_await std::move(find);
            std::map<std::string, const storage::object_record*> by_key;
            for (const auto& o : objects) by_key.emplace(o.record.key, &o.record);
            const auto playlist = by_key.find(key);
            if (playlist == by_key.end()) throw permanent_error("the published playlist " + key + " is not stored");
            auto read = read_small(s, ctx, *playlist->second);
            const std::string text = co_await std::move(read);
            std::string missing;
            auto rewritten = media::rewrite_media_playlist(text, [&](std::string_view uri) {
                const auto it = by_key.find(folder + std::string(uri));
                auto* p = it == by_key.end() ? nullptr : s.providers().find(it->second->provider);
                if (!p) {
                    missing = folder + std::string(uri);
                    return std::string(uri);
                }
                return s.presigns().get(*p, storage::http_method::get, it->first, r.presign_expires);
            });
            if (!rewritten) throw permanent_error(key + ": " + rewritten.error().message);
            if (!missing.empty()) throw permanent_error("the segment " + missing + " of " + key + " is not stored");
            auto put = store_text(s, ctx, r, folder + "playlist.presigned.m3u8", *rewritten,
                                  "application/vnd.apple.mpegurl");
            stored_file stored = co_await std::move(put);
            auto v = media::variant_from_result(d, r.from_prefix + "hls/master.m3u8");
            if (!v) throw permanent_error("a transcode result's rendition: " + v.error().message);
            v->uri = stored.presigned_url;
            variants.push_back(std::move(*v));
            out.push_back(std::move(stored));
        }
    }
    if (variants.empty()) co_return out;
    std::string master;
    try {
        master = media::master_playlist(std::move(variants));
    } catch (const std::invalid_argument& e) {
        throw permanent_error(std::string{"master playlist: "} + e.what());
    }
    auto put = store_text(s, ctx, r, r.to_prefix + "hls/master.presigned.m3u8", master,
                          "application/vnd.apple.mpegurl");
    out.push_back(co_await std::move(put));
    co_return out;
}

json result_of(const publish_request& r, const std::vector<stored_file>& files) {
    json artifacts = json::object();
    std::uint64_t bytes = 0;
    for (const auto& f : files) {
        bytes += f.record.size;
        const std::string relative = f.record.key.substr(r.to_prefix.size());
        if (auto name = artifact_name(relative)) artifacts[*name] = to_json(f);
    }
    return json{{"video_id", r.video_id}, {"artifacts", std::move(artifacts)}, {"objects", files.size()}, {"bytes", bytes}};
}

asio::awaitable<json> run_publish(std::shared_ptr<storage_services> services, job_context& ctx) {
    storage_services& s = *services;
    const publish_request r = parse(ctx.payload);
    if (r.discard) {
        auto remove = remove_stored_prefix(s, ctx, r.remove_prefix);
        const auto removed = co_await std::move(remove);
        spdlog::info("publish {}: discarded {} temp objects ({} bytes) of pipeline {}", ctx.id, removed.objects,
                     removed.bytes, r.pipeline);
        co_return json{{"removed_objects", removed.objects}, {"freed_bytes", removed.bytes}};
    }
    if (!r.to_prefix.starts_with("processed/")) throw permanent_error("payload.to_prefix must be under processed/");
    auto cleanup = abort_uploads_left_open(s, ctx);  // a master playlist's upload, left by a kill
    co_await std::move(cleanup);
    auto move = move_outputs(s, ctx, r);
    auto files = co_await std::move(move);
    auto original = publish_original(s, ctx, r);
    files.push_back(co_await std::move(original));
    if (r.write_master) {
        auto master = write_master(s, ctx, r);
        files.push_back(co_await std::move(master));
    }
    auto presign = presigned_playlists(s, ctx, r);
    auto presigned = co_await std::move(presign);
    for (auto& f : presigned) files.push_back(std::move(f));
    auto remove = remove_stored_prefix(s, ctx, r.remove_prefix);
    const auto leftovers = co_await std::move(remove);
    if (leftovers.objects > 0)
        spdlog::info("publish {}: removed {} more temp objects of pipeline {}", ctx.id, leftovers.objects, r.pipeline);
    co_return result_of(r, files);
}

}  // namespace

std::optional<std::string> artifact_name(std::string_view rel) {
    const auto slash = rel.find('/');
    if (slash == std::string_view::npos) {
        if (rel == "metadata.json") return "metadata";
        return std::nullopt;
    }
    const auto folder = rel.substr(0, slash);
    const auto rest = rel.substr(slash + 1);
    if (folder == "raw" && rest.starts_with("video_original")) return "original";
    if (folder == "audio" && rest.starts_with("audio.")) return "audio";
    if (folder == "hls" && rest == "master.presigned.m3u8") return "hls_master";
    if (folder == "hls" && rest == "master.m3u8") return "hls_master_relative";
    if (folder == "thumbnails") {
        if (rest.ends_with(".vtt")) return "thumbnails_vtt";
        if (rest.starts_with("poster.")) return "thumbnails";
        if (rest.starts_with("sprite.")) return "thumbnails_sprite";
        return std::nullopt;
    }
    if (rest == "segments/playlist.presigned.m3u8") return "hls_" + std::string{folder};
    if (rest.starts_with("video_" + std::string{folder} + ".")) return std::string{folder};
    return std::nullopt;
}

job_type publish_job_type(std::shared_ptr<storage_services> services) {
    return job_type{.name = "publish",
                    .handler = [services](job_context& ctx) { return run_publish(services, ctx); },
                    .max_attempts = 5,
                    .timeout = std::chrono::hours(1),
                    .retry_base = std::chrono::seconds(2),
                    .retry_cap = std::chrono::minutes(5)};
}

void register_publish_job(job_registry& registry, std::shared_ptr<storage_services> services) {
    registry.add(publish_job_type(std::move(services)));
}

}  // namespace wharf::worker
