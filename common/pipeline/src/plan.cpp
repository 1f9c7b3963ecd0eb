// The pipeline state machine (see plan.hpp).
#include "wharf/pipeline/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace wharf::pipeline {
namespace {

using json = nlohmann::json;

constexpr std::string_view ingest_step = "ingest";
constexpr std::string_view transcode_step = "transcode";
constexpr std::string_view publish_step = "publish";
constexpr std::string_view discard_step = "discard";

bool valid_name(std::string_view s, std::size_t max) {
    if (s.empty() || s.size() > max) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

// Job ids: [A-Za-z0-9._:-] (the envelope's rule).
bool valid_job_id(std::string_view s, std::size_t max) {
    if (s.empty() || s.size() > max) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ':' || valid_name(std::string_view{&c, 1}, 1); });
}

// The extension of a name or URL path ("clip.mp4" -> ".mp4"), when it is a short plain one.
std::string extension_of(std::string_view path) {
    if (auto q = path.find_first_of("?#"); q != std::string_view::npos) path = path.substr(0, q);
    const auto slash = path.rfind('/');
    const auto name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const auto dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return "";
    const auto ext = name.substr(dot + 1);
    if (ext.empty() || ext.size() > 8) return "";
    std::string out = ".";
    for (char c : ext) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return "";
        out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    return out;
}

std::string temp_prefix(const spec& s) { return "temp/" + s.id + "/"; }
std::string out_prefix(const spec& s) { return temp_prefix(s) + "out/"; }

json common_fields(const spec& s) {
    json p = json::object();
    if (s.provider) p["provider"] = *s.provider;
    if (s.presign_expires) p["presign_expires"] = *s.presign_expires;
    return p;
}

step make_step(const spec& s, std::string name, std::string queue, json payload) {
    step st;
    st.job_id = s.id + ":" + name;
    st.name = std::move(name);
    st.queue = std::move(queue);
    st.payload = std::move(payload);
    return st;
}

void add(state& st, step s) {
    const std::string name = s.name;
    st.steps.emplace(name, std::move(s));  // never replaces: a step is decided once
}

json source_json(const stored_source& src) {
    json j{{"provider", src.provider}, {"key", src.key}};
    if (src.sha256) j["sha256"] = *src.sha256;
    if (src.size) j["size"] = *src.size;
    return j;
}

void add_ingest(state& st) {
    const spec& s = st.submission;
    json p = common_fields(s);
    if (s.url) {
        p.update(s.download);
        p["url"] = *s.url;
        p["key"] = temp_prefix(s) + "source" + extension_of(*s.url);
        p["video_id"] = s.video_id;
        add(st, make_step(s, std::string{ingest_step}, "download", std::move(p)));
    } else {
        p["source"] = *s.path;
        p["key"] = temp_prefix(s) + "source" + extension_of(*s.path);
        add(st, make_step(s, std::string{ingest_step}, "upload", std::move(p)));
    }
}

void add_transcodes(state& st) {
    const spec& s = st.submission;
    json base = common_fields(s);
    base.update(s.transcode);
    base["source"] = source_json(*st.source);
    base["video_id"] = s.video_id;
    base["output_prefix"] = out_prefix(s);
    if (!s.fan_out) {
        json p = base;
        if (!s.renditions.empty()) p["renditions"] = s.renditions;
        add(st, make_step(s, std::string{transcode_step}, "transcode", std::move(p)));
        return;
    }
    // Fan-out: one job per rendition (same keyframe settings, so segments align); the first also
    // makes the audio, thumbnails and metadata. Publish writes the master playlist from their
    // results.
    bool first = true;
    for (const auto& r : s.renditions) {
        json p = base;
        p["renditions"] = json::array({r});
        p["master"] = false;
        if (!first) {
            p["audio"] = false;
            p["thumbnails"] = false;
            p["metadata"] = false;
        }
        first = false;
        add(st, make_step(s, std::string{transcode_step} + "." + r, "transcode", std::move(p)));
    }
}

