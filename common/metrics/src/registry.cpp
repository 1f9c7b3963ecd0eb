#include "wharf/metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace wharf::metrics {

namespace {

constexpr double duration_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,    2.5,
                                      5,     10,   30,    60,   120, 300,  600, 1800, 3600};
constexpr double request_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                     0.5,   1,      2.5,   5,    10,    30,   60};
constexpr std::string_view overflow_value = "other";

bool name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

// Shortest text that reads back as the same double; Prometheus spells the specials its own way.
void append_number(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_escaped(std::string& out, std::string_view s, bool quote) {
    for (char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else if (quote && c == '"') out += "\\\"";
        else out += c;
    }
}

std::string_view type_name(kind k) {
    switch (k) {
    case kind::counter: return "counter";
    case kind::gauge: return "gauge";
    case kind::histogram: return "histogram";
    }
    return "untyped";
}

}  // namespace

std::span<const double> duration_buckets() { return duration_bounds; }
std::span<const double> request_duration_buckets() { return request_bounds; }

bool valid_metric_name(std::string_view name) noexcept {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i)
        if (!name_char(name[i], i == 0) && name[i] != ':') return false;
    return true;
}

bool valid_label_name(std::string_view name) noexcept {
    if (name.empty() || name.starts_with("__") || name == "le") return false;
    for (std::size_t i = 0; i < name.size(); ++i)
        if (!name_char(name[i], i == 0)) return false;
    return true;
}

// ---- histogram ----------------------------------------------------------------------------------

histogram::histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
    if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
        std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
        throw std::invalid_argument("histogram bounds must be strictly ascending");
    for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) noexcept {
    // le: a value equal to a bound belongs to that bound's bucket.
    const auto at = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    buckets_[at].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
    snapshot s;
    s.bounds = bounds_;
    s.cumulative.reserve(bounds_.size() + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

// ---- families -----------------------------------------------------------------------------------

family_base::family_base(std::string name, std::string help, metrics::kind k, std::vector<std::string> label_names,
                         std::size_t max_series)
    : name_(std::move(name)), help_(std::move(help)), kind_(k), label_names_(std::move(label_names)),
      max_series_(std::max<std::size_t>(max_series, 1)) {
    if (!valid_metric_name(name_)) throw std::invalid_argument("bad metric name '" + name_ + "'");
    for (const auto& l : label_names_)
        if (!valid_label_name(l)) throw std::invalid_argument("metric " + name_ + ": bad label name '" + l + "'");
}

std::size_t family_base::series() const {
    std::lock_guard lock(mutex_);
    return size_;
}

std::vector<std::string> family_base::key_for(std::initializer_list<std::string_view> values) const {
    if (values.size() != label_names_.size())
        throw std::invalid_argument("metric " + name_ + ": " + std::to_string(label_names_.size()) +
                                    " label values expected, got " + std::to_string(values.size()));
    return {values.begin(), values.end()};
}

std::string family_base::labels_text(const std::vector<std::string>& values, std::string_view extra) const {
    if (values.empty() && extra.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += label_names_[i];
        out += "=\"";
        append_escaped(out, values[i], true);
        out += '"';
    }
    if (!extra.empty()) {
        if (!values.empty()) out += ',';
        out += extra;
    }
    out += '}';
    return out;
}

void family_base::render(std::string& out) const {
    out += "# HELP ";
    out += name_;
    out += ' ';
    append_escaped(out, help_, false);
    out += "\n# TYPE ";
    out += name_;
    out += ' ';
    out += type_name(kind_);
    out += '\n';
    render_children(out);
}

template <class Metric>
Metric& family<Metric>::make(std::vector<std::string> key) {
    std::lock_guard lock(mutex_);
    auto it = children_.find(key);
    if (it != children_.end()) return *it->second;
    if (size_ >= max_series_) {
        // Full: every new label set shares one child, so the scrape stays bounded.
        key.assign(label_names_.size(), std::string(overflow_value));
        it = children_.find(key);
        if (it != children_.end()) return *it->second;
    }
    std::unique_ptr<Metric> m;
    if constexpr (std::is_same_v<Metric, histogram>) m = std::make_unique<histogram>(bounds_);
    else m = std::make_unique<Metric>();
    auto& ref = *m;
    children_.emplace(std::move(key), std::move(m));
    ++size_;
    return ref;
}

template <class Metric>
Metric& family<Metric>::with(std::initializer_list<std::string_view> values) {
    return make(key_for(values));
}

template <class Metric>
void family<Metric>::render_children(std::string& out) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, m] : children_) {
        if constexpr (std::is_same_v<Metric, histogram>) {
            const auto s = m->read();
            for (std::size_t i = 0; i <= s.bounds.size(); ++i) {
                std::string le = "le=\"";
                if (i < s.bounds.size()) append_number(le, s.bounds[i]);
                else le += "+Inf";
                le += '"';
                out += name_;
                out += "_bucket";
                out += labels_text(values, le);
                out += ' ';
                append_number(out, static_cast<double>(s.cumulative[i]));
                out += '\n';
            }
            out += name_ + "_sum" + labels_text(values) + ' ';
            append_number(out, s.sum);
            out += '\n';
            out += name_ + "_count" + labels_text(values) + ' ';
            append_number(out, static_cast<double>(s.cumulative.back()));
            out += '\n';
        } else {
            out += name_;
            out += labels_text(values);
            out += ' ';
            append_number(out, m->value());
            out += '\n';
        }
    }
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

