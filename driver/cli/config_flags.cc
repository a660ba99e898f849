#include "driver/cli/config_flags.h"

namespace adrs {

void ConfigFlags::add_to(CLI::App* command, bool only_changeable) {
  for (const ConfigKey& k : config_keys()) {
    std::vector<std::string>* slot = &values_[k.section + "." + k.name];
    // The default goes in the text, not default_str(): CLI11 would give it to a bare --cascade.
    const nlohmann::json fallback = k.get(RunConfig());
    const std::string shown = json_text(fallback);
    CLI::Option* option = command->add_option(k.flag(), *slot, k.help + " [" + k.section + "." + k.name +
                                                                   (shown.empty() ? "" : ", default " + shown) + "]");
    option->expected(0, 1)->type_name(fallback.is_boolean() ? "BOOL" : fallback.is_number_integer() ? "INT"
                                      : fallback.is_number() || fallback == "none"        ? "REAL" : "TEXT");
    // Keys resume cannot change stay accepted there (so the refusal can list the difference) but
    // are listed apart, saying so. (A hidden CLI11 option is not parsed at all.)
    option->group(!only_changeable                ? "Config keys (override the TOML file)"
                  : k.changeable_on_resume ? "Config keys resume may change (stop conditions, resource limits)"
                                           : "Config keys that define the search (resume refuses a change)");
    options_.push_back({&k, option});
  }
}

Status ConfigFlags::apply(RunConfig* config) const {
  for (const auto& [key, option] : options_) {
    if (option->count() == 0) continue;
    const std::vector<std::string>& given = values_.at(key->section + "." + key->name);
    // A bare boolean flag (--cascade) means true; any other bare flag lacks its value.
    const bool bare = given.empty() || given.back().empty();
    const bool is_bool = key->get(RunConfig()).is_boolean();
    if (bare && !is_bool) return Status::Error(key->flag() + " needs a value, e.g. " + key->flag() + " " + json_text(key->get(RunConfig())));
    const std::string text = bare ? "true" : given.back();
    if (Status s = key->set(*config, text); !s.ok()) return Status::Error(key->flag() + ": " + s.message());
  }
  return Status::Ok();
}

}  // namespace adrs
