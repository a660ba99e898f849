// The page of `adrs report`: one self-contained HTML file (inline CSS, SVG drawn by a small
// script, the data as JSON in the page; no server, no network) with a run's plots: scores by
// candidate with the best so far per island, the lineage tree (click a node for its metrics and
// diff), error against density beside the baselines, failures by reason over the run, LLM usage
// per model, and held-out results where the run has them.
//
// Safety: the data holds LLM-written text. It is embedded as JSON with every '<', '>' and '&'
// escaped (so it cannot end its script element) and the script only inserts it as text.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace adrs {

// `data` is build_report_data()'s object.
std::string render_report_page(const nlohmann::json& data);

// JSON text that is safe inside <script type="application/json">: invalid UTF-8 replaced, and
// '<', '>', '&' written as \u escapes.
std::string json_for_script(const nlohmann::json& data);

}  // namespace adrs
