// Keeps the compiler busy for hours: the block includes its own file twice per level, 60 levels
// deep (2^60 inclusions; memory grows only slowly), so the compile timeout must fire: a candidate
// that "hangs the compiler". (A constexpr loop does not do: newer GCCs stop it at their
// operation limit within a second.)
#include "masker_api.h"

// EVOLVE-BLOCK-START
#if __INCLUDE_LEVEL__ < 60
#include __FILE__
#include __FILE__
#endif
#if __INCLUDE_LEVEL__ == 0
void select(const adrs::Row& row, adrs::Selection& out) { out.add(row.num_keys - 1); }
#endif
// EVOLVE-BLOCK-END