// ---- registry -----------------------------------------------------------------------------------

template <class Metric>
family<Metric>& registry::find_or_add(std::string_view name, std::string_view help, metrics::kind k,
                                      std::vector<std::string> label_names, std::size_t max_series,
                                      std::span<const double> bounds) {
    std::lock_guard lock(mutex_);
    if (auto it = families_.find(name); it != families_.end()) {
        auto* f = dynamic_cast<family<Metric>*>(it->second.get());
        if (!f || f->label_names() != label_names ||
            !std::equal(f->bounds_.begin(), f->bounds_.end(), bounds.begin(), bounds.end()))
            throw std::logic_error("metric " + std::string(name) + " registered twice with different shapes");
        return *f;
    }
    auto f = std::make_unique<family<Metric>>(std::string(name), std::string(help), k, std::move(label_names),
                                              max_series);
    f->bounds_.assign(bounds.begin(), bounds.end());
    if constexpr (std::is_same_v<Metric, histogram>) [[maybe_unused]] histogram check(bounds);  // throws when bad
    auto& ref = *f;
    families_.emplace(std::string(name), std::move(f));
    return ref;
}

family<counter>& registry::counters(std::string_view name, std::string_view help, std::vector<std::string> labels,
                                    std::size_t max_series) {
    return find_or_add<counter>(name, help, kind::counter, std::move(labels), max_series, {});
}

family<gauge>& registry::gauges(std::string_view name, std::string_view help, std::vector<std::string> labels,
                                std::size_t max_series) {
    return find_or_add<gauge>(name, help, kind::gauge, std::move(labels), max_series, {});
}

family<histogram>& registry::histograms(std::string_view name, std::string_view help, std::span<const double> bounds,
                                        std::vector<std::string> labels, std::size_t max_series) {
    return find_or_add<histogram>(name, help, kind::histogram, std::move(labels), max_series, bounds);
}

bool registry::add_collector(std::string key, std::function<void()> collect) {
    std::lock_guard lock(mutex_);
    for (const auto& c : collectors_)
        if (c.first == key) return false;
    collectors_.emplace_back(std::move(key), std::move(collect));
    return true;
}

std::string registry::render() const {
    std::lock_guard collecting(collect_mutex_);
    std::vector<std::function<void()>> collectors;
    {
        std::lock_guard lock(mutex_);
        for (const auto& c : collectors_) collectors.push_back(c.second);
    }
    for (const auto& c : collectors) c();
    std::string out;
    std::lock_guard lock(mutex_);
    for (const auto& [name, f] : families_)
        if (f->series() > 0) f->render(out);
    return out;
}

std::size_t registry::series() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& [name, f] : families_) n += f->series();
    return n;
}

registry& default_registry() {
    static registry* r = new registry;  // never destroyed: metrics may be updated during exit
    return *r;
}

}  // namespace wharf::metrics
