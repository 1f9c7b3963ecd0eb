// The queue error category.
#include "wharf/queue/error.hpp"

namespace wharf::queue {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "wharf.queue"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::error_reply: return "Redis returned an error reply";
            case errc::unexpected_reply: return "unexpected Redis reply";
            case errc::invalid_queue_name: return "invalid queue name";
        }
        return "unknown queue error";
    }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace wharf::queue
