#include "driver/run/run_hints.h"

namespace adrs {

Status current_hint(const RunDb& db, RunHint* hint) {
  nlohmann::json events;
  if (Status s = db.list_events(&events); !s.ok()) return s;
  *hint = RunHint{};
  int given = 0;
  for (const nlohmann::json& e : events) {
    const std::string kind = e.value("kind", "");
    if (kind == "hint") *hint = {++given, e.value("detail", "")};
    else if (kind == "hint_clear") *hint = RunHint{};
  }
  return Status::Ok();
}

Status add_hint(RunDb& db, const std::string& text, RunHint* added) {
  if (text.find_first_not_of(" \t\n") == std::string::npos)
    return Status::Error("the hint is empty; give the note in quotes, e.g. adrs hint my-run \"try sampling the residual keys\"");
  if (text.size() > kMaxHintBytes)
    return Status::Error("the hint is " + std::to_string(text.size()) + " bytes; the limit is " + std::to_string(kMaxHintBytes) +
                         " (it goes into every prompt): shorten it");
  for (unsigned char c : text)
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
      return Status::Error("the hint contains a control character; use plain text (newlines are fine)");
  if (Status s = db.add_event("hint", text); !s.ok()) return s;
  return current_hint(db, added);
}

Status clear_hint(RunDb& db) { return db.add_event("hint_clear", ""); }

RunHint hint_of_request(const std::string& request_json) {
  const nlohmann::json j = nlohmann::json::parse(request_json.empty() ? "{}" : request_json, nullptr, false);
  if (!j.is_object() || !j.contains("hint") || !j["hint"].is_object()) return {};
  return {j["hint"].value("number", 0), j["hint"].value("text", "")};
}

}  // namespace adrs
