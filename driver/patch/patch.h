// Patching candidate sources: the EVOLVE block, SEARCH/REPLACE edits from an LLM answer, and the
// normalized form used to recognise identical candidates.
//
// Only the text between "// EVOLVE-BLOCK-START" and "// EVOLVE-BLOCK-END" may change. An edit that
// does not apply, or that would change anything outside the block, is rejected with a reason.
#pragma once

#include <string>

#include "util/status.h"

namespace adrs {

// Byte range [begin, end) of the block's body: after the START marker's line, before the END
// marker's line. Fails when the markers are missing, repeated or out of order.
struct EvolveBlock {
  size_t begin = 0;
  size_t end = 0;
};
Status find_evolve_block(const std::string& source, EvolveBlock* block);

// Why a patch was rejected: stable codes stored in the run database and fed back to the LLM.
enum class PatchError {
  kNone,
  kNoEdits,          // the answer holds no SEARCH/REPLACE block and no EVOLVE block / code
  kSearchNotFound,   // a SEARCH text matches nowhere (even ignoring whitespace differences)
  kAmbiguousSearch,  // a SEARCH text matches more than one place
  kOutsideBlock,     // an edit touches text outside the EVOLVE block
  kMarkersBroken,    // the result lost or duplicated an EVOLVE marker
  kTruncated,        // the answer was cut off (finish_reason length) or a block is unterminated
  kNoChange,         // the result equals the parent
};
const char* patch_error_name(PatchError error);

struct PatchResult {
  PatchError error = PatchError::kNone;
  std::string message;  // for the user and for fix-up prompts; names the failing edit
  std::string source;   // the patched source when error is kNone
  int edits_applied = 0;
  bool ok() const { return error == PatchError::kNone; }
};

// Applies an LLM answer to `parent`: SEARCH/REPLACE blocks (fenced or not, CRLF or LF, tabs or
// spaces), or a whole new EVOLVE block body, or a whole file whose text outside the block equals
// the parent's.
PatchResult apply_llm_answer(const std::string& parent, const std::string& answer);

// Replaces the EVOLVE block body of `parent` with `body`.
PatchResult replace_evolve_block(const std::string& parent, const std::string& body);

// The EVOLVE block body of `source` ("" when it has none).
std::string evolve_block_body(const std::string& source);

// Canonical text for deduplication: comments stripped, whitespace runs collapsed, line endings
// unified. Two candidates with the same normalized source are the same candidate.
std::string normalize_source(const std::string& source);

}  // namespace adrs
