// The storage tiers wharf knows (the catalog's objects.tier): what a provider maps to its own
// classes (S3 storage classes, Azure access tiers, the local provider's cold folder).
#pragma once

namespace wharf::storage {

enum class tier { hot, warm, cold };

}  // namespace wharf::storage
