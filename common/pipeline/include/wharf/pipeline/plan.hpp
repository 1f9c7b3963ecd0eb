// Where a pipeline advances: the submission's validation and the state machine that decides, from
// the steps recorded so far, which steps run next and when the pipeline is over. Pure: no I/O, so
// every transition is unit-tested (tests/unit/pipeline). store.hpp runs it inside the transaction
// that records a step's end; the worker enqueues what it decides.
//
// A pipeline is   ingest -> transcode -> publish   with a deterministic job id per step,
// "<pipeline>:<step>", so a step enqueued twice (a crash between recording and enqueueing, a
// re-delivered end) runs once:
//  - ingest: `download` (source {"url"}) or `upload` (a local path on the worker that runs the
//    upload queue) into temp/<pipeline>/source<ext>; none for a source that is a stored object;
//  - transcode: one `transcode` job, or with fan_out one per rendition ("transcode.360p"; the first
//    also makes the audio, thumbnails and metadata), all into temp/<pipeline>/out/;
//  - publish: one `publish` job that moves the outputs and the original under
//    processed/<video_id>/, records and presigns them, and removes the pipeline's temp objects.
// A failed step fails the pipeline (the error names the step) and asks the steps still running to
// stop; a cancel does the same. Once no step is left running, a `discard` step (queue publish)
// removes the pipeline's temp objects. A source whose SHA-256 the same tenant already processed
// finishes the pipeline at once with duplicate: true and the original's outputs.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace wharf::pipeline {

inline constexpr std::string_view queue_name = "pipeline";
inline constexpr std::string_view publish_queue = "publish";
// A pipeline id is a job id short enough for its steps' ids ("<id>:transcode.<rendition>") to be
// job ids too (128 characters at most).
inline constexpr std::size_t max_pipeline_id = 96;

struct stored_source {
    std::string provider, key;
    std::optional<std::string> sha256;
    std::optional<std::uint64_t> size;
};

// A validated submission (the `pipeline` job's payload).
struct spec {
    std::string id;                    // the pipeline job's id
    std::optional<std::string> api_key;
    std::string video_id;              // outputs go under processed/<video_id>/
    // The source: a URL, a local path, or a stored object.
    std::optional<std::string> url;
    std::optional<std::string> path;
    std::optional<stored_source> stored;
    std::vector<std::string> renditions;  // empty: the transcode job's configured ladder
    bool fan_out = false;
    std::optional<std::string> provider;
    std::optional<std::int64_t> presign_expires;
    nlohmann::json download = nlohmann::json::object();   // passed to the download step (checks)
    nlohmann::json transcode = nlohmann::json::object();  // passed to the transcode step(s) (options)
};

// Parses the payload of a `pipeline` job. Returns a readable reason for a bad one.
std::variant<spec, std::string> parse_spec(const nlohmann::json& payload, std::string_view id,
                                           const std::optional<std::string>& api_key);
nlohmann::json to_json(const spec& s);
// The inverse of to_json, for a spec read back from the database (throws std::runtime_error).
spec spec_from_json(const nlohmann::json& j);

enum class step_state { queued, succeeded, failed, cancelled };
std::string_view to_string(step_state s) noexcept;

// One step as recorded: what was enqueued, and how it ended.
struct step {
    std::string name;      // "ingest", "transcode", "transcode.360p", "publish", "discard"
    std::string queue;     // download | upload | transcode | publish
    std::string job_id;    // "<pipeline>:<name>"
    nlohmann::json payload;
    step_state state = step_state::queued;
    nlohmann::json result;  // when succeeded
    std::optional<std::string> error;
};

enum class pipeline_state { running, succeeded, failed, cancelled };
std::string_view to_string(pipeline_state s) noexcept;
std::optional<pipeline_state> pipeline_state_from_string(std::string_view s) noexcept;
inline bool is_final(pipeline_state s) noexcept { return s != pipeline_state::running; }

struct state {
    spec submission;
    pipeline_state status = pipeline_state::running;
    std::map<std::string, step> steps;  // by name
    std::optional<stored_source> source;  // the ingested (or given) source, once known
    nlohmann::json result;                // when succeeded
    std::optional<std::string> error;     // when failed
};
nlohmann::json steps_to_json(const state& s);  // pipelines.steps
void steps_from_json(state& s, const nlohmann::json& steps);

// A succeeded pipeline of the same tenant with the same source bytes, when there is one.
struct original {
    std::string pipeline_id;
    nlohmann::json result;
};

// What the caller must do after a transition, besides saving the state.
struct actions {
    std::vector<const step*> enqueue;  // every step still queued (re-enqueueing is harmless)
    std::vector<const step*> cancel;   // steps still running that must stop
    bool finished = false;             // the pipeline reached a final state in this transition
};

// The state of a new submission: its first step(s), or finished at once when the source is a
// stored object with a SHA-256 that `duplicate` says was processed already.
state start(spec s, const std::optional<original>& duplicate);
// A step of `st` ended (its job is final). Recording the same end twice changes nothing.
// `duplicate`: the lookup the caller made for the source's SHA-256 (see needs_duplicate_lookup).
actions on_step_end(state& st, std::string_view step_name, step_state how, const nlohmann::json& result,
                    const std::optional<std::string>& error, const std::optional<original>& duplicate);
// The SHA-256 to look up before on_step_end (the ingest step succeeded and reports it), if any.
std::optional<std::string> needs_duplicate_lookup(const state& st, std::string_view step_name, step_state how,
                                                  const nlohmann::json& result);
// An operator cancelled the pipeline (a no-op when it is already final).
actions cancel(state& st);
// The steps to (re-)enqueue and cancel as things stand, without a transition (repairs).
actions pending_actions(const state& st);

// The step a job id names ("<pipeline>:<step>"), if it is one of st's.
std::optional<std::string> step_of_job(const state& st, std::string_view queue, std::string_view job_id);

// The pipeline's progress for its jobs row: {"step": current, "steps": {name: state}}.
nlohmann::json progress_json(const state& st);

}  // namespace wharf::pipeline
