#include "simulator/network/demo_fares.h"

#include "simulator/network/demo_fares_files.h"

namespace faregate::simulator {

std::map<std::string, std::string> embedded_demo_fares() {
  std::map<std::string, std::string> files;
  for (const auto& [name, text] : generated::kDemoFaresFiles) files.emplace(name, text);
  return files;
}

}  // namespace faregate::simulator
