#include "driver/report/report_page.h"

namespace adrs {

// The script that draws the page (driver/report/report_script.cc).
extern const char* const kReportScript;

namespace {

const char* const kHead = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>adrs report</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
  header { background: #1d2330; color: #fff; padding: 14px 24px; }
  header h1 { margin: 0; font-size: 20px; }
  header .sub { color: #b8c0d0; margin-top: 4px; }
  main { padding: 8px 24px 40px; max-width: 1400px; }
  section { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; margin: 16px 0; padding: 12px 16px; }
  section h2 { font-size: 16px; margin: 2px 0 8px; }
  .note { color: #5a6272; }
  .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 6px 18px; }
  .facts div span { color: #5a6272; }
  table { border-collapse: collapse; }
  th, td { text-align: right; padding: 3px 10px; border-bottom: 1px solid #eceef2; }
  th:first-child, td:first-child { text-align: left; }
  svg { display: block; }
  svg text { font: 11px system-ui, sans-serif; fill: #333; }
  .axis line, .axis path { stroke: #888; }
  .grid line { stroke: #eceef2; }
  .legend span { display: inline-block; margin-right: 14px; }
  .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; vertical-align: -1px; }
  .scroll { overflow: auto; max-height: 640px; border: 1px solid #eceef2; }
  .split { display: grid; grid-template-columns: minmax(0, 3fr) minmax(280px, 2fr); gap: 14px; }
  #details pre { background: #f6f7f9; padding: 8px; overflow: auto; max-height: 420px; font: 12px ui-monospace, monospace; }
  #details .add { color: #116329; } #details .del { color: #a40e26; }
  .node { cursor: pointer; }
  .node.selected { stroke: #000; stroke-width: 2px; }
  #errors { color: #a40e26; white-space: pre-wrap; }
</style>
</head>
<body data-rendered="0" data-errors="0">
<header><h1 id="title">adrs report</h1><div class="sub" id="subtitle"></div></header>
<main>
<div id="errors"></div>
<section><h2>Run</h2><div class="facts" id="facts"></div><p class="note" id="explanation"></p></section>
<section><h2>Score by candidate</h2>
  <p class="note">Every evaluated candidate (dots, colored by island) and the best so far (lines: black over all islands,
  colored per island). The y axis is error + penalty = &minus;score on a log scale: lower is better.</p>
  <div id="plot-progress"></div><div class="legend" id="legend-progress"></div></section>
<section><h2>Lineage</h2>
  <p class="note">Every candidate under its parent (dashed: the second parent of a crossover). Color: error + penalty
  of evaluated candidates (green is better); grey: failed, filtered or duplicate. The path to the best is thick. Click
  a node for its metrics and the diff against its parent.</p>
  <div class="split"><div class="scroll" id="plot-lineage"></div><div id="details"><p class="note">No node selected.</p></div></div></section>
<section><h2>Error against density</h2>
  <p class="note">Candidates (dots) beside the baseline maskers scored at the run's setting (diamonds); the dashed line is
  the target density, past which the penalty applies.</p>
  <div id="plot-scatter"></div><div class="note" id="baseline-note"></div><div id="baseline-table"></div></section>
<section><h2>Failures by reason over the run</h2>
  <p class="note">Candidates that did not evaluate, per reason, in bins of consecutive candidate ids.</p>
  <div id="plot-failures"></div><div class="legend" id="legend-failures"></div></section>
<section><h2>LLM usage per model</h2><div id="llm"></div></section>
<section><h2>Held-out evaluation</h2><div id="heldout"></div></section>
</main>
<script type="application/json" id="adrs-data">)HTML";

const char* const kMiddle = R"HTML(</script>
<script>
)HTML";

const char* const kTail = R"HTML(
</script>
</body>
</html>
)HTML";

}  // namespace

std::string json_for_script(const nlohmann::json& data) {
  const std::string text = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (char c : text) {
    switch (c) {
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_report_page(const nlohmann::json& data) {
  return std::string(kHead) + json_for_script(data) + kMiddle + kReportScript + kTail;
}

}  // namespace adrs
