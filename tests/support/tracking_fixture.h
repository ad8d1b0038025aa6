// TrackingFixture: a real SQLite store, artifact root and tracking service (with MLflow's
// default experiment) in a fresh temporary directory — what the unit tests of the layers
// above the store start from. Construct, then call Open() from the test's SetUp (it uses
// gtest assertions). One test at a time.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "somlier/artifacts/artifact_store.h"
#include "somlier/store/store.h"
#include "somlier/tracking/tracking_service.h"
#include "temp_dir.h"

namespace somlier::testing {

struct TrackingFixture {
  void Open() {
    auto opened = Store::Open("sqlite:///" + dir.file("db.sqlite"));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store = std::move(*opened);
    auto root = ArtifactStore::Open(dir.path() / "artifacts");
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    artifacts = std::move(*root);
    tracking = std::make_unique<TrackingService>(*store, *artifacts);
    ASSERT_TRUE(tracking->EnsureDefaultExperiment().ok());
  }

  TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<ArtifactStore> artifacts;
  std::unique_ptr<TrackingService> tracking;
};

}  // namespace somlier::testing
