#include "driver/cli/config_flags.h"

namespace adrs {

void ConfigFlags::add_to(CLI::App* command, bool only_changeable) {
  for (const ConfigKey& k : config_keys()) {
    if (only_changeable && !k.changeable_on_resume) continue;
    std::vector<std::string>* slot = &values_[k.section + "." + k.name];
    CLI::Option* option = command->add_option(k.flag(), *slot, k.help + " [" + k.section + "." + k.name + "]");
    option->expected(0, 1)->group("Config keys (override the TOML file)");
    options_.push_back({&k, option});
  }
}

bool ConfigFlags::any_given() const {
  for (const auto& [key, option] : options_)
    if (option->count() > 0) return true;
  return false;
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