bool is_transcode(std::string_view name) { return name == transcode_step || name.starts_with("transcode."); }

void add_publish(state& st) {
    const spec& s = st.submission;
    json p = common_fields(s);
    p["pipeline"] = s.id;
    p["video_id"] = s.video_id;
    p["from_prefix"] = out_prefix(s);
    p["to_prefix"] = "processed/" + s.video_id + "/";
    p["remove_prefix"] = temp_prefix(s);
    json original = source_json(*st.source);
    original["to"] = "processed/" + s.video_id + "/raw/video_original" + extension_of(st.source->key);
    p["original"] = std::move(original);
    json transcodes = json::array();
    for (const auto& [name, stp] : st.steps)
        if (is_transcode(name)) transcodes.push_back(stp.result);
    p["transcodes"] = std::move(transcodes);
    p["write_master"] = s.fan_out;
    add(st, make_step(s, std::string{publish_step}, std::string{publish_queue}, std::move(p)));
}

bool any_running(const state& st) {
    return std::any_of(st.steps.begin(), st.steps.end(), [](const auto& kv) { return kv.second.state == step_state::queued; });
}

// The pipeline's temp objects go once nothing that may still write them runs.
void maybe_discard(state& st) {
    if (st.status == pipeline_state::running || st.steps.contains(std::string{discard_step})) return;
    if (st.status == pipeline_state::succeeded && st.steps.contains(std::string{publish_step})) return;  // publish did
    if (any_running(st)) return;
    const bool has_temp = st.steps.contains(std::string{ingest_step}) || std::any_of(st.steps.begin(), st.steps.end(),
                                                                                   [](const auto& kv) { return is_transcode(kv.first); });
    if (!has_temp) return;
    json p = common_fields(st.submission);
    p["pipeline"] = st.submission.id;
    p["discard"] = true;
    p["remove_prefix"] = temp_prefix(st.submission);
    add(st, make_step(st.submission, std::string{discard_step}, std::string{publish_queue}, std::move(p)));
}

void finish_duplicate(state& st, const original& o) {
    st.status = pipeline_state::succeeded;
    st.result = o.result;
    st.result["duplicate"] = true;
    st.result["original_pipeline"] = o.pipeline_id;
}

std::optional<stored_source> source_from_result(const json& r) {
    if (!r.is_object()) return std::nullopt;
    const auto text = [&](const char* k) -> std::optional<std::string> {
        if (r.contains(k) && r[k].is_string() && !r[k].get_ref<const std::string&>().empty()) return r[k].get<std::string>();
        return std::nullopt;
    };
    auto provider = text("provider"), key = text("key"), sha = text("sha256");
    if (!provider || !key || !sha) return std::nullopt;
    stored_source s{*provider, *key, sha, std::nullopt};
    if (r.contains("size") && r["size"].is_number_unsigned()) s.size = r["size"].get<std::uint64_t>();
    return s;
}

}  // namespace

std::string_view to_string(step_state s) noexcept {
    switch (s) {
        case step_state::queued: return "queued";
        case step_state::succeeded: return "succeeded";
        case step_state::failed: return "failed";
        case step_state::cancelled: return "cancelled";
    }
    return "queued";
}

std::string_view to_string(pipeline_state s) noexcept {
    switch (s) {
        case pipeline_state::running: return "running";
        case pipeline_state::succeeded: return "succeeded";
        case pipeline_state::failed: return "failed";
        case pipeline_state::cancelled: return "cancelled";
    }
    return "running";
}

std::optional<pipeline_state> pipeline_state_from_string(std::string_view s) noexcept {
    for (auto p : {pipeline_state::running, pipeline_state::succeeded, pipeline_state::failed, pipeline_state::cancelled})
        if (to_string(p) == s) return p;
    return std::nullopt;
}

