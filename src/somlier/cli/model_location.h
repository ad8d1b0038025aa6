// ModelLocation (CLI): where a command that runs a model here (`serve-model`, `offline
// predict`) finds its files — a model directory; or models:/NAME/VERSION, models:/NAME@ALIAS,
// runs:/RUN_ID/PATH in the local artifact store; or, with SOMLIER_SERVER set, downloaded from
// that server (by the somlier Python package) into a private temporary directory that the
// caller removes (RemoveOnExit).
#pragma once

#include <filesystem>
#include <string>

#include "somlier/cli/cli.h"
#include "somlier/core/result.h"

namespace somlier::cli {

struct ServedModel {
  std::filesystem::path directory;
  std::string name;
  std::string version;
  std::filesystem::path temporary;  // a private download's directory, removed after use
};

// Removes a directory when it goes out of scope.
struct RemoveOnExit {
  std::filesystem::path dir;
  ~RemoveOnExit();
};

// Errors: NotFound for a missing model or directory, or a failed download; those of
// RegistryService::LocateModel.
Result<ServedModel> LocateServedModel(const Context& ctx, const std::string& model_uri);

}  // namespace somlier::cli