std::variant<spec, std::string> parse_spec(const json& p, std::string_view id, const std::optional<std::string>& api_key) {
    if (!p.is_object()) return std::string{"payload must be a JSON object"};
    if (!valid_job_id(id, max_pipeline_id))
        return fmt::format("a pipeline id is at most {} characters of [A-Za-z0-9._:-] (its steps' ids add to it)",
                           max_pipeline_id);
    spec s;
    s.id = std::string{id};
    s.api_key = api_key;
    if (p.contains("api_key") && !p["api_key"].is_null()) {
        if (!p["api_key"].is_string()) return std::string{"payload.api_key must be a string"};
        if (api_key && *api_key != p["api_key"].get<std::string>())
            return std::string{"payload.api_key differs from the envelope's api_key"};
        s.api_key = p["api_key"].get<std::string>();
    }
    if (!p.contains("source")) return std::string{"payload.source is required: {\"url\"}, {\"provider\", \"key\"} or a local path"};
    const json& src = p["source"];
    if (src.is_string()) {
        const auto& path = src.get_ref<const std::string&>();
        if (path.empty() || path.front() != '/') return std::string{"payload.source: a local path must be absolute"};
        s.path = path;
    } else if (src.is_object() && src.contains("url")) {
        if (!src["url"].is_string() || src["url"].get_ref<const std::string&>().empty())
            return std::string{"payload.source.url must be a non-empty string"};
        s.url = src["url"].get<std::string>();
    } else if (src.is_object() && src.contains("provider") && src.contains("key")) {
        if (!src["provider"].is_string() || !src["key"].is_string())
            return std::string{"payload.source.provider and .key must be strings"};
        stored_source st{src["provider"].get<std::string>(), src["key"].get<std::string>(), std::nullopt, std::nullopt};
        if (src.contains("sha256") && !src["sha256"].is_null()) {
            const json& h = src["sha256"];
            if (!h.is_string() || h.get_ref<const std::string&>().size() != 64 ||
                !std::all_of(h.get_ref<const std::string&>().begin(), h.get_ref<const std::string&>().end(),
                             [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
                return std::string{"payload.source.sha256 must be 64 lower-case hex digits"};
            st.sha256 = h.get<std::string>();
        }
        s.stored = std::move(st);
    } else {
        return std::string{"payload.source must be {\"url\"}, {\"provider\", \"key\"} or a local path"};
    }
    s.video_id = s.id;
    if (p.contains("video_id") && !p["video_id"].is_null()) {
        if (!p["video_id"].is_string()) return std::string{"payload.video_id must be a string"};
        s.video_id = p["video_id"].get<std::string>();
    }
    if (!valid_name(s.video_id, 128) || s.video_id.find_first_not_of('.') == std::string::npos)
        return std::string{"payload.video_id: 1-128 characters of [A-Za-z0-9._-] (it is a key segment)"};
    if (p.contains("renditions") && !p["renditions"].is_null()) {
        if (!p["renditions"].is_array() || p["renditions"].empty() || p["renditions"].size() > 16)
            return std::string{"payload.renditions must be a list of 1 to 16 rendition names"};
        for (const auto& r : p["renditions"]) {
            if (!r.is_string() || !valid_name(r.get_ref<const std::string&>(), 16) ||
                r.get_ref<const std::string&>().find('.') != std::string::npos)
                return std::string{"payload.renditions: names of 1-16 characters of [A-Za-z0-9_-]"};
            if (std::find(s.renditions.begin(), s.renditions.end(), r.get<std::string>()) != s.renditions.end())
                return "payload.renditions: " + r.get<std::string>() + " is listed twice";
            s.renditions.push_back(r.get<std::string>());
        }
    }
    if (p.contains("fan_out") && !p["fan_out"].is_null()) {
        if (!p["fan_out"].is_boolean()) return std::string{"payload.fan_out must be true or false"};
        s.fan_out = p["fan_out"].get<bool>();
        if (s.fan_out && s.renditions.empty())
            return std::string{"payload.fan_out needs payload.renditions: one transcode job runs per rendition"};
    }
    if (p.contains("provider") && !p["provider"].is_null()) {
        if (!p["provider"].is_string()) return std::string{"payload.provider must be a string"};
        s.provider = p["provider"].get<std::string>();
    }
    if (p.contains("presign_expires") && !p["presign_expires"].is_null()) {
        if (!p["presign_expires"].is_number_integer()) return std::string{"payload.presign_expires must be an integer"};
        s.presign_expires = p["presign_expires"].get<std::int64_t>();
    }
    for (const char* k : {"download", "transcode"}) {
        if (!p.contains(k) || p[k].is_null()) continue;
        if (!p[k].is_object()) return fmt::format("payload.{} must be an object of options for that step", k);
        for (const char* fixed : {"source", "key", "url", "video_id", "output_prefix", "renditions"})
            if (p[k].contains(fixed)) return fmt::format("payload.{}.{} is set by the pipeline", k, fixed);
        (std::string_view{k} == "download" ? s.download : s.transcode) = p[k];
    }
    if (!s.url && !s.download.empty()) return std::string{"payload.download applies to a URL source only"};
    return s;
}

json to_json(const spec& s) {
    json j{{"id", s.id}, {"video_id", s.video_id}, {"fan_out", s.fan_out}, {"renditions", s.renditions},
           {"download", s.download}, {"transcode", s.transcode}};
    if (s.api_key) j["api_key"] = *s.api_key;
    if (s.url) j["source"] = json{{"url", *s.url}};
    if (s.path) j["source"] = *s.path;
    if (s.stored) j["source"] = source_json(*s.stored);
    if (s.provider) j["provider"] = *s.provider;
    if (s.presign_expires) j["presign_expires"] = *s.presign_expires;
    return j;
}

spec spec_from_json(const json& j) {
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string())
        throw std::runtime_error("pipelines.spec is not a pipeline spec");
    std::optional<std::string> api_key;
    if (j.contains("api_key") && j["api_key"].is_string()) api_key = j["api_key"].get<std::string>();
    json payload = j;
    payload.erase("id");
    payload.erase("api_key");
    if (payload.contains("renditions") && payload["renditions"].empty()) payload.erase("renditions");
    auto parsed = parse_spec(payload, j["id"].get<std::string>(), api_key);
    if (auto* why = std::get_if<std::string>(&parsed)) throw std::runtime_error("pipelines.spec: " + *why);
    return std::get<spec>(std::move(parsed));
}

json steps_to_json(const state& st) {
    json out = json::object();
    for (const auto& [name, s] : st.steps) {
        json j{{"queue", s.queue}, {"job", s.job_id}, {"status", to_string(s.state)}, {"payload", s.payload}};
        if (!s.result.is_null()) j["result"] = s.result;
        if (s.error) j["error"] = *s.error;
        out[name] = std::move(j);
    }
    return out;
}

void steps_from_json(state& st, const json& steps) {
    st.steps.clear();
    if (!steps.is_object()) throw std::runtime_error("pipelines.steps is not an object");
    for (auto it = steps.begin(); it != steps.end(); ++it) {
        const json& j = it.value();
        step s;
        s.name = it.key();
        s.queue = j.value("queue", "");
        s.job_id = j.value("job", "");
        s.payload = j.value("payload", json::object());
        const std::string state_name = j.value("status", "queued");
        s.state = state_name == "succeeded" ? step_state::succeeded
                  : state_name == "failed"  ? step_state::failed
                  : state_name == "cancelled" ? step_state::cancelled
                                              : step_state::queued;
        if (j.contains("result")) s.result = j["result"];
        if (j.contains("error") && j["error"].is_string()) s.error = j["error"].get<std::string>();
        st.steps.emplace(s.name, std::move(s));
    }
    // The source: given with the submission, or what the ingest step stored.
    st.source.reset();
    if (st.submission.stored) st.source = *st.submission.stored;
    if (auto in = st.steps.find(std::string{ingest_step}); in != st.steps.end() && in->second.state == step_state::succeeded)
        st.source = source_from_result(in->second.result);
}

state start(spec s, const std::optional<original>& duplicate) {
    state st;
    st.submission = std::move(s);
    if (st.submission.stored) {
        st.source = *st.submission.stored;
        if (duplicate && st.source->sha256) {
            finish_duplicate(st, *duplicate);
            return st;
        }
        add_transcodes(st);
    } else {
        add_ingest(st);
    }
    return st;
}

std::optional<std::string> needs_duplicate_lookup(const state& st, std::string_view step_name, step_state how,
                                                  const json& result) {
    if (st.status != pipeline_state::running || step_name != ingest_step || how != step_state::succeeded) return std::nullopt;
    if (auto src = source_from_result(result)) return src->sha256;
    return std::nullopt;
}

actions pending_actions(const state& st) {
    actions a;
    for (const auto& [name, s] : st.steps) {
        if (s.state != step_state::queued) continue;
        a.enqueue.push_back(&s);
        if (st.status == pipeline_state::failed || st.status == pipeline_state::cancelled) a.cancel.push_back(&s);
    }
    // A discard is never cancelled: it is the clean-up.
    std::erase_if(a.cancel, [](const step* s) { return s->name == discard_step; });
    return a;
}

actions on_step_end(state& st, std::string_view step_name, step_state how, const json& result,
                    const std::optional<std::string>& error, const std::optional<original>& duplicate) {
    auto it = st.steps.find(std::string{step_name});
    if (it == st.steps.end() || it->second.state != step_state::queued || how == step_state::queued)
        return pending_actions(st);  // not ours, or recorded already: only repair
    step& done = it->second;
    done.state = how;
    done.result = how == step_state::succeeded ? result : json();
    done.error = error;
    const auto before = st.status;

    if (st.status == pipeline_state::running) {
        if (how == step_state::failed) {
            st.status = pipeline_state::failed;
            st.error = fmt::format("step {} ({} job {}) failed: {}", done.name, done.queue, done.job_id,
                                   error.value_or("no reason given"));
        } else if (how == step_state::cancelled) {
            st.status = pipeline_state::cancelled;
            st.error = fmt::format("step {} ({} job {}) was cancelled", done.name, done.queue, done.job_id);
        } else if (done.name == ingest_step) {
            auto src = source_from_result(result);
            if (!src) {
                st.status = pipeline_state::failed;
                st.error = "step ingest succeeded without saying where the source is (provider, key, sha256)";
            } else {
                st.source = std::move(src);
                if (duplicate) finish_duplicate(st, *duplicate);
                else add_transcodes(st);
            }
        } else if (is_transcode(done.name)) {
            const bool all_done = std::all_of(st.steps.begin(), st.steps.end(), [](const auto& kv) {
                return !is_transcode(kv.first) || kv.second.state == step_state::succeeded;
            });
            if (all_done) add_publish(st);
        } else if (done.name == publish_step) {
            st.status = pipeline_state::succeeded;
            st.result = result;
            st.result["duplicate"] = false;
        }
    }
    maybe_discard(st);
    actions a = pending_actions(st);
    a.finished = !is_final(before) && is_final(st.status);
    return a;
}

actions cancel(state& st) {
    if (st.status != pipeline_state::running) return pending_actions(st);
    st.status = pipeline_state::cancelled;
    st.error = "cancelled";
    maybe_discard(st);
    actions a = pending_actions(st);
    a.finished = true;
    return a;
}

std::optional<std::string> step_of_job(const state& st, std::string_view queue, std::string_view job_id) {
    for (const auto& [name, s] : st.steps)
        if (s.job_id == job_id && s.queue == queue) return name;
    return std::nullopt;
}

json progress_json(const state& st) {
    json steps = json::object();
    std::string current;
    for (const auto& [name, s] : st.steps) {
        steps[name] = to_string(s.state);
        if (s.state == step_state::queued && current.empty()) current = name;
    }
    return json{{"status", to_string(st.status)}, {"step", current.empty() ? json(nullptr) : json(current)},
                {"steps", std::move(steps)}};
}

}  // namespace wharf::pipeline
